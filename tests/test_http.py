"""The HTTP API through FastAPI's TestClient: every endpoint and error path, auth on and off."""

from __future__ import annotations

import re
import threading
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from bots.http import create_app, schemas
from qa.config import Settings
from qa.engine import Engine
from qa.models import NOT_FOUND, Answer, AnswerSet, ArticleMeta, DocumentInfo, Feed, Passage
from tests.conftest import SEEDS

# Its module-scoped fixtures are built once: under pytest-xdist the whole module runs on one worker.
pytestmark = pytest.mark.xdist_group("http")

QUESTION = "When did the war start?"
SENTENCE_START = "This war initially started on September 27"
KEY = "s3cret-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
ANSWER_KEYS = {"text", "span", "score", "confidence", "passage", "article", "also_in"}
ARTICLE_KEYS = {"id", "title", "published", "source", "url", "place"}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One real engine (real model, real FAISS) over the seed article, shared by the module."""
    qa_engine = Engine(Settings(index_dir=tmp_path_factory.mktemp("http") / "index"))
    qa_engine.index_paths([SEEDS])
    yield qa_engine
    qa_engine.close()


@contextmanager
def serving(engine: Engine, **overrides: Any) -> Iterator[tuple[FastAPI, TestClient]]:
    """An app over ``engine`` with settings ``overrides``, started and with its index loaded."""
    settings = Settings(index_dir=engine.settings.index_dir, **overrides)
    app = create_app(settings, engine)
    with TestClient(app) as client:
        assert app.state.loader.wait(120)
        yield app, client


@pytest.fixture(scope="module")
def client(engine: Engine) -> Iterator[TestClient]:
    """A client of an app with no API key and no rate limit."""
    with serving(engine, rate_limit=0) as (_, test_client):
        yield test_client


@pytest.fixture(scope="module")
def keyed(engine: Engine) -> Iterator[tuple[FastAPI, TestClient]]:
    """An app that requires the API key."""
    with serving(engine, api_key=KEY, rate_limit=0) as served:
        yield served


def error_of(response: Any, status: int) -> str:
    """The error code of a response in the one error shape, checking its status."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["message"]
    return str(body["error"]["code"])


def test_ask_answers_from_the_seed_article(client: TestClient) -> None:
    """POST /ask quotes the sentence with its span, passage and source."""
    response = client.post("/ask", json={"question": QUESTION})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "question",
        "answers",
        "since",
        "until",
        "conversation_id",
        "remaining",
        "nothing_new",
        "not_found",
    }
    assert body["question"] == QUESTION
    best = body["answers"][0]
    assert set(best) == ANSWER_KEYS and set(best["article"]) == ARTICLE_KEYS
    assert best["text"].startswith(SENTENCE_START)
    start, end = best["span"]
    assert best["text"][start:end] == "September 27"
    assert best["text"] in best["passage"]
    assert best["article"]["source"].endswith("000_30a3e569ce88eb0e.txt")


def test_ask_returns_the_same_json_as_the_core(client: TestClient, engine: Engine) -> None:
    """The answer object is the core's ``AnswerSet.to_dict()`` plus the conversation's keys."""
    body = client.post("/ask", json={"question": QUESTION, "top_k": 2}).json()
    for key in ("conversation_id", "remaining", "nothing_new"):
        del body[key]
    assert body == engine.ask(QUESTION, top_k=2).to_dict()


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside a field's type (``X``, ``X | None``, ``list[X]``), if there is one."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((m for m in map(_model_in, typing.get_args(annotation)) if m is not None), None)


def assert_schema_matches(model: type[BaseModel], data: dict[str, Any]) -> None:
    """``model`` names exactly the keys of ``data``, and so do its nested models, level by level."""
    assert set(model.model_fields) == set(data), model.__name__
    for name, field in model.model_fields.items():
        inner = _model_in(field.annotation)
        values = data[name] if isinstance(data[name], list) else [data[name]]
        for value in values if inner is not None else []:
            assert_schema_matches(inner, value)


