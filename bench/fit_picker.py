"""Fit the answer picker's weights and choose the abstention threshold, on dev splits only.

    python -m bench.fit_picker [--limit 1000] [--threshold-limit 1200]

1. Every candidate sentence ``Engine.ask`` weighs for ``--limit`` SQuAD v1.1 dev questions (evenly
   spread; questions of articles in squad-v2.0's *test* split are left out, because v2.0's
   answerable questions are v1.1's) is featurized by ``bench.common.picker_candidates``, the code path of
   ``qa ask``, and labelled "holds a gold answer".
2. A conditional logit (one softmax per question) is fitted by Newton's method, reported with its
   two-fold cross-validated answer_hit@1/@3, then its scale and bias are calibrated by one logistic
   regression over all candidates, so that the score reads as the chance that a sentence answers.
3. The abstention threshold is scanned on ``--threshold-limit`` squad-v2.0 dev questions
   (abstain_accuracy), next to what each threshold costs on the v1.1 questions (answer_hit@1).

Prints the weights as a ``PickerWeights(...)`` literal for qa/answering/answers.py and a threshold table.
Indexes are cached in ``$QA_BENCH_CACHE/fit-*``. Nothing here reads a test split's answers.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.common import CACHE, EVAL, fit_logistic, logger, picker_candidates, setup_logging
from qa.answering.picker import DEFAULT_PICKER, FEATURES, PickerWeights
from qa.config import Settings
from qa.engine import Engine
from qa.eval.evaluate import Query, article_of, load_queries
from qa.eval.metrics import contains_answer

Matrix = npt.NDArray[np.float64]


@dataclasses.dataclass
class Question:
    """One question's candidates: features, labels, texts (for de-duplication)."""

    features: Matrix
    labels: Matrix
    texts: list[str]
    impossible: bool = False


def featurize(engine: Engine, queries: list[Query]) -> list[Question]:
    """The candidates of each question, as ``Engine.ask`` sees them."""
    out = []
    for number, query in enumerate(queries, start=1):
        candidates = picker_candidates(engine, query.question)
        features = np.array([c.features() for c in candidates], dtype=np.float64).reshape(-1, len(FEATURES))
        labels = np.array([float(contains_answer(c.text, query.answers)) for c in candidates])
        out.append(Question(features, labels, [c.text for c in candidates], bool(query.impossible)))
        if number % 100 == 0:
            logger.info("featurized %d/%d questions", number, len(queries))
    return out


def softmax_loss(w: Matrix, data: list[Question], l2: float) -> float:
    total = 0.5 * l2 * float(w @ w)
    for q in data:
        if not len(q.labels) or q.labels.sum() == 0:
            continue
        z = q.features @ w
        lse = z.max() + np.log(np.exp(z - z.max()).sum())
        total -= float((q.labels / q.labels.sum()) @ (z - lse))
    return total


def fit_softmax(data: list[Question], l2: float = 0.1, iterations: int = 30) -> Matrix:
    """Conditional logit: per question, softmax over candidates towards the gold-holding ones."""
    w = np.zeros(len(FEATURES))
    for _ in range(iterations):
        grad = l2 * w
        hess = l2 * np.eye(len(w))
        for q in data:
            if not len(q.labels) or q.labels.sum() == 0:
                continue
            z = q.features @ w
            p = np.exp(z - z.max())
            p /= p.sum()
            grad = grad + q.features.T @ (p - q.labels / q.labels.sum())
            mean = p @ q.features
            hess = hess + (q.features * p[:, None]).T @ q.features - np.outer(mean, mean)
        step = np.linalg.solve(hess, grad)
        rate, base = 1.0, softmax_loss(w, data, l2)
        while softmax_loss(w - rate * step, data, l2) > base and rate > 1e-4:
            rate /= 2
        w = w - rate * step
    return w


def hits(w: Matrix, data: list[Question]) -> tuple[float, float]:
    """answer_hit@1 and @3 of ranking each question's candidates by ``features @ w`` (one per text)."""
    one = three = 0.0
    for q in data:
        if not len(q.labels):
            continue
        seen: set[str] = set()
        top: list[int] = []
        for i in np.argsort(-(q.features @ w)):
            if q.texts[i] not in seen:
                seen.add(q.texts[i])
                top.append(int(i))
            if len(top) == 3:
                break
        one += q.labels[top[0]]
        three += q.labels[top].max()
    return one / len(data), three / len(data)


