"""Watches and feedback over HTTP (TestClient): lifecycle, webhooks posted to 127.0.0.1, auth."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bots.http import create_app
from qa.config import Settings
from qa.engine import Engine
from tests.conftest import SEEDS
from tests.embedders import HashEmbedder

KEY = "s3cret-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
QUESTION = "Who opened the glass museum?"
MUSEUM = {
    "id": "museum",
    "title": "Glass museum opens",
    "text": "The glass museum was opened by Mayor Anna Berg on Friday. Visitors queued for hours.",
    "published": "2024-05-01",
}
RAIN = {"id": "rain", "title": "Rain", "text": "It rained all week in the valley."}


class Receiver:
    """A webhook receiver on 127.0.0.1 that records each POST and answers with ``statuses`` in turn
    (then 200); a path under ``/slow`` waits for ``release`` first."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.statuses = list(statuses or [])
        self.release = threading.Event()
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path.startswith("/slow"):
                    receiver.release.wait(30)
                with receiver.cond:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.posts.append((self.path, body))
                    receiver.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str = "/hook") -> str:
        """The receiver's URL for ``path``."""
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def wait(self, count: int, path: str = "/hook") -> list[dict[str, Any]]:
        """The bodies posted to ``path``, once there are ``count``."""
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.bodies(path)) >= count, timeout=30), self.posts
            return self.bodies(path)

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [b for p, b in self.posts if p == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver, shut down after the test."""
    running = Receiver()
    yield running
    running.release.set()
    running.server.shutdown()
    running.server.server_close()


@contextmanager
def serving(tmp_path: Path, **overrides: Any) -> Iterator[tuple[FastAPI, TestClient, Engine]]:
    """An app over a test-embedder engine whose watches keep every answer; the key is ``KEY``."""
    chosen: dict[str, Any] = {
        "index_dir": tmp_path / "index",
        "seeds_dir": SEEDS,
        "reader": "off",
        "api_key": KEY,
        "rate_limit": 0,
        "watch_min_confidence": "unsure",
        "watch_poll": 3600,  # the tests wake the sender by adding articles
        "fetch_allow_private": True,  # the webhooks' receivers run on 127.0.0.1
    }
    settings = Settings(**(chosen | overrides))
    engine = Engine(settings, embedder=HashEmbedder())
    engine.add_articles(engine.load_upload("rain.json", json.dumps(RAIN).encode())[0])
    app = create_app(settings, engine)
    with TestClient(app, headers=AUTH) as client:
        assert app.state.loader.wait(60)
        yield app, client, engine
    engine.close()


def add(client: TestClient, article: dict[str, Any]) -> None:
    """Upload an article (the server checks the watches and posts their webhooks)."""
    assert client.post("/documents", json=article).status_code == 201


def test_watch_lifecycle(tmp_path: Path) -> None:
    """POST /watches answers the watch with its id; a new article's answer is listed, newest first,
    in the /ask answer shape; DELETE removes the watch and its answers."""
    with serving(tmp_path) as (_, client, _):
        response = client.post("/watches", json={"question": QUESTION})
        assert response.status_code == 201, response.text
        watch = response.json()
        assert watch["question"] == QUESTION and watch["webhook"] is None and watch["id"] >= 1
        assert client.get("/watches").json() == {"watches": [watch]}
        assert client.get(f"/watches/{watch['id']}/answers").json()["answers"] == []
        add(client, MUSEUM)
        found = client.get(f"/watches/{watch['id']}/answers").json()
        assert found["question"] == QUESTION and found["id"] == watch["id"]
        [answer] = found["answers"]
        assert "Anna Berg" in answer["text"] and answer["article"]["id"] == "museum" and answer["found"]
        assert {"text", "span", "score", "confidence", "passage", "article", "also_in"} <= set(answer)
        assert client.delete(f"/watches/{watch['id']}").status_code == 204
        gone = client.get(f"/watches/{watch['id']}/answers")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "watch_not_found"
        assert client.get("/watches").json() == {"watches": []}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"question": "What happened last week?"}, "invalid_watch"),
        ({"question": QUESTION, "webhook": "ftp://127.0.0.1/hook"}, "invalid_watch"),
        ({"question": ""}, "question_empty"),
        ({"question": QUESTION, "chat_id": 5}, "invalid_request"),
    ],
)
def test_bad_watches_are_refused(tmp_path: Path, body: dict[str, Any], code: str) -> None:
    """Time words that never match a new article, a webhook that is no http(s) URL: 422 with a reason."""
    with serving(tmp_path) as (_, client, _):
        response = client.post("/watches", json=body)
        assert response.status_code == 422 and response.json()["error"]["code"] == code


@pytest.mark.parametrize(
    "webhook",
    [
        "http://127.0.0.1:8767/hook",
        "http://localhost:8767/hook",
        "http://[::1]:8767/hook",
    ],
)
def test_webhook_inside_the_network_is_refused_at_creation(tmp_path: Path, webhook: str) -> None:
    """A webhook whose address delivery would refuse is refused when the watch is made, as
    ``POST /feeds`` refuses it: 422 ``address_refused`` naming the URL; no watch is kept."""
    with serving(tmp_path, fetch_allow_private=False) as (_, client, _):
        response = client.post("/watches", json={"question": QUESTION, "webhook": webhook})
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert set(response.json()) == {"error"} and error["code"] == "address_refused"
        assert error["message"].startswith(f"{webhook}: refused: ")
        assert error["message"].endswith("(QA_FETCH_ALLOW_PRIVATE=1 allows such addresses)")
        assert client.get("/watches").json() == {"watches": []}


def test_watch_changes_need_the_key(tmp_path: Path) -> None:
    """Adding and removing watches need the key (401 without it); with no key configured, 403."""
    with serving(tmp_path) as (_, client, _):
        bare = {"Authorization": ""}
        assert client.post("/watches", json={"question": QUESTION}, headers=bare).status_code == 401
        assert client.delete("/watches/1", headers=bare).status_code == 401
        assert client.post("/watches", json={"question": QUESTION}).status_code == 201
    with serving(tmp_path, api_key=None) as (_, client, _):
        response = client.post("/watches", json={"question": QUESTION})
        assert response.status_code == 403 and response.json()["error"]["code"] == "writes_disabled"
        assert client.delete("/watches/1").status_code == 403
        assert len(client.get("/watches").json()["watches"]) == 1


def test_webhook_gets_each_new_answer_once(tmp_path: Path, receiver: Receiver) -> None:
    """The server posts a new answer to the watch's webhook on 127.0.0.1, in the /ask answer shape;
    the same article uploaded again posts nothing more."""
    with serving(tmp_path) as (_, client, engine):
        watch = client.post("/watches", json={"question": QUESTION, "webhook": receiver.url()}).json()
        add(client, MUSEUM)
        [body] = receiver.wait(1)
        assert body["id"] == watch["id"] and body["question"] == QUESTION
        assert "Anna Berg" in body["answers"][0]["text"]
        add(client, MUSEUM)
        assert engine.watching.pending("webhook") == []
        assert len(engine.watching.answers(watch["id"])) == 1
    assert len(receiver.bodies("/hook")) == 1


def test_failing_webhook_is_retried_after_the_next_refresh(
    tmp_path: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    """A webhook answering 500 is logged with the reason and posted again after the next check."""
    receiver.statuses = [500]
    with serving(tmp_path) as (_, client, engine), caplog.at_level(logging.WARNING):
        watch = client.post("/watches", json={"question": QUESTION, "webhook": receiver.url()}).json()
        add(client, MUSEUM)
        receiver.wait(1)
        _wait_for(lambda: engine.watching.answers(watch["id"])[0].tries == 1)
        assert "HTTP 500" in caplog.text
        add(client, RAIN)  # a check adds nothing new: the failed answer is posted again
        [first, again] = receiver.wait(2)
        assert first == again


def test_slow_webhook_delays_no_other(
    tmp_path: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    """While one webhook hangs, another watch's webhook is posted; the slow one times out, logged."""
    with serving(tmp_path, webhook_timeout=0.5) as (_, client, engine), caplog.at_level(logging.WARNING):
        slow = client.post("/watches", json={"question": QUESTION, "webhook": receiver.url("/slow")}).json()
        client.post("/watches", json={"question": QUESTION, "webhook": receiver.url()})
        add(client, MUSEUM)
        receiver.wait(1)  # posted while the slow receiver still holds its request
        _wait_for(lambda: engine.watching.answers(slow["id"])[0].tries == 1)
        receiver.release.set()
        assert "timed out after 0.5 s" in caplog.text


def test_feedback_is_stored_on_the_answer_of_the_last_reply(tmp_path: Path) -> None:
    """POST /feedback stores a vote on an answer of the conversation's last reply; a number the
    reply did not show, or an unknown conversation, is refused."""
    with serving(tmp_path) as (_, client, engine):
        add(client, MUSEUM)
        asked = client.post("/ask", json={"question": QUESTION, "top_k": 1}).json()
        conversation = asked["conversation_id"]
        vote = {"conversation_id": conversation, "answer": 1, "vote": "up", "comment": "right"}
        response = client.post("/feedback", json=vote)
        assert response.status_code == 201, response.text
        stored = response.json()
        assert stored["question"] == QUESTION and stored["vote"] == "up" and stored["answer_number"] == 1
        assert stored["answer"]["text"] == asked["answers"][0]["text"]
        [kept] = engine.feedback.votes()
        assert kept.comment == "right" and kept.channel == "http"
        wrong = client.post("/feedback", json={**vote, "answer": 5})
        assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "invalid_feedback"
        unknown = client.post("/feedback", json={**vote, "conversation_id": "nope"})
        assert unknown.status_code == 404
        bad = client.post("/feedback", json={**vote, "vote": "meh"})
        assert bad.status_code == 422


def test_feedback_later_vote_on_an_answer_replaces_the_earlier_in_the_export(tmp_path: Path) -> None:
    """👎 then 👍 on the same answer (POST /feedback twice) exports it as a gold answer only, and 👎
    again makes it known-wrong only; every vote stays stored."""
    with serving(tmp_path) as (_, client, engine):
        add(client, MUSEUM)
        asked = client.post("/ask", json={"question": QUESTION, "top_k": 1}).json()
        vote = {"conversation_id": asked["conversation_id"], "answer": 1}
        exported = tmp_path / "votes.jsonl"
        answer = asked["answers"][0]
        words = answer["text"][slice(*answer["span"])] if answer["span"] else answer["text"]
        lines = []
        for given in ("down", "up", "down"):
            response = client.post("/feedback", json={**vote, "vote": given, "comment": f"said {given}"})
            assert response.status_code == 201, response.text
            assert engine.feedback.export(exported) == 1
            [line] = [json.loads(x) for x in exported.read_text(encoding="utf-8").splitlines()]
            lines.append(line)
        assert [v.vote for v in engine.feedback.votes()] == ["down", "up", "down"]
        up, down = lines[1], lines[2]
        assert (up["answers"], up["doc_ids"], up["split"]) == ([words], ["museum"], "dev")
        assert (up["wrong_answers"], up["wrong_doc_ids"], up["comments"]) == ([], [], ["said up"])
        assert (down["answers"], down["doc_ids"], down["split"]) == ([], [], "down-only")
        assert (down["wrong_answers"], down["wrong_doc_ids"]) == ([words], ["museum"])
        assert lines[0]["id"] == up["id"] == down["id"]  # the question keeps its line's id


def _wait_for(predicate: Any) -> None:
    """Block until ``predicate()`` holds (the server works on its own threads)."""
    done = threading.Event()
    for _ in range(600):
        if predicate():
            return
        done.wait(0.05)
    raise AssertionError("timed out waiting")