def test_response_schemas_match_the_core_json() -> None:
    """The OpenAPI response models restate exactly the keys the core's ``to_dict`` methods write."""
    meta = ArticleMeta("a1", "Ferry resumes", "2020-10-04T17:37:06", "news/ferry.txt", None)
    answer = Answer("The ferry resumed.", (4, 9), 0.8, "The ferry resumed. More.", meta, also_in=(meta,))
    result = AnswerSet("When?", (answer,), more_answers=(answer,))
    passage = Passage(1, "The ferry resumed.", 0.5, meta, ((0, 18),))
    info = DocumentInfo("a1", "Ferry resumes", None, "news/ferry.txt", None, 2, duplicate_of="a0")
    feed = Feed("https://news.example/rss", "rss", "News", "2024-01-01T00:00:00", None, None)
    conversation = {"conversation_id": "c1", "remaining": 1, "nothing_new": False}
    assert_schema_matches(schemas.AskResponse, {**result.to_dict(), **conversation})
    assert_schema_matches(schemas.PassageOut, passage.to_dict())
    assert_schema_matches(schemas.DocumentDetail, {**info.to_dict(), "text": "The ferry resumed."})
    assert_schema_matches(schemas.FeedOut, feed.to_dict())


def test_ask_off_topic_question_has_no_answers(client: TestClient) -> None:
    """A question the archive cannot answer gets an empty list, not an error."""
    response = client.post("/ask", json={"question": "What is the boiling point of mercury?"})
    assert response.status_code == 200
    assert response.json()["answers"] == []


def test_ask_says_not_found_in_the_core_words(client: TestClient) -> None:
    """No answer: ``not_found`` holds the words the CLI and Telegram say (the days named when limited);
    an answer: it is null."""
    missing = client.post("/ask", json={"question": "What is the boiling point of mercury?"}).json()
    assert missing["not_found"] == NOT_FOUND
    limited = client.post(
        "/ask", json={"question": "When did the war start?", "since": "2001-01-01", "until": "2001-01-31"}
    ).json()
    assert limited["answers"] == []
    assert (
        limited["not_found"]
        == "I couldn't find that in the articles published from 2001-01-01 to 2001-01-31."
    )
    assert client.post("/ask", json={"question": QUESTION}).json()["not_found"] is None


def test_ask_follow_up_continues_the_conversation(engine: Engine) -> None:
    """Passing back ``conversation_id`` records the follow-up in the same conversation."""
    with serving(engine, rate_limit=0) as (app, client):
        first = client.post("/ask", json={"question": QUESTION}).json()
        cid = first["conversation_id"]
        second = client.post("/ask", json={"question": "Who fought in it?", "conversation_id": cid})
        assert second.status_code == 200
        assert second.json()["conversation_id"] == cid
        turns = app.state.conversations.store.get(cid).turns
        assert [t.question for t in turns] == [QUESTION, "Who fought in it?"]
        assert turns[1].searched != "Who fought in it?"  # the follow-up was made self-contained
        other = client.post("/ask", json={"question": QUESTION}).json()["conversation_id"]
        assert other != cid


