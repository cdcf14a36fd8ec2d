"""Time and duplicate stories over HTTP: since, until, as_of on /ask; since, until on /search; also_in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa.engine import Engine
from tests.test_http import error_of, serving

# Its module-scoped fixtures are built once: under pytest-xdist the whole module runs on one worker.
pytestmark = pytest.mark.xdist_group("http-time")


@pytest.fixture(scope="module")
def client(news_engine: Engine) -> Iterator[TestClient]:
    """A client of an app over the dated archive of tests/news.py."""
    with serving(news_engine, rate_limit=0) as (_, test_client):
        yield test_client


def test_ask_reads_time_in_the_question_as_of_a_day(client: TestClient) -> None:
    """POST /ask with as_of: the phrase's period limits the articles, and the response names it."""
    body = client.post(
        "/ask", json={"question": "What did engineers find in the bridge yesterday?", "as_of": "2005-06-15"}
    ).json()
    assert (body["since"], body["until"]) == ("2005-06-14", "2005-06-14")
    assert {a["article"]["id"] for a in body["answers"]} == {"bridge-closed"}


def test_ask_filters_by_since_and_until(client: TestClient) -> None:
    """since and until (inclusive) limit the articles answered from."""
    body = client.post(
        "/ask",
        json={"question": "How much did the bridge cost?", "since": "2004-01-01", "until": "2004-12-31"},
    ).json()
    assert (body["since"], body["until"]) == ("2004-01-01", "2004-12-31")
    assert [a["article"]["id"] for a in body["answers"]][:1] == ["council-plan"]
    assert {a["article"]["id"] for a in body["answers"]} == {"council-plan"}


def test_ask_lists_the_other_copies_of_a_story(client: TestClient) -> None:
    """An answer from a story published twice cites one copy and lists the other in also_in."""
    body = client.post(
        "/ask", json={"question": "How much did the bridge cost in March 2005?", "as_of": "2005-06-15"}
    )
    first = body.json()["answers"][0]
    assert "40 million" in first["text"]
    assert {first["article"]["id"], *(a["id"] for a in first["also_in"])} == {
        "bridge-opened",
        "bridge-opened-wire",
    }
    assert set(first["also_in"][0]) == {"id", "title", "published", "source", "url", "place"}


@pytest.mark.parametrize(
    "fields",
    [
        {"since": "2005-13-01"},
        {"until": "14/02/2005"},
        {"as_of": "yesterday"},
        {"since": "2005-03-01", "until": "2005-02-01"},
    ],
)
def test_ask_refuses_bad_dates(client: TestClient, fields: dict[str, Any]) -> None:
    """A date that is not YYYY-MM-DD, or since after until, is a 422 in the one error shape."""
    response = client.post("/ask", json={"question": "How much did the bridge cost?", **fields})
    assert error_of(response, 422) in ("invalid_request", "invalid_question")


def test_search_filters_by_since_and_until(client: TestClient) -> None:
    """GET /search with since/until returns passages of articles published in those days only."""
    body = client.get("/search", params={"q": "bridge", "since": "2005-03-01", "until": "2005-03-31"}).json()
    assert body["passages"]
    assert {p["article"]["published"][:7] for p in body["passages"]} == {"2005-03"}
    assert (body["since"], body["until"]) == ("2005-03-01", "2005-03-31")  # the days searched, as /ask says
    assert error_of(client.get("/search", params={"q": "bridge", "since": "March"}), 422) == "invalid_request"
    # Relative words limit a search too, and the reply says to which days (none here: it is 2026).
    recent = client.get("/search", params={"q": "bridge closed recently"}).json()
    assert recent["passages"] == [] and recent["since"] is not None and recent["until"] is not None
    plain = client.get("/search", params={"q": "bridge"}).json()
    assert plain["since"] is None and plain["until"] is None


def test_documents_mark_duplicates(client: TestClient) -> None:
    """GET /documents names the original of a re-published story."""
    documents = client.get("/documents").json()["documents"]
    marks = {d["id"]: d["duplicate_of"] for d in documents}
    assert marks["bridge-opened-wire"] == "bridge-opened" and marks["bridge-opened"] is None
