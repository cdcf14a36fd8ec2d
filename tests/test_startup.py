"""Start-up stays light: `qa` commands that explain or list the archive import no heavy library."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# The model runtimes, FAISS, the text and web stacks, the servers: seconds of imports between them.
HEAVY = (
    "torch",
    "transformers",
    "sentence_transformers",
    "onnxruntime",
    "onnx",
    "faiss",
    "spacy",
    "trafilatura",
    "pymilvus",
    "uvicorn",
    "fastapi",
    "telegram",
)
# Runs `qa ARGS` in this interpreter, then names on stderr the heavy modules it had imported.
PROBE = """
import atexit, sys
heavy = sys.argv.pop(1).split(",")
atexit.register(lambda: print("imported:", *sorted(m for m in heavy if m in sys.modules), file=sys.stderr))
sys.argv[0] = "qa"
from bots.cli import main
main()
"""


def probe(*args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run `qa ARGS` (the default index location unless ``QA_INDEX_DIR`` is given): the finished
    process and the heavy modules it imported."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(HEAVY), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**{k: v for k, v in os.environ.items() if k != "QA_INDEX_DIR"}, "HF_HUB_OFFLINE": "1", **env},
        timeout=240,
        check=False,
    )
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("imported:"), done.stderr
    return done, last.split()[1:]


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["docs"],
        ["docs", "--json"],
        ["docs", "show", "1ae005b486a4"],
        ["feeds", "list"],
    ],
)
def test_listing_commands_import_nothing_heavy(seed_index_dir: Path, args: list[str]) -> None:
    """Help, the version and listing an index's articles or feeds load no model, FAISS or server."""
    done, heavy = probe(*args, QA_INDEX_DIR=str(seed_index_dir))
    assert done.returncode == 0, done.stderr
    assert heavy == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["docs"], "The index is empty"),
        (["docs", "show", "1ae005b486a4"], "qa: error: no document with id '1ae005b486a4'"),
        (["feeds", "list"], "No feeds yet"),
    ],
)
def test_listing_before_the_first_index_imports_nothing_heavy(
    tmp_path: Path, args: list[str], says: str
) -> None:
    """At the default location before any index exists, listing says so, loads no model and creates
    nothing (the first `qa ask` builds the index there)."""
    done, heavy = probe(*args, XDG_DATA_HOME=str(tmp_path))
    assert says in done.stdout + done.stderr
    assert heavy == []
    assert not (tmp_path / "qa-bot").exists()