def test_more_answers_continue_the_last_question(engine: Engine) -> None:
    """POST /conversations/{id}/more returns the next answers and how many remain."""
    with serving(engine, rate_limit=0) as (app, client):
        cid = client.post("/ask", json={"question": "Azerbaijan Armenia war", "top_k": 1}).json()[
            "conversation_id"
        ]
        last = app.state.conversations.store.get(cid).last
        pool = [a.to_dict() for a in (*last.answers, *last.more_answers)]
        response = client.post(f"/conversations/{cid}/more", params={"count": 2})
        assert response.status_code == 200
        body = response.json()
        assert body["answers"] == pool[1:3]
        assert body["remaining"] == max(0, len(pool) - 3)
        assert body["conversation_id"] == cid and body["question"] == "Azerbaijan Armenia war"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/conversations/never-seen/more", 404, "conversation_not_found"),
        ("/conversations/bad%20id!/more", 422, "invalid_request"),
        ("/conversations/x/more?count=0", 422, "invalid_request"),
    ],
)
def test_more_answers_errors(client: TestClient, path: str, status: int, code: str) -> None:
    """Unknown conversations and bad parameters are refused in the error shape."""
    assert error_of(client.post(path), status) == code


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"question": ""}, "question_empty"),
        ({"question": "x" * 1001}, "question_too_long"),
        ({"question": "   \t "}, "question_empty"),
        ({}, "invalid_request"),
        ({"question": QUESTION, "top_k": 0}, "invalid_request"),
        ({"question": QUESTION, "top_k": 51}, "invalid_request"),
        ({"question": QUESTION, "conversation_id": "../etc"}, "invalid_request"),
        ({"question": QUESTION, "unexpected": 1}, "invalid_request"),
        ({"question": 42}, "invalid_request"),
    ],
)
def test_ask_rejects_bad_requests(client: TestClient, body: dict[str, Any], code: str) -> None:
    """Bad questions and fields get a 422 with a readable message."""
    assert error_of(client.post("/ask", json=body), 422) == code


def test_ask_rejects_invalid_json(client: TestClient) -> None:
    """A body that is not JSON is a 422 ``invalid_json``."""
    response = client.post("/ask", content=b'{"question": ', headers={"Content-Type": "application/json"})
    assert error_of(response, 422) == "invalid_json"


def test_question_limit_follows_the_settings(engine: Engine) -> None:
    """QA_MAX_QUESTION_CHARS bounds the question in the schema and in OpenAPI."""
    with serving(engine, max_question_chars=20) as (_, client):
        message = client.post("/ask", json={"question": "x" * 21}).json()["error"]["message"]
        assert "20 characters" in message
        schema = client.get("/openapi.json").json()["components"]["schemas"]["AskRequest"]
        assert schema["properties"]["question"]["maxLength"] == 20


def test_search_returns_ranked_passages(client: TestClient) -> None:
    """GET /search gives at most k passages, best first, with article metadata."""
    response = client.get("/search", params={"q": "war Azerbaijan Armenia", "k": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "war Azerbaijan Armenia"
    passages = body["passages"]
    assert 1 <= len(passages) <= 3
    assert [p["score"] for p in passages] == sorted((p["score"] for p in passages), reverse=True)
    assert set(passages[0]) == {"text", "score", "article"}
    assert set(passages[0]["article"]) == ARTICLE_KEYS


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "war", "k": 0}, {"q": "war", "k": 51}])
def test_search_rejects_bad_parameters(client: TestClient, params: dict[str, Any]) -> None:
    """Missing or out-of-range search parameters are a 422."""
    assert error_of(client.get("/search", params=params), 422) == "invalid_request"


def test_documents_are_listed_in_pages(client: TestClient, engine: Engine) -> None:
    """GET /documents pages through the index and reports the total."""
    body = client.get("/documents", params={"offset": 0, "limit": 1}).json()
    total = engine.stats()["articles"]
    assert body["offset"] == 0 and body["limit"] == 1 and body["total"] == total
    assert len(body["documents"]) == 1
    assert body["documents"][0]["chunks"] >= 1
    beyond = client.get("/documents", params={"offset": total}).json()
    assert beyond["documents"] == []
    assert error_of(client.get("/documents", params={"limit": 0}), 422) == "invalid_request"


