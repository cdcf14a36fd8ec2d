"""Benchmark 1, indexing: ``qa index`` on a corpus vs the floor, then re-indexing it unchanged.

Usage: ``python -m bench.indexing [--corpus squad|large|PATH.jsonl]``.  ``squad`` is SQuAD v1.1's
2,067 paragraphs; ``large`` is SQuAD v1.1 + v2.0 + SciFact (8,454 documents, ids prefixed by
set).  Every run is a fresh process, so model loading and imports count on every side. ``qa index`` runs twice
from scratch: on torch (``QA_RUNTIME=torch``, the runtime before ONNX) and on the default runtime; the
ratios of the last rows compare the two (peak memory, chunks per second).  On a
machine with CUDA the product (``QA_DEVICE=auto``) and the floor (fp16, batch 512) use the GPU.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

from bench.common import (
    CACHE,
    EVAL,
    SQUAD_DOCS,
    dir_bytes,
    floor_in_subprocess,
    fmt,
    logger,
    machine,
    print_table,
    ratio,
    read_jsonl,
    run_qa,
    setup_logging,
)

LARGE_PARTS = {"squad1": "squad-v1.1", "squad2": "squad-v2.0", "scifact": "scifact"}


def corpus_path(name: str) -> Path:
    """The docs.jsonl to index for a corpus name (``large`` is written once into the cache)."""
    if name == "squad":
        return SQUAD_DOCS
    if name != "large":
        return Path(name)
    path = CACHE / "large" / "docs.jsonl"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as out:
            for prefix, folder in LARGE_PARTS.items():
                for record in read_jsonl(EVAL / folder / "docs.jsonl"):
                    record["id"] = f"{prefix}/{record['id']}"
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def index_dir_for(name: str) -> Path:
    """Where the product's index of a corpus lives (the squad one is reused by other benchmarks)."""
    return CACHE / ("squad-index" if name == "squad" else f"index-{Path(name).stem}")


def run(name: str) -> dict[str, Any]:
    """Measure floor, fresh index and unchanged re-index; print the table; return the figures."""
    corpus = corpus_path(name)
    index_dir = index_dir_for(name)
    logger.info("floor: encoding every article of %s", corpus)
    vectors = CACHE / "floor-squad.npy" if name == "squad" else None
    floor = floor_in_subprocess("index", str(corpus), *([str(vectors)] if vectors else []))
    torch_dir = index_dir.with_name(index_dir.name + "-torch")
    shutil.rmtree(torch_dir, ignore_errors=True)
    logger.info("product on torch (QA_RUNTIME=torch, the runtime before ONNX): qa index into %s", torch_dir)
    torch_wall, torch_peak, torch_stdout = run_qa(
        torch_dir, "index", "--json", str(corpus), QA_RUNTIME="torch"
    )
    shutil.rmtree(torch_dir, ignore_errors=True)
    shutil.rmtree(index_dir, ignore_errors=True)
    logger.info("product: qa index into a fresh %s", index_dir)
    wall, peak, stdout = run_qa(index_dir, "index", "--json", str(corpus))
    report = json.loads(stdout)
    disk = dir_bytes(index_dir)
    logger.info("product: re-indexing the unchanged corpus")
    again_wall, _, again_stdout = run_qa(index_dir, "index", "--json", str(corpus))
    again = json.loads(again_stdout)
    articles, chunks = int(report["articles"]), int(report["chunks"])
    torch_chunks = int(json.loads(torch_stdout)["chunks"])
    rows = [
        ["wall time (s)", fmt(floor["wall"]), fmt(torch_wall), fmt(wall), ratio(wall, floor["wall"])],
        ["  of which model load (s)", fmt(floor["load_s"]), "-", "-", ""],
        [
            "articles/s",
            fmt(floor["articles"] / floor["wall"]),
            fmt(articles / torch_wall),
            fmt(articles / wall),
            ratio(floor["wall"], wall),
        ],
        ["texts embedded", str(floor["articles"]), "-", str(report["chunks_embedded"]), ""],
        ["chunks/s", "-", fmt(torch_chunks / torch_wall), fmt(chunks / wall), ratio(torch_wall, wall)],
        [
            "peak RSS (MiB)",
            fmt(floor["peak_rss"] / 2**20),
            fmt(torch_peak / 2**20),
            fmt(peak / 2**20),
            ratio(peak, floor["peak_rss"]),
        ],
        ["peak RSS: ONNX / torch", "", "", "", ratio(peak, torch_peak)],
        ["bytes on disk per chunk", fmt(384 * 4), "-", fmt(disk / max(chunks, 1)), ""],
        ["re-index unchanged: wall (s)", "-", "-", fmt(again_wall), ratio(again_wall, floor["wall"])],
        ["re-index unchanged: texts embedded", "-", "-", str(again["chunks_embedded"]), ""],
    ]
    print_table(
        f"Indexing {corpus.name} ({articles:,} articles, {chunks:,} chunks; {machine()})",
        ["", "floor", "qa index on torch", "qa index", "ratio"],
        rows,
    )
    if again["chunks_embedded"] != 0:
        logger.error("re-indexing an unchanged corpus embedded %s texts", again["chunks_embedded"])
    return {
        "floor": floor,
        "wall": wall,
        "torch_wall": torch_wall,
        "torch_peak": torch_peak,
        "peak": peak,
        "again_wall": again_wall,
        "report": report,
        "again": again,
    }


def main() -> None:
    """Command line."""
    setup_logging()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="squad", help="squad (default), large, or a .jsonl path")
    run(parser.parse_args().corpus)


if __name__ == "__main__":
    main()
