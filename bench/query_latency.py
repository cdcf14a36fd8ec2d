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
client, so its figures include HTTP, JSON and answer picking.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

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


def resident_bytes(pid: int) -> int:
    """A running process's resident memory (VmRSS), in bytes; 0 where /proc does not tell."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


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


def measure_product(port: int, items: list[str], clients: int) -> tuple[list[float], float, int]:
    """POST /ask latencies; also how many questions got at least one answer."""
    answered = 0
    local = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    pools = [httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) for _ in range(clients)]
    counter = iter(range(10**9))

    def ask(question: str) -> None:
        nonlocal answered
        client = pools[next(counter) % clients] if clients > 1 else local
        response = client.post("/ask", json={"question": question})
        response.raise_for_status()
        answered += bool(response.json()["answers"])

    latencies, wall = timed_calls(ask, items, clients)
    for client in [local, *pools]:
        client.close()
    return latencies, wall, answered


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


def measure_floor(
    floor: Floor, warm: list[str], items: list[str], concurrent: list[str], clients: int
) -> Any:
    """One floor's latencies: one client, then ``clients`` threads, and the latter's wall time."""
    if floor.index is None:  # the reader floor comes with its own
        floor_index(floor)
    timed_calls(floor.ask, warm, 1)
    one, _ = timed_calls(floor.ask, items, 1)
    many, wall = timed_calls(floor.ask, concurrent, clients)
    return one, many, wall


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

    logger.info("floor: %d questions, 1 and %d clients", len(items), args.clients)
    floor_one, floor_many, floor_wall = measure_floor(Floor(), warm, items, concurrent, args.clients)
    logger.info("reader floor: search over the product's chunks, one batched forward over the top ones")
    reader_one, reader_many, reader_wall = measure_floor(
        reader_floor(args.index_dir, args.passages, ReaderFloor), warm, items, concurrent, args.clients
    )
    logger.info("reader floor on ONNX Runtime: the same with the ONNX encoder and the reader's ONNX file")
    onnx_one, onnx_many, onnx_wall = measure_floor(
        reader_floor(args.index_dir, args.passages, OnnxReaderFloor), warm, items, concurrent, args.clients
    )

    port = free_port()
    logger.info("product: qa serve on port %d", port)
    server = start_server(args.index_dir, port, args.passages)
    try:
        measure_product(port, warm, 1)
        one, _, answered = measure_product(port, items, 1)
        many, wall, _ = measure_product(port, concurrent, args.clients)
        resident = resident_bytes(server.pid)
    finally:
        server.terminate()
        server.wait(30)

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
    asked = len(warm) + len(items) + len(concurrent)
    rows.append(
        [f"qa serve resident memory after {asked} questions (MiB)", "", "", "", fmt(resident / 2**20), "", ""]
    )
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