def test_document_is_returned_with_its_text(client: TestClient) -> None:
    """GET /documents/{id} gives the metadata and the full text; unknown ids are a 404."""
    doc_id = client.get("/documents").json()["documents"][0]["id"]
    body = client.get(f"/documents/{doc_id}").json()
    assert body["id"] == doc_id
    assert SENTENCE_START in body["text"]
    assert error_of(client.get("/documents/no-such-id"), 404) == "document_not_found"


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/documents"), ("DELETE", "/documents/anything")],
)
def test_writes_are_refused_without_a_configured_key(client: TestClient, method: str, path: str) -> None:
    """With no QA_API_KEY, document changes are a 403 even with some bearer token."""
    response = client.request(method, path, json={"text": "x"}, headers=AUTH)
    assert error_of(response, 403) == "writes_disabled"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/ask"),
        ("GET", "/search?q=war"),
        ("GET", "/documents"),
        ("GET", "/documents/x"),
        ("POST", "/documents"),
        ("DELETE", "/documents/x"),
        ("POST", "/conversations/x/more"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}, {"Authorization": f"Basic {KEY}"}],
)
def test_key_is_required_when_configured(
    keyed: tuple[FastAPI, TestClient], method: str, path: str, headers: dict[str, str]
) -> None:
    """With QA_API_KEY set, every endpoint but /health needs the bearer key (401)."""
    _, client = keyed
    response = client.request(method, path, json={"question": QUESTION}, headers=headers)
    assert error_of(response, 401) == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"


KEY_ASKED = "This service needs an API key: send 'Authorization: Bearer <key>'."


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, KEY_ASKED),
        ({"Authorization": f"Basic {KEY}"}, KEY_ASKED),
        ({"Authorization": "Bearer "}, KEY_ASKED),
        ({"Authorization": "Bearer wrong"}, "The API key sent is not the right one."),
        ({"Authorization": f"Bearer {KEY}x"}, "The API key sent is not the right one."),
    ],
)
def test_wrong_key_is_told_from_a_missing_one(
    keyed: tuple[FastAPI, TestClient], headers: dict[str, str], message: str
) -> None:
    """A request that sends a wrong key is told so, not asked for a key it sent (both 401)."""
    _, client = keyed
    response = client.get("/documents", headers=headers)
    assert error_of(response, 401) == "unauthorized"
    assert response.json()["error"]["message"] == message


@pytest.mark.parametrize("path", ["/health", "/", "/static/app.js"])
def test_health_and_page_need_no_key(keyed: tuple[FastAPI, TestClient], path: str) -> None:
    """The health probe and the static chat page are public."""
    _, client = keyed
    assert client.get(path).status_code == 200


def test_reads_work_with_the_key(keyed: tuple[FastAPI, TestClient]) -> None:
    """The right bearer key opens the API."""
    _, client = keyed
    response = client.post("/ask", json={"question": QUESTION}, headers=AUTH)
    assert response.status_code == 200
    assert response.json()["answers"][0]["text"].startswith(SENTENCE_START)
    assert client.get("/openapi.json", headers=AUTH).status_code == 200


def test_json_article_is_added_answered_and_deleted(keyed: tuple[FastAPI, TestClient]) -> None:
    """A posted article answers the next question; once deleted it no longer does."""
    _, client = keyed
    article = {
        "title": "Glass harbour festival",
        "text": "The Glass Harbour Festival was first held in 1987 in the town of Vellmoor. "
        "It celebrates glassblowers from the northern coast.",
        "published": "2021-05-02T10:00:00",
    }
    response = client.post("/documents", json=article, headers=AUTH)
    assert response.status_code == 201, response.text
    added = response.json()
    assert added["chunks_embedded"] >= 1 and added["skipped"] == []
    (doc_id,) = added["added"]
    question = {"question": "When was the Glass Harbour Festival first held?"}
    best = client.post("/ask", json=question, headers=AUTH).json()["answers"][0]
    assert best["article"]["id"] == doc_id and "1987" in best["text"]
    assert client.get(f"/documents/{doc_id}", headers=AUTH).json()["title"] == "Glass harbour festival"

    assert client.delete(f"/documents/{doc_id}", headers=AUTH).status_code == 204
    after = client.post("/ask", json=question, headers=AUTH).json()["answers"]
    assert all(a["article"]["id"] != doc_id for a in after)
    assert error_of(client.get(f"/documents/{doc_id}", headers=AUTH), 404) == "document_not_found"
    assert error_of(client.delete(f"/documents/{doc_id}", headers=AUTH), 404) == "document_not_found"


