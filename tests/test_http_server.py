"""A real ``qa serve`` process: it builds the index from the seeds, then answers over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import free_port, stop, wait_until_healthy

# Its module-scoped fixtures are built once: under pytest-xdist the whole module runs on one worker.
pytestmark = pytest.mark.xdist_group("http-server")

QUESTION = "When did the war start?"


@pytest.fixture(scope="module")
def warming_up() -> list[httpx.Response]:
    """The /health answers ``server`` got before its first 200."""
    return []


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, warming_up: list[httpx.Response]) -> Iterator[str]:
    """``python -m bots.cli serve`` on a free port with a fresh index directory; yields its base URL."""
    root = tmp_path_factory.mktemp("serve")
    port = free_port()
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(root),  # the default index location, which builds itself from seeds/
        "HF_HUB_OFFLINE": "1",
        "QA_RATE_LIMIT": "0",
    }
    env.pop("QA_API_KEY", None)
    env.pop("QA_INDEX_DIR", None)
    log = root / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bots.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, process, log, before=warming_up)
        yield base
    finally:
        stop(process)


def test_serve_answers_the_curl_example(server: str) -> None:
    """POST /ask on the real server answers from the seed article it indexed at startup."""
    health = httpx.get(f"{server}/health").json()
    assert health["status"] == "ok" and health["articles"] >= 1 and health["chunks"] >= 1
    response = httpx.post(f"{server}/ask", json={"question": QUESTION}, timeout=60)
    assert response.status_code == 200
    best = response.json()["answers"][0]
    assert best["text"].startswith("This war initially started on September 27")
    assert best["text"][best["span"][0] : best["span"][1]] == "September 27"


def test_serve_says_it_is_warming_up_until_ready(server: str, warming_up: list[httpx.Response]) -> None:
    """While the index is built and the models load, /health is a 503 that says ``warming up``."""
    assert warming_up, "no /health answer before the server was ready"
    assert {(r.status_code, r.json()["status"], r.headers["Retry-After"]) for r in warming_up} == {
        (503, "warming up", "5")
    }
    assert httpx.get(f"{server}/health").json()["status"] == "ok"


def test_serve_answers_concurrent_questions(server: str) -> None:
    """Several questions at once are all answered."""
    with httpx.Client(base_url=server, timeout=120) as client, ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(lambda _: client.post("/ask", json={"question": QUESTION}), range(8)))
    assert [r.status_code for r in responses] == [200] * 8
    assert all(r.json()["answers"] for r in responses)


def test_serve_refuses_writes_without_a_key(server: str) -> None:
    """A fresh install cannot be written to: POST /documents is a 403 without QA_API_KEY."""
    response = httpx.post(f"{server}/documents", json={"text": "Anyone may write?"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "writes_disabled"


def test_serve_serves_the_chat_page(server: str) -> None:
    """The chat page and its assets come from the same server."""
    page = httpx.get(f"{server}/")
    assert page.status_code == 200 and 'id="ask-form"' in page.text
    assert httpx.get(f"{server}/static/app.css").status_code == 200
