"""How far calibration alone can take the trained reader, on the readings ``bench.calibrate_reader`` kept.

    python -m bench.calibrate_reader        # first: reads the dev questions and keeps the readings
    python -m bench.reader_ceiling [--limit 2000] [--seed 7]

Prints, on those held-out dev questions (no reading runs again):

1. the *ceiling*: the share of answerable questions where any of the readings (one per passage read)
   holds a gold answer: no ranking or calibration of these readings can reach a higher answer_hit@1;
2. question-level evidence beside the shipped features, each set fitted and thresholded on one half
   of the questions and scored on the other (as ``calibrate_reader``'s own table): a reading's
   margin and retrieval score relative to the question's best, its rank, the gap between the best
   two margins, a softmax of the margins, products with the retrieval score and squares;
3. for each set, the threshold chosen for the absent articles (shipped) and the one best for both
   settings together, to show whether any single threshold serves "not in the archive" and
   squad-v2.0's near-miss questions at once.
"""

from __future__ import annotations

import argparse
import pickle
from collections.abc import Callable

import numpy as np

from bench.calibrate_reader import readings_path
from bench.calibration import (
    GRID,
    SHIPPED,
    Asked,
    accuracy,
    at_depth,
    best_threshold,
    columns,
    fit,
    top_right,
    two_folds,
)
from qa.answering.reader import WEIGHTS_DIR, ReaderConfig
from qa.config import READ_PASSAGES

ABSENT, V2 = "squad-v1.1 absent 0.5", "squad-v2.0"
MARGIN, RETRIEVAL = SHIPPED.index("margin"), SHIPPED.index("retrieval")


def _margins(a: Asked) -> tuple[np.ndarray, np.ndarray]:
    return a.features[:, MARGIN], a.features[:, RETRIEVAL]


def relative(a: Asked) -> np.ndarray:
    margin, retrieval = _margins(a)
    return np.c_[margin - margin.max(), retrieval - retrieval.max()]


def rank(a: Asked) -> np.ndarray:
    return np.arange(len(a.features), dtype=float)[:, None]


def gap(a: Asked) -> np.ndarray:
    margin, _ = _margins(a)
    ordered = np.sort(margin)[::-1]
    second = ordered[1] if len(ordered) > 1 else ordered[0] - 5.0
    return np.full((len(margin), 1), ordered[0] - second)


def softmax(a: Asked) -> np.ndarray:
    margin, _ = _margins(a)
    e = np.exp(margin - margin.max())
    return (e / e.sum())[:, None]


def products(a: Asked) -> np.ndarray:
    margin, retrieval = _margins(a)
    return np.c_[margin * retrieval, margin**2 / 10, retrieval**2]


EXTRA: dict[str, Callable[[Asked], np.ndarray]] = {
    "relative": relative,
    "rank": rank,
    "gap": gap,
    "softmax": softmax,
    "products": products,
}
SETS = ((), ("relative",), ("rank",), ("gap",), ("softmax",), ("products",), tuple(EXTRA))


def with_extra(data: list[Asked], names: tuple[str, ...]) -> list[Asked]:
    """The questions with these question-level columns added to the shipped features."""
    out = []
    for a in data:
        if not len(a.features) or not names:
            out.append(a)
            continue
        extra = [EXTRA[n](a) for n in names]
        out.append(Asked(a.setting, np.hstack([a.features, *extra]), a.right, a.must_abstain))
    return out


def ceiling(data: list[Asked], setting: str) -> float:
    answerable = [a for a in data if a.setting == setting and not a.must_abstain]
    return sum(bool(a.right.any()) for a in answerable) / max(1, len(answerable))


def held_out(data: list[Asked], names: tuple[str, ...], joint: bool) -> tuple[float, float, float]:
    """(absent, squad-v2.0, hit@1 without abstaining), two folds, threshold chosen on the training fold."""
    one, other = (with_extra(fold, names) for fold in two_folds(data, [ABSENT, V2]))
    total = np.zeros(3)
    for train, test in ((one, other), (other, one)):
        w = fit(train)
        if joint:
            absent_q = [a for a in train if a.setting == ABSENT]
            v2_q = [a for a in train if a.setting == V2]
            t = float(max(GRID, key=lambda t: accuracy(absent_q, w, t) + accuracy(v2_q, w, t)))
        else:
            t = best_threshold(train, w, ABSENT)
        total += [
            accuracy([a for a in test if a.setting == ABSENT], w, t),
            accuracy([a for a in test if a.setting == V2], w, t),
            top_right(test, w),
        ]
    absent, v2, hit = total / 2
    return float(absent), float(v2), float(hit)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=2000, help="as given to calibrate_reader")
    parser.add_argument("--seed", type=int, default=7, help="as given to calibrate_reader")
    parser.add_argument("--depth", type=int, default=10, help="as given to calibrate_reader")
    parser.add_argument("--passages", type=int, default=READ_PASSAGES, help="passages read, of --depth")
    args = parser.parse_args(argv)
    kept = readings_path(ReaderConfig.load(WEIGHTS_DIR).weights_sha256, args.limit, args.seed, args.depth)
    files = [kept.with_name(f"{kept.stem}-{name.replace(' ', '-')}.pkl") for name in (ABSENT, V2)]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        parser.error(f"no kept readings at {', '.join(missing)}: run python -m bench.calibrate_reader first")
    data = columns(at_depth([a for f in files for a in pickle.loads(f.read_bytes())], args.passages), SHIPPED)
    print(
        f"ceiling (any reading right, answerable questions): {ABSENT} {ceiling(data, ABSENT):.3f}, "
        f"{V2} {ceiling(data, V2):.3f}"
    )
    print(f"| shipped features + | threshold for | held-out {ABSENT} | held-out {V2} | held-out hit@1 |")
    print("|---|---|---|---|---|")
    for names in SETS:
        for joint in (False, True):
            absent, v2, hit = held_out(data, names, joint)
            label = " + ".join(names) or "(nothing)"
            print(f"| {label} | {'both' if joint else 'absent'} | {absent:.3f} | {v2:.3f} | {hit:.3f} |")


if __name__ == "__main__":
    main()