def test_uploaded_file_name_never_chooses_a_path(keyed: tuple[FastAPI, TestClient], tmp_path: Path) -> None:
    """An upload named ``../../x/notes.md`` is parsed by suffix and labelled by its base name only."""
    _, client = keyed
    body = b"# Lighthouse keepers\n\nThe Vellmoor lighthouse was automated in 1994.\n"
    files = {"file": ("../../escape/notes.md", body, "text/markdown")}
    response = client.post("/documents", files=files, headers=AUTH)
    assert response.status_code == 201, response.text
    (doc_id,) = response.json()["added"]
    info = client.get(f"/documents/{doc_id}", headers=AUTH).json()
    assert info["source"] == "upload:notes.md"
    assert info["title"] == "Lighthouse keepers"
    assert not (tmp_path.parent.parent / "escape").exists() and not Path("../escape").exists()
    assert client.delete(f"/documents/{doc_id}", headers=AUTH).status_code == 204


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"files": {"file": ("report.pdf", b"%PDF-1.4", "application/pdf")}}, 422, "invalid_document"),
        ({"files": {"other": ("a.txt", b"text", "text/plain")}}, 422, "missing_file"),
        ({"data": {"file": "not a file"}}, 415, "unsupported_media_type"),
        ({"content": b"plain", "headers": {"Content-Type": "text/plain"}}, 415, "unsupported_media_type"),
        ({"json": {"title": "no text"}}, 422, "invalid_request"),
        ({"json": {"text": "x", "colour": "red"}}, 422, "invalid_request"),
        ({"content": b"{oops", "headers": {"Content-Type": "application/json"}}, 422, "invalid_json"),
    ],
)
def test_bad_documents_are_refused(
    keyed: tuple[FastAPI, TestClient], kwargs: dict[str, Any], status: int, code: str
) -> None:
    """Unreadable uploads and malformed articles get a 4xx in the error shape."""
    _, client = keyed
    headers = {**AUTH, **kwargs.pop("headers", {})}
    assert error_of(client.post("/documents", headers=headers, **kwargs), status) == code


def test_request_body_over_the_limit_is_refused(engine: Engine) -> None:
    """QA_MAX_UPLOAD_BYTES bounds declared and streamed (chunked) bodies alike: 413."""
    with serving(engine, max_upload_bytes=2000, api_key=KEY, rate_limit=0) as (_, client):
        big = {"question": QUESTION, "pad": "x" * 5000}
        assert error_of(client.post("/ask", json=big, headers=AUTH), 413) == "payload_too_large"

        def chunks() -> Iterator[bytes]:
            yield b'{"text": "'
            for _ in range(10):
                yield b"y" * 500
            yield b'"}'

        streamed = client.post(
            "/documents", content=chunks(), headers={**AUTH, "Content-Type": "application/json"}
        )
        assert "content-length" not in streamed.request.headers
        assert error_of(streamed, 413) == "payload_too_large"
        upload = {"file": ("big.txt", b"z " * 2000, "text/plain")}
        assert error_of(client.post("/documents", files=upload, headers=AUTH), 413) == "payload_too_large"
        assert client.post("/ask", json={"question": QUESTION}, headers=AUTH).status_code == 200


