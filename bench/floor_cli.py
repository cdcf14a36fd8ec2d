"""The floor in a fresh process, for wall-time and peak-memory comparisons with ``qa`` commands.

``python -m bench.floor_cli index DOCS.jsonl [VECTORS.npy]``: load the model, encode each
article's text, build a flat index (optionally save the vectors); ``python -m bench.floor_cli
load``: import the libraries, load the model, encode one question.  Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import read_jsonl, setup_logging
from bench.floors import Floor


def main(argv: list[str]) -> None:
    """Run one floor command."""
    setup_logging()
    start = time.perf_counter()
    floor = Floor()
    loaded = time.perf_counter()
    result: dict[str, float | int | str] = {"load_s": loaded - start, "device": floor.device}
    if argv[0] == "index":
        texts = [str(r["text"]) for r in read_jsonl(Path(argv[1]))]
        floor.build(texts)
        result.update(articles=len(texts), encode_s=time.perf_counter() - loaded)
        if len(argv) > 2:
            np.save(argv[2], floor.index.reconstruct_n(0, floor.index.ntotal))
    elif argv[0] == "load":
        floor.encode(["When did the war start?"])
    else:
        raise SystemExit(f"unknown floor command {argv[0]!r}")
    result["total_s"] = time.perf_counter() - start
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
