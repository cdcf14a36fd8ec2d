"""Shared fixtures: real engines over the seed corpus, engines with the test embedder for plumbing tests."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qa.config import Settings
from qa.engine import Engine
from tests.embedders import HashEmbedder
from tests.web_site import Site, serve_site

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
NO_MILVUS = importlib.util.find_spec("pymilvus") is None or importlib.util.find_spec("milvus_lite") is None
needs_milvus = pytest.mark.skipif(
    NO_MILVUS, reason="pymilvus and milvus-lite are not installed (qa-bot[milvus])"
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a server process; kill it if it does not exit within 30 s."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)


def wait_until_healthy(
    base: str,
    process: subprocess.Popen[bytes],
    log: Path,
    timeout: float = 180,
    before: list[httpx.Response] | None = None,
) -> None:
    """Poll ``base``/health until it answers 200 (the answers until then go to ``before``); fail with
    the server's log if it dies or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"qa serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            response = httpx.get(f"{base}/health", timeout=5)
        except httpx.TransportError:
            pass
        else:
            if response.status_code == 200:
                return
            if before is not None:
                before.append(response)
        time.sleep(0.3)
    pytest.fail(f"qa serve was not healthy within {timeout} s:\n{log.read_text()}")


def serve_in_thread(settings: Settings, engine: Engine) -> Iterator[str]:
    """Run the app under a real uvicorn in a thread; yield its base URL until the test ends."""
    import uvicorn

    from bots.http import create_app

    port = free_port()
    config = uvicorn.Config(create_app(settings, engine), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    # The app warms up after it starts listening (/health says 503 "warming up" until then): tests
    # begin with the app ready, as a client that waits for /health does.
    while httpx.get(f"{base}/health", timeout=10).status_code != 200:
        assert thread.is_alive() and time.monotonic() < deadline + 120, "the app did not warm up"
        time.sleep(0.1)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(30)


def open_paths() -> list[Path]:
    """What each of this process's file descriptors points to."""
    found = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            found.append(Path(fd.readlink()))
        except OSError:  # closed meanwhile (the listing's own descriptor)
            continue
    return found


def open_files_under(folder: Path) -> int:
    """How many of this process's file descriptors point into ``folder``."""
    return sum(path.is_relative_to(folder) for path in open_paths())


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ``milvus-lite server`` process on 127.0.0.1 for the session, stopped with SIGINT (it flushes).

    One worker: Milvus Lite's engine corrupts its write-ahead log when two RPCs write at once."""
    data = tmp_path_factory.mktemp("milvus-server")
    port = free_port()
    exe = shutil.which("milvus-lite", path=str(Path(sys.executable).parent)) or "milvus-lite"
    log = (data / "server.log").open("wb")
    command = [exe, "server", "--data-dir", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen([*command, "--max-workers", "1"], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"milvus-lite server did not start:\n{(data / 'server.log').read_text()}")
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGINT)
        try:  # it can wait long on its last clients' channels; nothing of the session's data is needed after
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
        log.close()


def answering_everything(engine: Engine) -> Engine:
    """The same archive and model with no abstention threshold: every reading becomes an answer.

    For tests about what happens to answers (paging, copies, order), not how sure the reader is."""
    settings = engine.settings.model_copy(update={"abstain_threshold": 0.0})
    return Engine(settings, embedder=engine.embedder)


@pytest.fixture
def hash_engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine with the deterministic embedder on an empty index (plumbing tests)."""
    # The reader is the real one only where a test is about answers (seed_engine); plumbing uses the picker.
    settings = Settings(index_dir=tmp_path / "index", seeds_dir=SEEDS, reader="off")
    engine = Engine(settings, embedder=HashEmbedder())
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def seed_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The real model over an index built once from the bundled seeds, shared by the answer tests."""
    engine = Engine(Settings(index_dir=tmp_path_factory.mktemp("seed-index"), seeds_dir=SEEDS))
    engine.index_paths([SEEDS])
    return engine


@pytest.fixture(scope="session")
def seed_index_dir(seed_engine: Engine) -> Path:
    """The directory of the seed index (for CLI subprocess tests)."""
    return seed_engine.settings.index_dir


@pytest.fixture
def site() -> Iterator[Site]:
    """A news site on 127.0.0.1 (feeds, sitemaps, robots.txt, pages); no test reaches the internet."""
    with serve_site() as running:
        yield running


@pytest.fixture
def web_engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine with the deterministic embedder that fetches without delay and with small limits,
    from any address (as the operator's CLI does)."""
    settings = Settings(
        index_dir=tmp_path / "index",
        seeds_dir=SEEDS,
        fetch_delay=0,
        fetch_timeout=1.0,
        fetch_max_bytes=200_000,
        reader="off",
        fetch_allow_private=True,  # the test site is on 127.0.0.1
    )
    engine = Engine(settings, embedder=HashEmbedder())
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def news_engine(tmp_path_factory: pytest.TempPathFactory, seed_engine: Engine) -> Engine:
    """The real model over a small dated archive with one story published twice (tests/news.py)."""
    from tests.news import write_archive

    folder = tmp_path_factory.mktemp("news")
    engine = Engine(Settings(index_dir=folder / "index", seeds_dir=None), embedder=seed_engine.embedder)
    engine.index_paths([write_archive(folder / "archive")])
    return engine