def test_rate_limit_applies_per_client(engine: Engine) -> None:
    """Past QA_RATE_LIMIT requests a minute a client gets 429 with Retry-After; /health and the chat
    page with its files are exempt."""
    with serving(engine, rate_limit=3) as (_, client):
        statuses = [client.get("/documents").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = client.get("/search", params={"q": "war"})
        assert error_of(refused, 429) == "rate_limited"
        assert int(refused.headers["Retry-After"]) >= 1
        assert client.get("/health").status_code == 200
        for _ in range(3):  # the chat page and its files: one page load is no question
            assert [client.get(path).status_code for path in ("/", "/static/app.js", "/static/app.css")] == [
                200
            ] * 3


def test_cors_is_off_by_default(client: TestClient) -> None:
    """Without QA_CORS_ORIGINS no CORS header is sent."""
    response = client.get("/health", headers={"Origin": "https://example.org"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_allows_configured_origins(engine: Engine) -> None:
    """Configured origins pass the preflight (before auth); others do not."""
    with serving(engine, cors_origins="https://example.org, https://b.example", api_key=KEY) as (_, client):
        preflight = {
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        }
        response = client.options("/ask", headers=preflight)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "https://example.org"
        denied = client.options("/ask", headers={**preflight, "Origin": "https://evil.example"})
        assert denied.status_code == 400
        assert "access-control-allow-origin" not in denied.headers


def test_health_reports_the_index_size(client: TestClient, engine: Engine) -> None:
    """GET /health is 200 with article and chunk counts once the index is loaded."""
    body = client.get("/health").json()
    assert body == {"status": "ok", **engine.stats()}


def health_error_of(response: Any) -> tuple[str, str]:
    """A 503 health body's status and error code (the one error shape plus ``status``)."""
    assert response.status_code == 503, response.text
    body = response.json()
    assert set(body) == {"status", "error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["message"]
    return str(body["status"]), str(body["error"]["code"])


def test_health_is_503_before_the_index_is_loaded(engine: Engine) -> None:
    """Before startup has loaded the index and models, health says it is warming up and queries
    answer 503 ``loading``."""
    app = create_app(Settings(index_dir=engine.settings.index_dir), engine)
    client = TestClient(app)  # not entered: the lifespan (and so loading) never starts
    health = client.get("/health")
    assert health_error_of(health) == ("warming up", "loading")
    assert health.headers["Retry-After"] == "5"
    response = client.post("/ask", json={"question": QUESTION})
    assert error_of(response, 503) == "loading"
    assert response.headers["Retry-After"] == "5"


def test_health_is_503_without_an_index(engine: Engine, tmp_path: Path) -> None:
    """With no index and no seeds, health and questions say so (503 ``no_index``)."""
    settings = Settings(index_dir=tmp_path / "index", seeds_dir=None)
    empty = Engine(settings, embedder=engine.embedder)
    with TestClient(create_app(settings, empty)) as client:
        assert client.app.state.loader.wait(60)  # type: ignore[attr-defined]
        assert health_error_of(client.get("/health")) == ("unavailable", "no_index")
        assert error_of(client.post("/ask", json={"question": QUESTION}), 503) == "no_index"


def test_metrics_count_requests_and_index_size(engine: Engine) -> None:
    """GET /metrics is Prometheus text with request counts by route, latency and index size."""
    with serving(engine, rate_limit=0) as (_, client):
        client.post("/ask", json={"question": QUESTION})
        client.get("/documents/no-such-id")
        client.get("/nowhere")
        response = client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        text = response.text
        assert 'qa_http_requests_total{method="POST",path="/ask",status="200"} 1.0' in text
        assert 'path="/documents/{doc_id}",status="404"' in text
        assert 'path="<unmatched>",status="404"' in text
        assert 'qa_http_request_duration_seconds_bucket{le="+Inf",path="/ask"} 1.0' in text
        assert f"qa_index_articles {float(engine.stats()['articles'])}" in text
        assert "qa_index_chunks " in text


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [("GET", "/nowhere", 404, "not_found"), ("PUT", "/ask", 405, "method_not_allowed")],
)
def test_unknown_routes_use_the_error_shape(
    client: TestClient, method: str, path: str, status: int, code: str
) -> None:
    """Routing errors come in the same JSON shape."""
    assert error_of(client.request(method, path), status) == code


def test_chat_page_is_served_with_a_strict_policy(client: TestClient) -> None:
    """GET / serves the chat page with a same-origin Content-Security-Policy; assets are served."""
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert 'id="question"' in page.text and "/static/app.js" in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # nothing fetched from elsewhere
    for asset, kind in [("/static/app.js", "javascript"), ("/static/app.css", "text/css")]:
        response = client.get(asset)
        assert response.status_code == 200 and kind in response.headers["content-type"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_openapi_describes_every_endpoint(client: TestClient) -> None:
    """OpenAPI at /openapi.json lists the endpoints with typed bodies; /docs renders."""
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in ["/ask", "/search", "/documents", "/documents/{doc_id}", "/health", "/metrics"]:
        assert path in paths
    assert "/conversations/{conversation_id}/more" in paths
    assert set(paths["/documents"]["post"]["requestBody"]["content"]) == {
        "application/json",
        "multipart/form-data",
    }
    assert "AskResponse" in schema["components"]["schemas"]
    assert client.get("/docs").status_code == 200


# Where an HTML page or stylesheet makes the browser fetch or go: src/href attributes, CSS url(),
# and the URLs Swagger UI is configured with (url: '...').
_REFERENCE = re.compile(
    r"""(?:src|href|action)\s*=\s*["']([^"']*)["']|url\(\s*["']?([^"')]+)|\burl:\s*["']([^"']+)"""
)
_OTHER_HOST = re.compile(r"(?:https?:)?//[\w.-]+", re.IGNORECASE)


def test_no_page_references_another_host(client: TestClient) -> None:
    """The chat page and /docs, and every file they load, reference nothing but this server."""
    pending, seen = ["/", "/docs"], set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path)
        assert response.status_code == 200, path
        kind = response.headers["content-type"]
        if not kind.startswith(("text/html", "text/css")):
            continue
        for match in _REFERENCE.finditer(response.text):
            target = next(g for g in match.groups() if g is not None).strip()
            assert not _OTHER_HOST.match(target), f"{path} references {target}"
            if target.startswith("/") and not target.startswith("//"):
                pending.append(target.split("#")[0].split("?")[0])
    assert {"/static/app.js", "/static/app.css", "/openapi.json"} <= seen
    assert any(p.endswith("swagger-ui-bundle.js") for p in seen), seen
    for own in ("/static/app.js", "/static/app.css"):
        assert not re.search(r"https?://", client.get(own).text), own
    assert client.get("/redoc").status_code == 404  # ReDoc would load from a CDN


def test_queries_run_while_documents_change(keyed: tuple[FastAPI, TestClient]) -> None:
    """Concurrent questions all succeed while an article is added and removed."""
    _, client = keyed
    results: list[int] = []
    lock = threading.Lock()

    def ask_a_few() -> None:
        for _ in range(3):
            status = client.post("/ask", json={"question": QUESTION}, headers=AUTH).status_code
            with lock:
                results.append(status)

    threads = [threading.Thread(target=ask_a_few) for _ in range(4)]
    for thread in threads:
        thread.start()
    article = {
        "id": "concurrent-1",
        "title": "Meanwhile",
        "text": "Nothing happened on the quiet pier today.",
    }
    assert client.post("/documents", json=article, headers=AUTH).status_code == 201
    assert client.delete("/documents/concurrent-1", headers=AUTH).status_code == 204
    for thread in threads:
        thread.join(120)
    assert results == [200] * 12


def test_ask_says_how_sure_and_whether_there_are_more(client: TestClient, engine: Engine) -> None:
    """POST /ask gives each answer's confidence word and how many more answers there are."""
    body = client.post("/ask", json={"question": QUESTION, "top_k": 1}).json()
    core = engine.ask(QUESTION, top_k=1)
    assert body["remaining"] == len(core.more_answers) and body["nothing_new"] is False
    assert body["answers"][0]["confidence"] == core.answers[0].confidence


def test_archive_gives_the_page_an_example_from_the_archive(client: TestClient, engine: Engine) -> None:
    """GET /archive names the newest article, so the page's example is the user's own."""
    body = client.get("/archive").json()
    newest = engine.document_page(0, 1, order="date")[0][0]
    assert body == {**engine.stats(), "example_title": newest.title}
