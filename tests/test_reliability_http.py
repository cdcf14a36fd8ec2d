"""Reliability and security of the HTTP service: fuzzing, auth, uploads, load and memory."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from bots.http import create_app
from qa.answering.conversation import ConversationStore
from qa.config import Settings
from qa.engine import Engine
from qa.eval.metrics import percentile
from tests.conftest import SEEDS, free_port, stop, wait_until_healthy
from tests.embedders import HashEmbedder

# Its module-scoped fixtures are built once: under pytest-xdist the whole module runs on one worker.
pytestmark = pytest.mark.xdist_group("reliability-http")

API_KEY = "k-" + secrets.token_urlsafe(24)
AUTH = {"Authorization": f"Bearer {API_KEY}"}
SEED_QUESTION = "When did the war start?"
SEED_SENTENCE = "This war initially started on September 27"
START_TIMEOUT = 300.0  # model load and seed indexing on a slow shared runner
INDEX_FILES = {"meta.sqlite", "meta.sqlite-wal", "meta.sqlite-shm", "write.lock"}


# -- a real `qa serve` process on loopback ------------------------------------------------------
@dataclass(frozen=True)
class Server:
    """A running `qa serve` child and where it keeps things."""

    base_url: str
    proc: subprocess.Popen[bytes]
    root: Path  # holds the index and the server's working directory
    index_dir: Path

    def rss_bytes(self) -> int:
        """Resident memory of the server process (Linux /proc)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS line")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`python -m bots.cli serve` with an API key and no rate limit, ready to answer."""
    root = tmp_path_factory.mktemp("http-server")
    cwd = root / "cwd"
    cwd.mkdir()
    index_dir = root / "qa-bot" / "index"  # the default location under XDG_DATA_HOME: built from seeds/
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(
        HF_HUB_OFFLINE="1",
        XDG_DATA_HOME=str(root),
        QA_API_KEY=API_KEY,
        QA_RATE_LIMIT="0",
        QA_HOST="127.0.0.1",
        # These tests are about the service (errors, keys, load, memory over 10,000 requests), not
        # answers: the sentence picker keeps them to minutes on two cores; the reader is served by
        # tests/test_http_server.py and measured by bench.query_latency.
        QA_READER="off",
    )
    log = (root / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bots.cli", "serve", "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base_url, proc, root / "server.log", START_TIMEOUT)
        yield Server(base_url, proc, root, index_dir)
    finally:
        stop(proc)
        log.close()


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=120) as http:
        yield http


# -- schemathesis against /openapi.json ------------------------------------------------------
@pytest.fixture(scope="module")
def api_schema(server: Server) -> Any:
    return schemathesis.openapi.from_url(f"{server.base_url}/openapi.json", headers=AUTH)


