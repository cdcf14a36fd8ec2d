"""A small dated news archive for the time and duplicate tests: docs/eastport.jsonl, invented stories
(one re-published by a second outlet, one without a date), also the README's worked example; and a
tiny news benchmark folder for ``qa eval``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

ARCHIVE = Path(__file__).resolve().parents[1] / "docs" / "eastport.jsonl"
ARTICLES: list[dict[str, Any]] = [
    json.loads(line) for line in ARCHIVE.read_text(encoding="utf-8").splitlines()
]
BRIDGE_OPENED: str = next(a["text"] for a in ARTICLES if a["id"] == "bridge-opened")


def write_archive(folder: Path) -> Path:
    """A copy of the archive in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(ARCHIVE, folder / "eastport.jsonl"))


BENCHMARK_DOCS = [
    {"id": "n1", "title": "FERRY", "published": "1987-03-02T10:00:00",
     "text": "The island ferry service was started by Thomas Ashby in 1821, the port said."},
    {"id": "n2", "title": "COCOA", "published": "1987-03-04T10:00:00",
     "text": "Cocoa arrivals in Bahia rose to 155,221 bags in the week, traders said."},
]  # fmt: skip
BENCHMARK_QUESTIONS = [
    {"id": "q1", "question": "Who started the island ferry service?", "answers": ["Thomas Ashby"],
     "doc_ids": ["n1"], "split": "dev", "type": "who"},
    {"id": "q2", "question": "How many bags of cocoa arrived in Bahia?", "answers": ["155,221"],
     "doc_ids": ["n2"], "split": "dev", "type": "how many"},
    {"id": "q3", "question": "Which airline bought the shipyard?", "answers": [], "doc_ids": [],
     "split": "dev", "is_impossible": True},
]  # fmt: skip


def write_benchmark(folder: Path) -> Path:
    """A tiny news benchmark folder in the format of reuters-1987: dated stories, typed questions and
    an unanswerable one without documents."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("docs", BENCHMARK_DOCS), ("queries", BENCHMARK_QUESTIONS)):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return folder