def calibrate(w: Matrix, data: list[Question]) -> tuple[float, float]:
    """Scale a and bias b so that sigmoid(a·z + b) is the chance a candidate holds an answer."""
    z = np.concatenate([q.features @ w for q in data])
    y = np.concatenate([q.labels for q in data])
    # Next to no regularization: two parameters fitted on every candidate of every question.
    a, b = fit_logistic(np.stack([z, np.ones_like(z)], axis=1), y, l2=1e-6, iterations=50)
    return float(a), float(b)


def top_scores(weights: PickerWeights, data: list[Question]) -> list[tuple[float, bool]]:
    """Per question: the best candidate's score and whether it holds an answer."""
    out = []
    for q in data:
        if not len(q.labels):
            out.append((0.0, False))
            continue
        z = q.features @ np.array([getattr(weights, n) for n in FEATURES]) + weights.bias
        best = int(np.argmax(z))
        out.append((float(1 / (1 + np.exp(-z[best]))), bool(q.labels[best])))
    return out


def engine_for(name: str, docs: Path) -> Engine:
    engine = Engine(Settings(index_dir=CACHE / f"fit-{name}"))
    report = engine.index_paths([docs])
    logger.info("%s: %d articles indexed, %d unchanged", name, len(report.added), report.unchanged)
    return engine


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=1000, help="SQuAD v1.1 dev questions to fit on")
    parser.add_argument("--threshold-limit", type=int, default=1200, help="squad-v2.0 dev questions")
    args = parser.parse_args(argv)
    setup_logging()

    v2_test = load_queries(EVAL / "squad-v2.0" / "queries.jsonl", "test")
    v2_test_articles = {article_of(d) for q in v2_test for d in q.doc_ids}
    v1 = load_queries(EVAL / "squad-v1.1" / "queries.jsonl", "dev", args.limit)
    v1 = [q for q in v1 if article_of(q.doc_ids[0]) not in v2_test_articles]
    logger.info("fitting on %d SQuAD v1.1 dev questions", len(v1))
    data = featurize(engine_for("squad-v1.1", EVAL / "squad-v1.1" / "docs.jsonl"), v1)

    current = np.array([getattr(DEFAULT_PICKER, n) for n in FEATURES])
    halves = (data[::2], data[1::2])
    folds = [hits(fit_softmax(train), test) for train, test in (halves, halves[::-1])]
    w = fit_softmax(data)
    scale, bias = calibrate(w, data)
    scaled: dict[str, Any] = {n: round(float(v) * scale, 2) for n, v in zip(FEATURES, w, strict=True)}
    fitted = dataclasses.replace(DEFAULT_PICKER, bias=round(bias, 2), **scaled)
    ceiling = np.mean([q.labels.max(initial=0) for q in data])
    print(f"questions: {len(data)}; the best candidate holds an answer for {ceiling:.3f}")
    print("| picker | answer_hit@1 | answer_hit@3 |\n|---|---|---|")
    print("| shipped weights (in-sample) | {:.3f} | {:.3f} |".format(*hits(current, data)))
    cv = np.mean(folds, axis=0)
    print(f"| refitted, two-fold cross-validated | {cv[0]:.3f} | {cv[1]:.3f} |")
    print("| refitted (in-sample) | {:.3f} | {:.3f} |".format(*hits(w, data)))
    print()
    print(fitted)

    v2 = load_queries(EVAL / "squad-v2.0" / "queries.jsonl", "dev", args.threshold_limit)
    logger.info("scanning thresholds on %d squad-v2.0 dev questions", len(v2))
    v2_data = featurize(engine_for("squad-v2.0", EVAL / "squad-v2.0" / "docs.jsonl"), v2)
    v2_top = top_scores(fitted, v2_data)
    v1_top = top_scores(fitted, data)
    print("\n| threshold | squad-v2.0 dev abstain_accuracy | squad-v1.1 dev answer_hit@1 |\n|---|---|---|")
    for threshold in (0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
        right = sum(
            (s < threshold) if q.impossible else (s >= threshold and hit)
            for q, (s, hit) in zip(v2_data, v2_top, strict=True)
        )
        kept = sum(s >= threshold and hit for s, hit in v1_top)
        print(f"| {threshold} | {right / len(v2_data):.3f} | {kept / len(v1_top):.3f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