# schemathesis.pytest.from_fixture() does not work with pytest 9 (it reads Function._nodeid), so
# the test walks the operations itself and runs a bounded Hypothesis search for each.
@pytest.mark.timeout(900)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_openapi_operations_never_answer_5xx(api_schema: Any, mode: GenerationMode) -> None:
    """Generated requests, valid and invalid, for every operation in /openapi.json: never a 5xx."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 8, [op.label for op in operations]
    without_inputs: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=12,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case: Any) -> None:
            case.call_and_validate(headers=AUTH, checks=[not_a_server_error], timeout=120)

        try:
            no_server_error()
        except Unsatisfiable:  # no invalid request exists for an operation without inputs
            assert mode is GenerationMode.NEGATIVE, operation.label
            without_inputs.append(operation.label)
    assert len(without_inputs) < len(operations) // 2, without_inputs


# -- auth ---------------------------------------------------------------------------------------
def wrong_auth() -> dict[str, dict[str, Any]]:
    """Requests that do not carry the key properly: each must be refused."""
    basic = base64.b64encode(f"qa:{API_KEY}".encode()).decode()
    return {
        "no key": {},
        "wrong key": {"headers": {"Authorization": "Bearer not-the-key"}},
        "key prefix": {"headers": {"Authorization": f"Bearer {API_KEY[:-1]}"}},
        "key plus a char": {"headers": {"Authorization": f"Bearer {API_KEY}x"}},
        "empty bearer": {"headers": {"Authorization": "Bearer"}},
        "no scheme": {"headers": {"Authorization": API_KEY}},
        "basic scheme": {"headers": {"Authorization": f"Basic {basic}"}},
        "token scheme": {"headers": {"Authorization": f"Token {API_KEY}"}},
        "x-api-key header": {"headers": {"X-API-Key": API_KEY}},
        "proxy header": {"headers": {"Proxy-Authorization": f"Bearer {API_KEY}"}},
        "query api_key": {"params": {"api_key": API_KEY}},
        "query access_token": {"params": {"access_token": API_KEY}},
        "cookie": {"cookies": {"api_key": API_KEY, "Authorization": f"Bearer {API_KEY}"}},
    }


PROTECTED = [
    ("POST", "/ask", {"question": SEED_QUESTION}),
    ("GET", "/search?q=war", None),
    ("GET", "/documents", None),
    ("POST", "/documents", {"title": "Intruder", "text": "Written by someone without the key."}),
    ("DELETE", "/documents/anything", None),
    ("GET", "/metrics", None),
]


@pytest.mark.parametrize("how", sorted(wrong_auth()))
@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_request_without_the_key_in_place_is_refused(
    server: Server, how: str, method: str, path: str, body: dict[str, str] | None
) -> None:
    """No key, a wrong key or the key anywhere but `Authorization: Bearer` is a 401."""
    extra = wrong_auth()[how]
    cookies = extra.pop("cookies", None)
    with httpx.Client(base_url=server.base_url, timeout=60, cookies=cookies) as http:
        response = http.request(method, path, json=body, **extra)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthorized"
    assert API_KEY not in response.text
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer")


def test_key_in_place_is_accepted_and_health_is_public(client: httpx.Client) -> None:
    """The right bearer key gets answers; /health needs none."""
    assert client.get("/health").status_code == 200
    response = client.post("/ask", json={"question": SEED_QUESTION}, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["answers"][0]["text"].startswith(SEED_SENTENCE)
    assert client.get("/documents", headers={"Authorization": f"bearer  {API_KEY}"}).status_code == 200


@pytest.mark.parametrize("configured", [None, ""])
def test_document_changes_refused_without_configured_key(tmp_path: Path, configured: str | None) -> None:
    """Without QA_API_KEY (unset or empty) document changes are a 403, whatever is sent."""
    settings_ = Settings(index_dir=tmp_path / "index", api_key=configured, rate_limit=0, reader="off")
    engine = Engine(settings_, embedder=HashEmbedder())
    engine.index_paths([SEEDS])  # a chosen index directory is built by `qa index`, never by itself
    app = create_app(settings_, engine)
    with TestClient(app, base_url="http://127.0.0.1") as http:
        assert app.state.loader.wait(120)
        before = http.get("/documents").json()
        assert before["total"] == 1
        seed_id = before["documents"][0]["id"]
        attempts = [
            http.post("/documents", json={"title": "Planted", "text": "A planted story."}),
            http.post(
                "/documents",
                json={"title": "Planted", "text": "A planted story."},
                headers={"Authorization": "Bearer"},
            ),
            http.post(
                "/documents",
                files={"file": ("planted.txt", b"Planted\n\nA planted story.\n", "text/plain")},
                headers={"Authorization": "Bearer anything"},
            ),
            http.delete(f"/documents/{seed_id}"),
            http.delete(f"/documents/{seed_id}", headers={"Authorization": "Bearer"}),
        ]
        for response in attempts:
            assert response.status_code == 403, response.text
            assert response.json()["error"]["code"] == "writes_disabled"
        assert http.get("/documents").json() == before
    assert engine.stats()["articles"] == 1


# -- uploads cannot write outside the index ----------------------------------------------------
HOSTILE_NAMES = [
    "../../etc/passwd",
    "../../../../../../../../tmp/qa-escape.txt",
    "/etc/passwd",
    "..\\..\\..\\windows\\qa-escape.txt",
    "C:\\Windows\\qa-escape.txt",
    "....//....//etc/qa-escape.txt",
    "%2e%2e%2f%2e%2e%2fetc%2fqa-escape.txt",
    "..",
    ".",
    "",
    "index/../../qa-escape.md",
    "qa-escape.txt\r\nX-Injected: 1",
    "x" * 5000 + ".txt",
    "\u202etxt.exe",
]


def tree(root: Path, skip: Path) -> dict[str, tuple[int, str]]:
    """Every file below ``root`` except under ``skip``: path -> (size, sha256 prefix)."""
    found: dict[str, tuple[int, str]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_relative_to(skip) and path.name != "server.log":
            found[str(path)] = (
                path.stat().st_size,
                hashlib.sha256(path.read_bytes()).hexdigest()[:16],
            )
    return found


def file_state(path: Path) -> tuple[bool, bytes]:
    return (path.exists(), path.read_bytes() if path.is_file() else b"")


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_upload_names_write_nothing_outside_the_index(
    server: Server, client: httpx.Client, name: str
) -> None:
    """Path-like upload names only label the article: no file appears or changes anywhere else."""
    watched = [Path("/etc/passwd"), Path("/tmp/qa-escape.txt"), Path("/etc/qa-escape.txt")]
    watched += [
        server.root / "qa-escape.txt",
        server.root / "qa-escape.md",
        server.root.parent / "qa-escape.md",
    ]
    before_files = {p: file_state(p) for p in watched}
    before_tree = tree(server.root, server.index_dir)
    body = f"Escape attempt {len(name)}\n\nThe uploader named this file {name[:60]!r} on purpose.\n"
    response = client.post("/documents", files={"file": (name, body.encode(), "text/plain")}, headers=AUTH)
    assert response.status_code < 500, response.text
    if response.status_code == 201:
        for doc_id in response.json()["added"]:
            stored = client.get(f"/documents/{doc_id}", headers=AUTH).json()
            assert stored["source"].startswith("upload:")
            assert "/" not in stored["source"] and "\\" not in stored["source"]
            assert ".." not in stored["source"].removeprefix("upload:").strip(".") or stored["source"] in (
                "upload:..",
                "upload:.",
            )
            assert client.delete(f"/documents/{doc_id}", headers=AUTH).status_code == 204
    else:
        assert 400 <= response.status_code < 500
    assert {p: file_state(p) for p in watched} == before_files
    assert tree(server.root, server.index_dir) == before_tree
    names = {p.name for p in server.index_dir.iterdir()}
    assert names <= INDEX_FILES | {n for n in names if n.startswith("vectors-")}, names


# -- answering while documents change ----------------------------------------------------------
@pytest.mark.timeout(600)
def test_service_answers_while_documents_are_added_and_removed(server: Server) -> None:
    """Readers keep getting the seed answer while a writer adds and removes articles."""
    stop = threading.Event()
    failures: list[str] = []
    changes = 0

    def writer() -> None:
        nonlocal changes
        with httpx.Client(base_url=server.base_url, timeout=120, headers=AUTH) as http:
            n = 0
            while not stop.is_set() and n < 40:
                article = {"id": f"churn-{n}", "title": f"Churn {n}", "text": f"Churn story {n}."}
                added = http.post("/documents", json=article)
                removed = http.delete(f"/documents/churn-{n}")
                if added.status_code != 201 or removed.status_code != 204:
                    failures.append(f"write {added.status_code} {removed.status_code}")
                changes += 2
                n += 1

    def reader() -> int:
        count = 0
        with httpx.Client(base_url=server.base_url, timeout=120, headers=AUTH) as http:
            while not stop.is_set():
                response = http.post("/ask", json={"question": SEED_QUESTION})
                if response.status_code != 200 or not response.json()["answers"][0]["text"].startswith(
                    SEED_SENTENCE
                ):
                    failures.append(f"ask {response.status_code} {response.text[:200]}")
                count += 1
        return count

    with ThreadPoolExecutor(4) as pool:
        readers = [pool.submit(reader) for _ in range(3)]
        write = pool.submit(writer)
        write.result(timeout=500)
        stop.set()
        answered = sum(r.result(timeout=120) for r in readers)
    assert not failures, failures[:5]
    assert changes >= 10 and answered >= 3


# -- load --------------------------------------------------------------------------------------
Request = Callable[[httpx.Client, int], httpx.Response]


def request_mix(doc_id: str) -> list[Request]:
    """What the load clients send, in turn: mostly questions, some listing and searching."""
    questions = [SEED_QUESTION, "Who supports Azerbaijan?", "What happened in Nagorno-Karabakh?"]
    return [
        lambda http, n: http.post("/ask", json={"question": questions[n % len(questions)]}),
        lambda http, n: http.get("/search", params={"q": f"war fire {n % 7}", "k": 5}),
        lambda http, n: http.post("/ask", json={"question": f"{questions[n % 3]} ({n})"}),
        lambda http, n: http.get("/documents", params={"limit": 10}),
        lambda http, n: http.get(f"/documents/{doc_id}"),
        lambda http, n: http.get("/health"),
    ]


def drive(server: Server, clients: int, per_client: int, mix: list[Request]) -> tuple[list[float], list[str]]:
    """``clients`` threads, each with its own connection, sending ``per_client`` requests."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def run_client(number: int) -> None:
        with httpx.Client(base_url=server.base_url, timeout=120, headers=AUTH) as http:
            for i in range(per_client):
                send = mix[(number + i) % len(mix)]
                started = time.perf_counter()
                try:
                    response = send(http, number * per_client + i)
                    ok = response.status_code == 200 and bool(response.json())
                    problem = "" if ok else f"{response.status_code} {response.text[:200]}"
                except (httpx.HTTPError, json.JSONDecodeError) as exc:
                    problem = repr(exc)
                with lock:
                    latencies.append(time.perf_counter() - started)
                    if problem:
                        errors.append(problem)

    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(run_client, c) for c in range(clients)]:
            future.result(timeout=900)
    return latencies, errors


