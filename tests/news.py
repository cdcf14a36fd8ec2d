"""A small dated news archive for the time and duplicate tests: docs/eastport.jsonl, invented stories
(one re-published by a second outlet, one without a date), also the README's worked example."""

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
