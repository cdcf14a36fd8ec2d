"""Feeds over HTTP (GET, POST, DELETE /feeds) and the background refresh of `qa serve --refresh`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bots.http import create_app
from qa.config import Settings
from qa.engine import Engine
from tests.conftest import SEEDS
from tests.web_site import Site, publish, rss

KEY = "feed-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@contextmanager
def serving(engine: Engine, **overrides: Any) -> Iterator[TestClient]:
    """A started app over ``engine`` with its index loaded (the seed article, as a served archive)."""
    engine.index_paths([SEEDS])  # a chosen index directory is built by `qa index`, never by itself
    app = create_app(Settings(index_dir=engine.settings.index_dir, rate_limit=0, **overrides), engine)
    with TestClient(app) as client:
        assert app.state.loader.wait(60)
        yield client


def error_code(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["error"]["code"])


def test_feeds_are_added_listed_and_removed(web_engine: Engine, site: Site) -> None:
    """POST /feeds registers a feed and reads its articles (201; 200 for one registered already); GET
    lists it; DELETE (body or ?url=) drops it."""
    url = publish(site)
    with serving(web_engine, api_key=KEY) as client:
        before = client.get("/health").json()["articles"]
        response = client.post("/feeds", json={"url": url}, headers=AUTH)
        assert response.status_code == 201, response.text
        assert response.json()["url"] == url and response.json()["kind"] == "rss"
        assert client.get("/health").json()["articles"] == before + 2  # read right after the response
        (listed,) = client.get("/feeds", headers=AUTH).json()["feeds"]
        assert listed["title"] == "The Gazette" and listed["polled"] is not None and listed["error"] is None
        again = client.post("/feeds", json={"url": url}, headers=AUTH)  # already registered: 200, not 201
        assert again.status_code == 200 and again.json()["url"] == url
        assert len(client.get("/feeds", headers=AUTH).json()["feeds"]) == 1

        assert client.request("DELETE", "/feeds", json={"url": url}, headers=AUTH).status_code == 204
        assert client.get("/feeds", headers=AUTH).json() == {"feeds": []}
        client.post("/feeds", json={"url": url}, headers=AUTH)
        assert client.delete("/feeds", params={"url": url}, headers=AUTH).status_code == 204
        assert error_code(client.delete("/feeds", params={"url": url}, headers=AUTH), 404) == "feed_not_found"
        assert error_code(client.delete("/feeds", headers=AUTH), 422) == "missing_url"


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("/news/bridge.html", "invalid_document"),
        ("/nothing.xml", "fetch_failed"),
        ("ftp://x/", "fetch_failed"),
    ],
)
def test_posting_something_else_is_refused(web_engine: Engine, site: Site, url: str, code: str) -> None:
    """A page that is no feed, a missing URL and another scheme are 422s; nothing is registered."""
    publish(site)
    with serving(web_engine, api_key=KEY) as client:
        target = site.url(url) if url.startswith("/") else url
        assert error_code(client.post("/feeds", json={"url": target}, headers=AUTH), 422) == code
        assert client.get("/feeds", headers=AUTH).json() == {"feeds": []}


def test_feed_changes_need_the_key(web_engine: Engine, site: Site) -> None:
    """Without QA_API_KEY, POST and DELETE /feeds are 403; with it, the key is required (401)."""
    url = publish(site)
    with serving(web_engine) as client:
        assert client.get("/feeds").status_code == 200
        assert error_code(client.post("/feeds", json={"url": url}), 403) == "writes_disabled"
        assert error_code(client.delete("/feeds", params={"url": url}), 403) == "writes_disabled"
    with serving(web_engine, api_key=KEY) as client:
        assert error_code(client.get("/feeds"), 401) == "unauthorized"
        assert error_code(client.post("/feeds", json={"url": url}), 401) == "unauthorized"
    assert site.hits("/rss.xml") == []


def test_serve_refreshes_feeds_in_the_background(web_engine: Engine, site: Site) -> None:
    """With QA_REFRESH (``qa serve --refresh``), a new feed item is indexed without any request."""
    url = publish(site)
    web_engine.add_feed(url)
    with serving(web_engine, refresh="0.2s") as client:
        deadline = time.monotonic() + 30
        while client.get("/health").json()["articles"] < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.get("/health").json()["articles"] == 3  # the seed article and two items
        items = [
            ("Glass museum opens", "/news/museum.html", None),
            ("Ferry strike ends", "/news/ferry.html", None),
        ]
        site.put("/rss.xml", rss("The Gazette", items), content_type="application/rss+xml")
        while client.get("/health").json()["articles"] < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        titles = {d["title"] for d in client.get("/documents").json()["documents"]}
        assert "Glass museum opens" in titles
