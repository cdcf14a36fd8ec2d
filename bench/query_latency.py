"""Benchmark 2, query latency: POST /ask on a running ``qa serve`` vs two floors measured in the same run.

The floor is encode + flat search; the reader floor is encode + flat search over the product's own
chunks (their stored vectors) + one batched forward of the bare model over the top ones, as
many as the reader reads (``--passages``), at the reader's token limit (what any reader must pay),
on torch; the ONNX reader floor is the same on ONNX Runtime (the ONNX encoder, one forward of the
reader's own ONNX file, int8 unless ``QA_QUANTIZE=0``). The first ratio is what the light runtime saves
against the torch reader floor, the second the reader's overhead on its own runtime.

Usage: ``python -m bench.query_latency [--questions 100] [--clients 8] [--index-dir DIR] [--passages
N]``. The index defaults to SQuAD v1.1 in the benchmark cache (built, or brought up to date, first).
The floor searches a flat index of the same articles' vectors (cached by ``bench.indexing``) in this
process, one question at a time and from ``--clients`` threads; the product is timed by an HTTP
client, so its figures include HTTP, JSON and answer picking. With one client, each question is
asked of the three floors and the product in blocks of 25, in turn (the order rotating), so that a
change in the machine's speed during the run weighs on every column alike; with ``--clients``,
each runs its questions in turn.

The server's memory is read after the one-client questions and again after the concurrent ones: its
resident memory (VmRSS) and its proportional set size (PSS, /proc/PID/smaps_rollup), in which a page
mapped more than once is counted once. Each thread that reads the index holds its own SQLite
connection, and each connection maps the index database: RSS counts the database once per
connection, the kernel holds it once.
"""

from __future__ import annotations

import argparse
import itertools
import os
import socket
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from bench.common import (
    CACHE,
    DIMENSION,
    QA,
    SQUAD_DOCS,
    ensure_index,
    fmt,
    logger,
    machine,
    milliseconds,
    print_table,
    qa_env,
    questions,
    ratio,
    read_jsonl,
    setup_logging,
)
from bench.floors import Floor, OnnxReaderFloor, ReaderFloor
from qa.config import READ_PASSAGES


def free_port() -> int:
    """A TCP port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(index_dir: Path, port: int, passages: int) -> subprocess.Popen[bytes]:
    """``qa serve`` on 127.0.0.1:port reading ``passages`` a question, once /health answers 200."""
    proc = subprocess.Popen(
        [*QA, "-q", "serve", "--port", str(port)],
        env={**os.environ, **qa_env(index_dir, QA_RATE_LIMIT="0", QA_READ_PASSAGES=str(passages))},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"qa serve exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit("qa serve did not become healthy in 300 s")


def proc_bytes(path: str, key: str) -> int:
    """A figure in kB from a /proc file (its line starts ``key:``), in bytes; 0 where /proc does not tell."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def resident_bytes(pid: int) -> int:
    """A running process's resident memory (VmRSS), in bytes."""
    return proc_bytes(f"/proc/{pid}/status", "VmRSS")


def proportional_bytes(pid: int) -> int:
    """A running process's proportional set size (PSS: a page shared by n mappings counted 1/n), in
    bytes."""
    return proc_bytes(f"/proc/{pid}/smaps_rollup", "Pss")


def timed_calls(call: object, items: list[str], clients: int) -> tuple[list[float], float]:
    """Per-call latencies (s) of ``call(item)`` over items with ``clients`` threads, and the wall time."""
    assert callable(call)

    def one(item: str) -> float:
        start = time.perf_counter()
        call(item)
        return time.perf_counter() - start

    start = time.perf_counter()
    if clients == 1:
        latencies = [one(q) for q in items]
    else:
        with ThreadPoolExecutor(clients) as pool:
            latencies = list(pool.map(one, items))
    return latencies, time.perf_counter() - start


class Product:
    """POST /ask on the running server, from ``clients`` HTTP clients; counts the questions answered."""

    def __init__(self, port: int, clients: int) -> None:
        url = f"http://127.0.0.1:{port}"
        self._clients = [httpx.Client(base_url=url, timeout=60) for _ in range(clients)]
        self._turn = itertools.count()
        self.answered = 0

    def ask(self, question: str) -> None:
        client = self._clients[next(self._turn) % len(self._clients)]
        response = client.post("/ask", json={"question": question})
        response.raise_for_status()
        self.answered += bool(response.json()["answers"])

    def close(self) -> None:
        for client in self._clients:
            client.close()


def interleaved(calls: list[Callable[[str], object]], items: list[str], block: int = 25) -> list[list[float]]:
    """One client: the questions in blocks of ``block``, each block asked of every call in turn (the
    order rotating from block to block), so that a change in the machine's speed during the run (a
    shared machine's neighbours, its clock) weighs on every column alike, while each call still runs
    warm (blocks, not single questions: one model's threads and caches would slow the next's); the
    latencies (s) per call."""
    out: list[list[float]] = [[] for _ in calls]
    for number, begin in enumerate(range(0, len(items), block)):
        for turn in range(len(calls)):
            which = (number + turn) % len(calls)
            out[which].extend(timed_calls(calls[which], items[begin : begin + block], 1)[0])
    return out


def floor_index(floor: Floor) -> None:
    """The floor's flat index over the squad articles (cached vectors when the indexing run left them)."""
    import faiss

    cached = CACHE / "floor-squad.npy"
    if cached.exists():
        vectors = np.load(cached)
        floor.index = faiss.IndexFlatIP(vectors.shape[1])
        floor.index.add(vectors)
    else:
        logger.info("floor: encoding the corpus (run bench.indexing first to cache this)")
        floor.build(squad_texts())
        np.save(cached, floor.index.reconstruct_n(0, floor.index.ntotal))


