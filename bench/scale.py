"""Benchmark 3, scale: engine.ask latency and memory at 10k, 100k and 1M chunks, exact vs IVF.

Usage: ``python -m bench.scale [--sizes 10000,100000,1000000] [--questions 50]``.  Each size is
a real store (SQLite + FTS5 + the vector index ``auto`` picks) filled with copies of the SQuAD
index's real chunks (text, sentences, articles); the first copy keeps the real vectors, later
copies get synthetic ones: ``normalize(v + 0.8 * g / sqrt(d))`` with Gaussian ``g`` (cosine ~0.78
to the original), so the vectors stay clustered like real ones.  Questions are real SQuAD
questions through the real ``Engine.ask`` (model, BM25, fusion, answer picking).  Each size runs
in a fresh process so its memory is its own; built stores are cached between runs.

Writes: at each size, the median time of adding one article of 5 chunks (synthetic text and
vectors, no model: the store's own cost) in a write of its own, against the time of rewriting all
the vectors in one file (``LocalStore.compact``: what every write cost before the vectors were kept
in segments), measured in the same run.  ``--writes-only`` measures just that, on stores of
synthetic articles (no SQuAD index or model needed, so it runs on a fresh machine).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from typing import Any

import numpy as np

from bench.common import (
    CACHE,
    DIMENSION,
    ensure_index,
    fmt,
    logger,
    machine,
    milliseconds,
    print_table,
    questions,
    rss_bytes,
    run_measured,
    setup_logging,
)
from bench.scale_stores import (
    ADD_CHUNKS,
    ADD_REPEATS,
    SQUAD_INDEX,
    build_store,
    build_synthetic_store,
    synthetic_article,
)
from qa.config import DEFAULT_MODEL, Settings
from qa.engine import Engine
from qa.models import Article
from qa.store import LocalStore, VectorIndex
from qa.store.segments import SegmentSet


def write_costs(store: LocalStore) -> dict[str, float]:
    """Median time of adding one article in a write of its own, and the baseline: rewriting every
    vector in one file (``compact``), as each write did before segments.  The store ends as it began
    (the probes removed, one base file)."""
    rng = np.random.default_rng(7)
    probes = [synthetic_article(10**9 + n, ADD_CHUNKS, rng) for n in range(ADD_REPEATS)]
    times = []
    for article, chunks, vectors in probes:
        start = time.perf_counter()
        with store.writer() as writer:
            writer.add_article(article, chunks, vectors, None)
        times.append(time.perf_counter() - start)
    with store.writer() as writer:
        for article, _, _ in probes:
            writer.remove_article(article.id)
    start = time.perf_counter()
    store.compact()
    rewrite_s = time.perf_counter() - start
    add_s = statistics.median(times)
    return {"add_one_ms": add_s * 1000, "rewrite_ms": rewrite_s * 1000, "add_ratio": add_s / rewrite_s}


def measure_writes(size: int) -> dict[str, Any]:
    """In this process: build or reuse a synthetic store of ``size`` chunks, then time writes."""
    index_dir = CACHE / f"scale-writes-{size}"
    build_s = float("nan")
    if (
        not (index_dir / "meta.sqlite").exists()
        or LocalStore(index_dir, DIMENSION, DEFAULT_MODEL).stats()["chunks"] != size
    ):
        shutil.rmtree(index_dir, ignore_errors=True)
        start = time.perf_counter()
        build_synthetic_store(index_dir, size)
        build_s = time.perf_counter() - start
    store = LocalStore(index_dir, DIMENSION, DEFAULT_MODEL)
    with store.snapshot() as snap:
        kind = snap.vectors.kind
    return {"size": size, "kind": kind, "build_s": build_s, **write_costs(store)}


def current(store: LocalStore, size: int) -> bool:
    """The cached store has ``size`` chunks, the sentence vectors and the term counts the product keeps."""
    if store.stats()["chunks"] != size:
        return False
    with store.snapshot() as snap:
        first = next(snap.stored_articles(), None)
        counted = snap.keeps_term_counts()
    return bool(first and first.sentence_vectors and first.sentence_vectors[0] is not None and counted)


def measure(size: int, count: int) -> dict[str, Any]:
    """In this process: build or reuse the store, then time asks, searches and memory."""
    index_dir = CACHE / f"scale-{size}"
    exists = (index_dir / "meta.sqlite").exists()
    if not exists or not current(LocalStore(index_dir, DIMENSION, DEFAULT_MODEL), size):
        shutil.rmtree(index_dir, ignore_errors=True)
        build_start = time.perf_counter()
        build_store(index_dir, size)
        build_s = time.perf_counter() - build_start
    else:
        build_s = float("nan")
    spread = questions(count * 2)
    items, warm = spread[0::2][:count], spread[1::2][:count]
    engine = Engine(Settings.model_validate({"index_dir": index_dir, "seeds_dir": None}))
    query_vectors = engine.embedder.encode(items)
    rss_model = rss_bytes()
    engine.ask(warm[0])  # opens the store and loads the vectors
    rss_loaded = rss_bytes()
    for question in warm[1:]:  # other questions: the index warm (pages cached), no answer cached
        engine.ask(question)
    latencies = []
    for question in items:
        start = time.perf_counter()
        engine.ask(question)
        latencies.append(time.perf_counter() - start)
    with engine.store.snapshot() as snap:
        approx = snap.vectors
    exact = VectorIndex(DIMENSION, index_type="flat")
    exact.add(*approx.items())

    def search_ms(index: VectorIndex | SegmentSet) -> tuple[float, np.ndarray]:
        times, found = [], []
        for row in query_vectors:
            start = time.perf_counter()
            found.append(index.search(row.reshape(1, -1), 50)[1][0])
            times.append(time.perf_counter() - start)
        return milliseconds(times, 50), np.array(found)

    exact_ms, truth = search_ms(exact)
    approx_ms, got = search_ms(approx)
    recall = float(np.mean([len(set(t[:10]) & set(g[:10])) / 10 for t, g in zip(truth, got, strict=True)]))
    probe = Article(id="bench-write-probe", title="Probe", text=items[0] + " " + items[1], source="bench")
    start = time.perf_counter()
    engine.add_articles([probe])  # one small article: what POST /documents costs at this size
    add_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    engine.remove_document(probe.id)
    remove_ms = (time.perf_counter() - start) * 1000
    vector_bytes = size * DIMENSION * (1 if approx.kind == "ivf-sq8" else 4)
    assert isinstance(engine.store, LocalStore)
    writes = write_costs(engine.store)
    return {
        **writes,
        "size": size,
        "kind": approx.kind,
        "nprobe": approx.nprobe,
        "build_s": build_s,
        "ask_p50": milliseconds(latencies, 50),
        "ask_p95": milliseconds(latencies, 95),
        "exact_ms": exact_ms,
        "approx_ms": approx_ms,
        "recall": recall,
        "extra_per_chunk": (rss_loaded - rss_model - vector_bytes) / size,
        "loaded_mib": (rss_loaded - rss_model) / 2**20,
        "add_ms": add_ms,
        "remove_ms": remove_ms,
    }


def add_cells(r: dict[str, Any]) -> list[str]:
    """The write columns of a result row."""
    return [fmt(r["add_one_ms"]), fmt(r["rewrite_ms"]), f"{r['add_ratio']:.3g}x"]


ADD_HEADER = ["add 1 article (5 chunks) ms", "full rewrite ms (baseline)", "add / rewrite"]


def main() -> None:
    """Command line: each size in its own process, then one table."""
    setup_logging()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--writes-only", action="store_true", help="only the write costs, synthetic stores")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        result = measure_writes(args.one) if args.writes_only else measure(args.one, args.questions)
        sys.stdout.write(json.dumps(result) + "\n")
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.writes_only:
        rows = []
        for size in sizes:
            logger.info("scale (writes): %d chunks", size)
            argv = [sys.executable, "-m", "bench.scale", "--one", str(size), "--writes-only"]
            r = json.loads(run_measured(argv)[2].strip().splitlines()[-1])
            rows.append([f"{size:,}", r["kind"], *add_cells(r), fmt(r["build_s"])])
        print_table(
            f"Scale: one article added to N synthetic chunks, median of {ADD_REPEATS} writes ({machine()})",
            ["chunks", "index (auto)", *ADD_HEADER, "build s"],
            rows,
        )
        return
    ensure_index(SQUAD_INDEX)
    rows = []
    for size in sizes:
        logger.info("scale: %d chunks", size)
        argv = [sys.executable, "-m", "bench.scale", "--one", str(size), "--questions", str(args.questions)]
        _, peak, stdout = run_measured(argv)
        r = json.loads(stdout.strip().splitlines()[-1])
        rows.append(
            [
                f"{size:,}",
                f"{r['kind']} (nprobe {r['nprobe']})" if r["nprobe"] else r["kind"],
                fmt(r["ask_p50"]),
                fmt(r["ask_p95"]),
                fmt(r["exact_ms"]),
                fmt(r["approx_ms"]),
                f"{r['recall']:.3f}",
                fmt(r["loaded_mib"]),
                fmt(r["extra_per_chunk"]),
                fmt(peak / 2**20),
                fmt(r["add_ms"]),
                fmt(r["remove_ms"]),
                *add_cells(r),
                fmt(r["build_s"]),
            ]
        )
    print_table(
        f"Scale: engine.ask on N chunks, {args.questions} SQuAD questions ({machine()})",
        [
            "chunks",
            "index (auto)",
            "ask p50 ms",
            "ask p95 ms",
            "exact search p50 ms",
            "index search p50 ms",
            "recall@10 vs exact",
            "index RAM MiB",
            "RAM/chunk beyond vectors (B)",
            "peak RSS MiB",
            "add 1 article ms",
            "remove it ms",
            *ADD_HEADER,
            "build s",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