@pytest.fixture(scope="module")
def seed_doc_id(server: Server) -> str:
    with httpx.Client(base_url=server.base_url, timeout=60, headers=AUTH) as http:
        documents = http.get("/documents").json()["documents"]
    return str(next(d["id"] for d in documents if d["source"].startswith("seeds/")))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_load_32_clients_50_requests_each_without_errors(server: Server, seed_doc_id: str) -> None:
    """32 concurrent clients × 50 requests on loopback: zero errors; p95 latency is printed."""
    started = time.perf_counter()
    latencies, errors = drive(server, 32, 50, request_mix(seed_doc_id))
    elapsed = time.perf_counter() - started
    assert len(latencies) == 32 * 50
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    assert p50 is not None and p95 is not None
    print(
        f"\nload: {len(latencies)} requests in {elapsed:.1f}s ({len(latencies) / elapsed:.0f}/s), "
        f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms, errors {len(errors)}"
    )
    assert not errors, errors[:5]


MAX_CONVERSATIONS = ConversationStore().max_conversations


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_memory_steady_over_10000_requests(server: Server, seed_doc_id: str) -> None:
    """Resident memory stays within 10% over 10,000 requests (after a warm-up)."""
    # One question in ten keeps the run short; the rest walk every other code path, errors included.
    _, search, ask, listing, document, health = request_mix(seed_doc_id)
    mix: list[Request] = [
        ask,
        search,
        listing,
        document,
        health,
        lambda http, n: http.get(f"/documents/missing-{n}"),  # 404s with ever-new ids
        lambda http, n: http.get(f"/no-such-path/{n}"),  # unknown paths must not grow metrics
        lambda http, n: http.post("/ask", json={"question": ""}),  # 422
        lambda http, n: http.get("/metrics"),
        lambda http, n: http.post(f"/conversations/{n:032x}/more"),  # 404: unknown conversation
    ]

    def tolerant(send: Request) -> Request:
        def call(http: httpx.Client, n: int) -> httpx.Response:
            response = send(http, n)
            if response.status_code in (404, 422):
                return httpx.Response(200, json={"expected": response.status_code})
            if response.headers.get("content-type", "").startswith("text/plain"):
                return httpx.Response(200, json={"metrics": len(response.text)})
            return response

        return call

    mix = [tolerant(send) for send in mix]
    _, warm_errors = drive(server, 16, 60, mix)
    assert not warm_errors, warm_errors[:5]
    # Every question opens a conversation, and the server keeps the last 1,000 (bounded, not a leak):
    # fill them first, so that what is measured is what grows past every bound.
    _, fill_errors = drive(server, 16, 1 + MAX_CONVERSATIONS // 16, [tolerant(ask)])
    assert not fill_errors, fill_errors[:5]
    baseline = server.rss_bytes()
    samples = [baseline]
    for _ in range(5):
        _, errors = drive(server, 16, 125, mix)  # 5 × 2,000 = 10,000 requests
        assert not errors, errors[:5]
        samples.append(server.rss_bytes())
    mib = [round(s / 2**20, 1) for s in samples]
    print(f"\nRSS over 10,000 requests (MiB, every 2,000): {mib}; median {statistics.median(mib)}")
    assert max(samples) <= baseline * 1.10, mib
