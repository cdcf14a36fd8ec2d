"""Benchmark 4, cold start: a fresh ``qa ask`` from process start to its printed answer.

Usage: ``python -m bench.cold_start [--runs 5] [--squad]``.  The reference, measured in the same
run, is a fresh Python process that only runs ``import torch``: the target is ``qa ask`` on the
index of the bundled seeds in less time than that (torch is not on the query path) and in at most
2 s on an idle 2-core machine.  Beside it: the bare interpreter, the older floor (a process that
imports sentence-transformers and faiss, loads the bundled model and encodes one question), and
with ``--squad`` ``qa ask`` on the SQuAD index of ``bench.indexing``.  First the checkout's ``qa``
and ``bots`` packages are compiled to bytecode (``compileall``, into the usual ignored
``__pycache__`` folders), so that ``qa ask`` runs as an install runs it (pip compiles on install, an
editable checkout on its first run) even where ``PYTHONDONTWRITEBYTECODE`` is set, which would
otherwise have every measured run compile about 55 modules from source (about 70 ms here).  Then the
indexes are built by unmeasured ``qa index`` runs; one more unmeasured ``qa ask`` under
``-X importtime`` names the heavy libraries it imported.  Runs alternate; medians are shown.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import (
    CACHE,
    QA,
    REPO,
    ensure_index,
    fmt,
    logger,
    machine,
    print_table,
    qa_env,
    setup_logging,
)

QUESTION = "When did the war start?"
EXPECTED = "September 27"  # in the seed article's answer
HEAVY = ("torch", "transformers", "sentence_transformers", "onnxruntime", "faiss", "spacy")


def until_first_line(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run a command: (seconds to its first line on stdout, seconds to its exit, that line)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},  # the line leaves when printed
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    printed = time.perf_counter() - start
    _, stderr = proc.communicate()
    ended = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{stderr[-3000:]}")
    return printed, ended, line.strip()


def python(code: str) -> list[str]:
    """A fresh interpreter that runs ``code`` and prints one line."""
    return [sys.executable, "-c", f"{code}\nprint('done')"]


def heavy_imports(index_dir: Path) -> list[str]:
    """The heavy libraries one ``qa ask`` imports (read from ``-X importtime``)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *QA[1:], "-q", "ask", QUESTION],
        env={**os.environ, **qa_env(index_dir)},
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    return [name for name in HEAVY if name in imported]


def compile_checkout() -> None:
    """Compile ``qa`` and ``bots`` to bytecode as installing them does (a no-op when it is up to date)."""
    for package in ("qa", "bots"):
        if not compileall.compile_dir(REPO / package, quiet=1):
            raise SystemExit(f"cannot compile {REPO / package} (see the errors above)")


def main() -> None:
    """Command line."""
    setup_logging()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--squad", action="store_true", help="also qa ask on the SQuAD index")
    args = parser.parse_args()
    compile_checkout()
    indexes = {"seeds": CACHE / "seeds-index"}
    ensure_index(indexes["seeds"], REPO / "seeds")  # a chosen index directory is built by `qa index` alone
    if args.squad:
        indexes["SQuAD"] = CACHE / "squad-index"
        ensure_index(indexes["SQuAD"])
    commands = {
        "python -c pass": (python("pass"), None),
        'python -c "import torch"': (python("import torch"), None),
        "floor: import + load model + encode one question": (
            [sys.executable, "-m", "bench.floor_cli", "load"],
            None,
        ),
        **{
            f"qa ask, {name} index": ([*QA, "-q", "ask", QUESTION], qa_env(folder))
            for name, folder in indexes.items()
        },
    }
    printed: dict[str, list[float]] = {label: [] for label in commands}
    ended: dict[str, list[float]] = {label: [] for label in commands}
    before = machine()
    for number in range(args.runs):
        logger.info("cold start run %d/%d", number + 1, args.runs)
        for label, (argv, env) in commands.items():
            first, last, line = until_first_line(argv, env)
            if label == "qa ask, seeds index" and EXPECTED not in line:
                raise SystemExit(f"qa ask printed {line!r}, not the seed article's answer")
            printed[label].append(first)
            ended[label].append(last)
    torch_s = statistics.median(printed['python -c "import torch"'])
    rows = []
    for label in commands:
        first, last = statistics.median(printed[label]), statistics.median(ended[label])
        rows.append([label, fmt(first), fmt(last), f"{first / torch_s:.2f}x"])
    heavy = heavy_imports(indexes["seeds"])
    title = f"Cold start, median of {args.runs} runs (before: {before}; after: {machine()})"
    header = ["process", "s to printed line", "s to exit", "vs import torch"]
    print_table(title, header, rows)
    seeds = statistics.median(printed["qa ask, seeds index"])
    verdict = "met" if seeds < torch_s and seeds <= 2.0 else "not met"
    print(
        f"\nqa ask on the seeds index: {seeds:.2f} s, {seeds / torch_s:.2f}x import torch; "
        f"target (< import torch and <= 2 s) {verdict}. "
        f"Heavy libraries it imports: {', '.join(heavy) or 'none'}."
    )


if __name__ == "__main__":
    main()