def product_chunks(index_dir: Path) -> tuple[list[str], np.ndarray]:
    """The texts and stored vectors of the product's chunks, read from its index."""
    from qa.config import DEFAULT_MODEL
    from qa.store import LocalStore

    texts: list[str] = []
    vectors = []
    store = LocalStore(index_dir, DIMENSION, DEFAULT_MODEL)
    with store.snapshot() as snap:
        for stored in snap.stored_articles():
            texts.extend(chunk.text for chunk in stored.chunks)
            vectors.append(stored.vectors)
    return texts, np.concatenate(vectors).astype(np.float32)


def reader_floor(index_dir: Path, passages: int, kind: type[ReaderFloor | OnnxReaderFloor]) -> Floor:
    """A reader floor over the product's chunks: as many passages and tokens as the product reads."""
    import faiss

    from qa.answering.reader import WEIGHTS_DIR, ReaderConfig

    texts, vectors = product_chunks(index_dir)
    floor = kind(texts, passages, ReaderConfig.load(WEIGHTS_DIR).max_length)
    floor.index = faiss.IndexFlatIP(vectors.shape[1])
    floor.index.add(vectors)
    return floor


def squad_texts() -> list[str]:
    """The benchmark's articles, in index order."""
    return [str(r["text"]) for r in read_jsonl(SQUAD_DOCS)]


def main() -> None:
    """Command line."""
    setup_logging()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--index-dir", type=Path, default=CACHE / "squad-index")
    parser.add_argument(
        "--passages", type=int, default=READ_PASSAGES, help="passages read a question (QA_READ_PASSAGES)"
    )
    args = parser.parse_args()
    if args.index_dir == CACHE / "squad-index":
        ensure_index(args.index_dir)
    # Three disjoint sets: warm-up, one client, many clients. The product caches question vectors,
    # so a question asked twice would cost it nothing and flatter the second pass.
    spread = questions(args.questions * 2 + 20)
    warm, rest = spread[::10][:20], [q for n, q in enumerate(spread) if n % 10 or n >= 200]
    items, concurrent = rest[0::2][: args.questions], rest[1::2][: args.questions]

    floor = Floor()
    floor_index(floor)
    logger.info("reader floors: search over the product's chunks, one batched forward over the top ones")
    torch_reader = reader_floor(args.index_dir, args.passages, ReaderFloor)
    onnx_reader = reader_floor(args.index_dir, args.passages, OnnxReaderFloor)
    port = free_port()
    logger.info("product: qa serve on port %d", port)
    server = start_server(args.index_dir, port, args.passages)
    warming, product, products = Product(port, 1), Product(port, 1), Product(port, args.clients)
    calls = [floor.ask, torch_reader.ask, onnx_reader.ask, product.ask]
    try:
        interleaved([floor.ask, torch_reader.ask, onnx_reader.ask, warming.ask], warm)
        logger.info("one client: %d questions, in blocks asked of each in turn", len(items))
        one_client = interleaved(calls, items)
        resident_one = resident_bytes(server.pid)
        many_clients = []
        for call in [floor.ask, torch_reader.ask, onnx_reader.ask, products.ask]:
            logger.info("%d clients: %d questions", args.clients, len(concurrent))
            many_clients.append(timed_calls(call, concurrent, args.clients))
        resident, proportional = resident_bytes(server.pid), proportional_bytes(server.pid)
    finally:
        for clients in (warming, product, products):
            clients.close()
        server.terminate()
        server.wait(30)
    floor_one, reader_one, onnx_one, one = one_client
    (floor_many, floor_wall), (reader_many, reader_wall), (onnx_many, onnx_wall), (many, wall) = many_clients
    answered = product.answered

    rows = []
    for label, floor_lat, reader_lat, onnx_lat, product_lat in (
        ("1 client", floor_one, reader_one, onnx_one, one),
        (f"{args.clients} clients", floor_many, reader_many, onnx_many, many),
    ):
        for q in (50, 95):
            f, r, o, p = (milliseconds(lat, q) for lat in (floor_lat, reader_lat, onnx_lat, product_lat))
            rows.append([f"{label} p{q} (ms)", fmt(f), fmt(r), fmt(o), fmt(p), ratio(p, r), ratio(p, o)])
    n = len(concurrent)
    rates = (n / floor_wall, n / reader_wall, n / onnx_wall, n / wall)
    rows.append([f"{args.clients} clients: questions/s", *(fmt(r) for r in rates), "", ""])
    rows.append(["questions answered", "-", "-", "-", f"{answered}/{len(items)}", "", ""])
    alone, asked = len(warm) + len(items), len(warm) + len(items) + len(concurrent)
    for label, size in (
        (f"qa serve resident memory (RSS) after {alone} questions, one at a time (MiB)", resident_one),
        (
            f"qa serve RSS after {asked}, the last {len(concurrent)} from {args.clients} clients (MiB)",
            resident,
        ),
        ("the same, each mapped page counted once (PSS, MiB)", proportional),
    ):
        rows.append([label, "", "", "", fmt(size / 2**20), "", ""])
    print_table(
        f"POST /ask latency, {len(items)} + {len(concurrent)} SQuAD questions, {args.passages} passages read "
        f"({machine()})",
        [
            "",
            "floor",
            "reader floor (torch)",
            "reader floor (ONNX)",
            "POST /ask",
            "ratio to torch reader floor",
            "ratio to ONNX reader floor",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
