"""Documents over HTTP as a client meets them: skipped lines named, ids with "/", messages as written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from bots.http import create_app
from qa.config import Settings
from qa.engine import Engine
from tests.conftest import serve_in_thread

KEY = "doc-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
RAIN = {"id": "rain", "title": "Rain", "text": "It rained all week in the valley."}


def settings_of(engine: Engine) -> Settings:
    """The served settings: the key ``KEY``, no rate limit, the server's address rules."""
    return Settings(index_dir=engine.settings.index_dir, reader="off", api_key=KEY, rate_limit=0)


@contextmanager
def serving(engine: Engine) -> Iterator[TestClient]:
    """A started app over ``engine`` (one article indexed), its index loaded."""
    engine.add_articles(engine.load_upload("rain.json", json.dumps(RAIN).encode())[0])
    app = create_app(settings_of(engine), engine)
    with TestClient(app, headers=AUTH) as client:
        assert app.state.loader.wait(60)
        yield client


def error_of(response: Any, status: int) -> tuple[str, str]:
    """The code and message of an error response, checking its status and shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return str(body["error"]["code"]), str(body["error"]["message"])


def test_upload_names_each_skipped_line(hash_engine: Engine) -> None:
    """A .jsonl upload with bad lines adds the good ones and names each bad one (file:line, why)."""
    lines = [json.dumps({"text": "One story."}), "not json", json.dumps({"title": "no text"}), "", "{}"]
    lines.append(json.dumps({"text": "Two stories."}))
    with serving(hash_engine) as client:
        upload = {"file": ("notes.jsonl", "\n".join(lines).encode(), "application/x-ndjson")}
        response = client.post("/documents", files=upload)
        assert response.status_code == 201, response.text
        body = response.json()
        assert len(body["added"]) == 2
        assert body["skipped"] == [
            {"place": "notes.jsonl:2", "reason": "invalid JSON (Expecting value)"},
            {"place": "notes.jsonl:3", "reason": "missing or empty 'text'"},
            {"place": "notes.jsonl:5", "reason": "missing or empty 'text'"},
        ]


@pytest.mark.parametrize(
    ("request_", "status", "code", "message"),
    [
        pytest.param(
            {"method": "POST", "url": "/documents", "files": {"file": ("article.json", b'{"title": "x"}')}},
            422,
            "invalid_document",
            "article.json: missing or empty 'text'",
            id="json-object",
        ),
        pytest.param(
            {"method": "POST", "url": "/documents", "json": {"text": "A story.", "published": "yesterday"}},
            422,
            "invalid_document",
            "the posted article: unreadable date 'yesterday' (write 2005-03-14, 2005-03-14T09:30:00 or an "
            "RFC 2822 date)",
            id="posted-article-bad-date",
        ),
        pytest.param(
            {"method": "POST", "url": "/documents", "files": {"file": ("n.json", b'[{}, {"title": "x"}]')}},
            422,
            "invalid_document",
            "n.json: no valid articles (missing or empty 'text')",
            id="json-array-without-articles",
        ),
        pytest.param(
            {"method": "POST", "url": "/documents", "files": {"file": ("bad.jsonl", b"nope\n")}},
            422,
            "invalid_document",
            "bad.jsonl: no valid article lines (invalid JSON (Expecting value))",
            id="jsonl-without-articles",
        ),
        pytest.param(
            {"method": "POST", "url": "/feeds", "json": {"url": "ftp://x/feed"}},
            422,
            "fetch_failed",
            "ftp://x/feed: only http:// and https:// URLs are fetched",
            id="feed-scheme",
        ),
        pytest.param(
            {"method": "POST", "url": "/watches", "json": {"question": "Rain?", "webhook": "ftp://x/hook"}},
            422,
            "invalid_watch",
            "The webhook ftp://x/hook is refused: only http:// and https:// URLs are fetched",
            id="webhook-scheme",
        ),
        pytest.param(
            {"method": "DELETE", "url": "/feeds", "params": {"url": "http://127.0.0.1:9/feed.xml"}},
            404,
            "feed_not_found",
            "No feed 'http://127.0.0.1:9/feed.xml' is registered (see GET /feeds).",
            id="unknown-feed",
        ),
    ],
)
def test_error_messages_keep_names_and_urls_as_written(
    hash_engine: Engine, request_: dict[str, Any], status: int, code: str, message: str
) -> None:
    """An error names the file the client sent and its URLs as written (never capitalised), in
    sentences, and points to the API, not the command line."""
    with serving(hash_engine) as client:
        assert error_of(client.request(**request_), status) == (code, message)


def test_refused_feed_address_keeps_its_url(hash_engine: Engine) -> None:
    """A feed on loopback is refused before any connection, its message opening with the URL as sent."""
    with serving(hash_engine) as client:
        code, message = error_of(client.post("/feeds", json={"url": "http://127.0.0.1:9/feed.xml"}), 422)
        assert code == "address_refused" and message.startswith("http://127.0.0.1:9/")


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("POST", "/ask", "question"),
        ("POST", "/watches", "question"),
        ("POST", "/documents", "text"),
        ("GET", "/search", "q"),
    ],
)
@pytest.mark.parametrize("blank", [" ", "  \t\n "])
def test_blank_is_refused_as_empty(
    hash_engine: Engine, method: str, path: str, field: str, blank: str
) -> None:
    """Whitespace alone gets the very error (code and message) that an empty value gets."""
    with serving(hash_engine) as client:

        def sent(value: str) -> Any:
            if method == "GET":
                return client.get(path, params={field: value})
            return client.post(path, json={field: value})

        assert error_of(sent(blank), 422) == error_of(sent(""), 422)


def test_document_id_with_slashes_is_reachable(hash_engine: Engine) -> None:
    """An article posted with an id holding "/", ".." and a space is read and removed through a real
    uvicorn at its percent-encoded id."""
    hash_engine.add_articles(hash_engine.load_upload("rain.json", json.dumps(RAIN).encode())[0])
    served = contextmanager(serve_in_thread)(settings_of(hash_engine), hash_engine)
    with served as base, httpx.Client(base_url=base, headers=AUTH, timeout=60) as client:
        posted = client.post("/documents", json={"text": "A story about ports.", "id": "../x y/z"})
        assert posted.status_code == 201 and posted.json()["added"] == ["../x y/z"], posted.text
        path = "/documents/..%2Fx%20y%2Fz"
        got = client.get(path)
        assert got.status_code == 200, got.text
        assert got.json()["id"] == "../x y/z" and got.json()["text"] == "A story about ports."
        assert client.delete(path).status_code == 204
        assert error_of(client.get(path), 404)[0] == "document_not_found"
        assert client.get("/documents/rain").json()["id"] == "rain"
