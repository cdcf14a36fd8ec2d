"""Benchmark 4, cold start: process start to first answer of ``qa ask`` vs libraries + model alone.

Usage: ``python -m bench.cold_start [--runs 3]``.  The floor is a fresh Python process that imports
sentence-transformers and faiss, loads the bundled model and encodes one question.  The product
is ``qa ask "When did the war start?"`` on an index of the bundled seeds (built by an unmeasured
``qa index``) and on the SQuAD index of ``bench.indexing``.  Runs alternate; medians are shown.
"""

from __future__ import annotations

import argparse
import statistics

from bench.common import (
    CACHE,
    REPO,
    ensure_index,
    floor_in_subprocess,
    fmt,
    logger,
    machine,
    print_table,
    ratio,
    run_qa,
    setup_logging,
)

QUESTION = "When did the war start?"


def main() -> None:
    """Command line."""
    setup_logging()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    seeds_index = CACHE / "seeds-index"
    squad_index = CACHE / "squad-index"
    ensure_index(seeds_index, REPO / "seeds")  # a chosen index directory is built by `qa index` alone
    ensure_index(squad_index)
    floor: list[float] = []
    seeds: list[float] = []
    squad: list[float] = []
    for number in range(args.runs):
        logger.info("cold start run %d/%d", number + 1, args.runs)
        floor.append(floor_in_subprocess("load")["wall"])
        seeds.append(run_qa(seeds_index, "-q", "ask", QUESTION)[0])
        squad.append(run_qa(squad_index, "-q", "ask", QUESTION)[0])
    base = statistics.median(floor)
    rows = [
        ["floor: import + load model + encode one question", fmt(base), ""],
        ["qa ask, seeds index", fmt(statistics.median(seeds)), ratio(statistics.median(seeds), base)],
        ["qa ask, SQuAD index", fmt(statistics.median(squad)), ratio(statistics.median(squad), base)],
    ]
    print_table(f"Cold start, median of {args.runs} runs ({machine()})", ["", "seconds", "ratio"], rows)


if __name__ == "__main__":
    main()
