"""How well can the evidence the picker has decide when to abstain? Measured on squad-v2.0 dev only.

    python -m bench.abstention [--limit 3000] [--folds 5]

For each question, the candidate sentences ``Engine.ask`` weighs (``bench.common.picker_candidates``) are
ranked by the shipped picker and the best one is taken, as ``qa ask`` does. Answering is right
when the question is answerable and that sentence holds a gold answer; abstaining is right when
the question is impossible (the ``abstain_accuracy`` of ``qa eval``). Signals of the best sentence:
its score, each picker feature, the margin to the next sentence's score, and the cosine of the
question with the sentence encoded on its own (outside its passage; one extra encode).

Prints the best single threshold on each signal, then a logistic regression over all of them
with its threshold chosen on the training folds, evaluated on held-out folds (grouped by
Wikipedia article, so no article is in both). Nothing here reads a test split.
"""

from __future__ import annotations

import argparse

import numpy as np
import numpy.typing as npt

from bench.common import EVAL, fit_logistic, logger, picker_candidates, setup_logging
from bench.fit_picker import engine_for
from qa.answering.picker import DEFAULT_PICKER, FEATURES, score
from qa.eval.evaluate import article_of, load_queries
from qa.eval.metrics import contains_answer

Matrix = npt.NDArray[np.float64]
SIGNALS = ("score", *FEATURES, "margin", "cosine alone")


def signals(limit: int) -> tuple[Matrix, Matrix, Matrix, list[str]]:
    """Per question: its signals, impossible (0/1), best sentence holds an answer (0/1), article."""
    engine = engine_for("squad-v2.0", EVAL / "squad-v2.0" / "docs.jsonl")
    queries = load_queries(EVAL / "squad-v2.0" / "queries.jsonl", "dev", limit)
    rows, impossible, hit, groups = [], [], [], []
    for number, query in enumerate(queries, start=1):
        candidates = picker_candidates(engine, query.question)
        ranked = sorted(((score(c, DEFAULT_PICKER), c) for c in candidates), key=lambda x: -x[0])
        impossible.append(float(bool(query.impossible)))
        groups.append(article_of(query.doc_ids[0]))
        if not ranked:
            rows.append([0.0] * len(SIGNALS))
            hit.append(0.0)
            continue
        best, top = ranked[0]
        following = next((s for s, c in ranked if c.text != top.text), 0.0)
        question, sentence = engine.embedder.encode([query.question, top.text])
        rows.append([best, *top.features(), best - following, float(question @ sentence)])
        hit.append(float(bool(query.answers) and contains_answer(top.text, query.answers)))
        if number % 250 == 0:
            logger.info("%d/%d questions", number, len(queries))
    return np.array(rows), np.array(impossible), np.array(hit), groups


def accuracy(values: Matrix, threshold: float, impossible: Matrix, hit: Matrix) -> float:
    """abstain_accuracy when answering exactly the questions whose value reaches ``threshold``."""
    answered = values >= threshold
    return float(np.mean(np.where(impossible > 0, ~answered, answered & (hit > 0))))


def best_threshold(values: Matrix, impossible: Matrix, hit: Matrix) -> tuple[float, float]:
    """(accuracy, threshold) of the best single threshold on ``values``."""
    candidates = np.unique(np.quantile(values, np.linspace(0, 1, 401)))
    scored = [(accuracy(values, t, impossible, hit), float(t)) for t in candidates]
    return max(scored)


def cross_validated(x: Matrix, impossible: Matrix, hit: Matrix, groups: list[str], folds: int) -> float:
    """Held-out abstain_accuracy of a logistic over all signals, threshold chosen in-fold."""
    articles = sorted(set(groups))
    fold_of = {a: n % folds for n, a in enumerate(articles)}
    fold = np.array([fold_of[g] for g in groups])
    right = 0.0
    for k in range(folds):
        train, test = fold != k, fold == k
        mean, spread = x[train].mean(axis=0), x[train].std(axis=0) + 1e-9
        design = np.hstack([(x - mean) / spread, np.ones((len(x), 1))])
        label = (1 - impossible) * hit  # answering is right
        w = fit_logistic(design[train], label[train])
        z = design @ w
        _, threshold = best_threshold(z[train], impossible[train], hit[train])
        right += accuracy(z[test], threshold, impossible[test], hit[test]) * test.sum()
    return right / len(x)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=3000, help="squad-v2.0 dev questions")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)
    setup_logging()
    x, impossible, hit, groups = signals(args.limit)
    answerable = impossible == 0
    print(
        f"{len(x)} squad-v2.0 dev questions, {impossible.mean():.3f} impossible; the best sentence "
        f"holds an answer for {hit[answerable].mean():.3f} of the answerable ones\n"
    )
    print("| abstain when | abstain_accuracy |\n|---|---|")
    print(f"| always | {impossible.mean():.3f} |")
    print(f"| never | {np.mean((1 - impossible) * hit):.3f} |")
    perfect = np.mean(impossible + (1 - impossible) * hit)
    print(f"| exactly the impossible questions (a perfect detector) | {perfect:.3f} |")
    for n, name in enumerate(SIGNALS):
        acc, threshold = best_threshold(x[:, n], impossible, hit)
        print(f"| {name} < {threshold:.3g} (best single threshold, in-sample) | {acc:.3f} |")
    cv = cross_validated(x, impossible, hit, groups, args.folds)
    print(f"| logistic over all {len(SIGNALS)} signals ({args.folds}-fold by article, held out) | {cv:.3f} |")


if __name__ == "__main__":
    main()
