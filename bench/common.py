"""Shared pieces of the benchmarks: paths, timing, subprocesses, memory, tables, fitting."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.answering.picker import Candidate, gather_candidates
from qa.config import Settings
from qa.eval.metrics import percentile
from qa.models import Mode
from qa.runtime.embedding import pick_device

if TYPE_CHECKING:
    from qa.engine import Engine

logger = logging.getLogger("bench")

REPO = Path(__file__).resolve().parent.parent
_EVAL_DIRS = [REPO / "shared" / "eval", REPO.parent / "shared" / "eval"]
EVAL = Path(os.environ.get("QA_BENCH_EVAL") or next((p for p in _EVAL_DIRS if p.is_dir()), _EVAL_DIRS[1]))
SQUAD_DOCS = EVAL / "squad-v1.1" / "docs.jsonl"
SQUAD_QUERIES = EVAL / "squad-v1.1" / "queries.jsonl"
CACHE = Path(os.environ.get("QA_BENCH_CACHE", Path.home() / ".cache" / "qa-bench"))
QA = [sys.executable, "-m", "bots.cli"]
DIMENSION = 384  # the default model's (all-MiniLM-L6-v2) vector size


def setup_logging() -> None:
    """Benchmarks log progress on stderr; tables go to stdout."""
    logging.basicConfig(level=logging.WARNING, format="bench: %(message)s", stream=sys.stderr)
    logger.setLevel(logging.INFO)
    CACHE.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSON-lines file."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def questions(count: int, path: Path = SQUAD_QUERIES) -> list[str]:
    """``count`` questions spread evenly over the query file (one per article region)."""
    records = read_jsonl(path)
    step = max(1, len(records) // count)
    return [str(r["question"]) for r in records[::step][:count]]


def milliseconds(seconds: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of durations in seconds, in milliseconds; NaN (a "-" cell) for none."""
    value = percentile(seconds, q)
    return float("nan") if value is None else value * 1000


def device() -> str:
    """Where the floor encodes: where the product does (``QA_DEVICE`` through the core's choice)."""
    return pick_device(Settings().device)


@contextmanager
def timed() -> Iterator[list[float]]:
    """``with timed() as t:`` leaves the elapsed seconds in ``t[0]``."""
    out: list[float] = []
    start = time.perf_counter()
    try:
        yield out
    finally:
        out.append(time.perf_counter() - start)


def run_measured(
    argv: list[str], env: dict[str, str] | None = None, stdin: str | None = None
) -> tuple[float, int, str]:
    """Run a command to completion: (wall seconds, peak RSS bytes of that process, stdout)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            env={**os.environ, **(env or {})},
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            text=True,
            cwd=REPO,
        )
        if stdin is not None and proc.stdin is not None:
            proc.stdin.write(stdin)
            proc.stdin.close()
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{stderr[-3000:]}")
    return wall, usage.ru_maxrss * 1024, stdout


def floor_in_subprocess(command: str, *args: str) -> dict[str, Any]:
    """Run ``bench.floor_cli`` in a fresh process; its JSON result plus wall time and peak RSS."""
    wall, peak, stdout = run_measured([sys.executable, "-m", "bench.floor_cli", command, *args])
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    result.update(wall=wall, peak_rss=peak)
    return result


def rss_bytes() -> int:
    """This process's resident memory now."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def dir_bytes(path: Path) -> int:
    """Total size of the files under a folder."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def qa_env(index_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a ``qa`` subprocess on ``index_dir``."""
    return {"QA_INDEX_DIR": str(index_dir), "HF_HUB_OFFLINE": "1", **extra}


def run_qa(index_dir: Path, *args: str, **extra: str) -> tuple[float, int, str]:
    """``qa ARGS`` on ``index_dir`` in a fresh process (``extra``: more environment): (wall seconds, peak
    RSS bytes, stdout)."""
    return run_measured([*QA, *args], qa_env(index_dir, **extra))


def ensure_index(index_dir: Path, corpus: Path = SQUAD_DOCS) -> dict[str, Any]:
    """Index ``corpus`` into ``index_dir`` (incremental: nothing is embedded when it is up to date)."""
    logger.info("indexing %s into %s (skipped when unchanged)", corpus, index_dir)
    _, _, stdout = run_qa(index_dir, "index", "--json", str(corpus))
    report: dict[str, Any] = json.loads(stdout)
    return report


def fmt(value: float, unit: str = "") -> str:
    """A number for a table."""
    if value != value:  # NaN
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}{unit}"
    return f"{value:.2f}{unit}" if abs(value) < 10 else f"{value:.1f}{unit}"


def ratio(product: float, floor: float) -> str:
    """Product over floor, as ``1.23x``."""
    return f"{product / floor:.2f}x" if floor > 0 else "-"


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    """A Markdown table on stdout."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"
    print(f"\n### {title}\n")
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    sys.stdout.flush()


def machine() -> str:
    """One line about where the numbers come from."""
    cores = os.cpu_count() or 0
    with open("/proc/meminfo") as handle:
        mem_kb = int(handle.readline().split()[1])
    load = os.getloadavg()[0]
    return f"{cores} cores, {mem_kb / 2**20:.0f} GiB RAM, load {load:.1f}, encoder on {device()}"


def fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 30, weights: np.ndarray | None = None
) -> np.ndarray:
    """L2-regularized logistic regression by Newton's method (last column of ``x`` is the bias);
    ``weights``: one per row (all 1 by default)."""
    w = np.zeros(x.shape[1])
    rows = np.ones(len(y)) if weights is None else weights
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        grad = x.T @ (rows * (p - y)) + l2 * w
        hess = (x * (rows * p * (1 - p))[:, None]).T @ x + l2 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    return w


def picker_candidates(engine: Engine, question: str, mode: Mode | None = None) -> list[Candidate]:
    """Every candidate sentence ``Engine.ask`` weighs for a question with the picker, with its evidence
    (what ``bench.fit_picker`` and ``bench.abstention`` fit on)."""
    question = engine.answerer.validate_question(question)
    engine.archive.ensure_index()
    found = engine.answerer.retriever.retrieve(engine.store, question, max(10, engine.settings.top_k), mode)
    return gather_candidates(
        engine.answerer.evidence(question, found, engine.answerer.picker), engine.answerer.picker
    )
