"""Calibrate the trained reader's scores and choose its abstention threshold, on dev splits only.

    python -m bench.calibrate_reader [--limit 2000]

Runs after ``python -m bench.train_reader``. The questions are SQuAD dev questions that the reader
never trained on (their articles are in a test split of the other SQuAD folder, so training left
them out; their own split is dev): squad-v2.0's, with its unanswerable ones, over the whole
squad-v2.0 archive, and squad-v1.1's over an archive that holds only half of its articles
(``qa eval --absent 0.5``'s choice), so that a question about a missing article must be refused.
Every question goes through ``Answerer.read`` (retrieval, then the reader over the top passages).

1. A logistic over each reading's evidence (``qa.answering.answers.READER_FEATURES``) is fitted with the
   label "the sentence holding the span holds a gold answer": the answer's score is that chance.
2. The threshold on it maximizes ``abstain_accuracy`` where the archive lacks the article (the
   refusal a news reader needs); squad-v2.0's is printed beside it.
Both are written into ``reader.json`` beside the weights.
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
from pathlib import Path

import numpy as np

from bench import calibration as fitting
from bench.common import CACHE, EVAL, logger, read_jsonl, setup_logging
from bench.reader_data import dev_questions
from qa.answering.answers import READER_FEATURES, question_features, sentence_around, span_key
from qa.answering.reader import CONFIG_FILE, WEIGHTS_DIR
from qa.config import READ_PASSAGES, Settings
from qa.engine import Engine
from qa.eval.evaluate import article_of, datelines_left_in, documents_without, is_absent
from qa.eval.metrics import contains_answer


def ask_all(
    engine: Engine, questions: list[tuple[str, list[str], bool]], setting: str, depth: int
) -> list[fitting.Asked]:
    """Readings of the top ``depth`` passages of every question: (question, gold answers, whether it
    must be refused)."""
    out = []
    engine.archive.ensure_index()
    for number, (question, answers, refuse) in enumerate(questions, start=1):
        passages, readings, terms = engine.answerer.read(question, max(10, depth), depth=depth)
        rows, right = [], []
        for reading, features in zip(readings, question_features(passages, readings, terms), strict=True):
            passage = passages[reading.passage]
            rows.append([features[name] for name in READER_FEATURES])
            begin, end = sentence_around(passage, reading.start, reading.end)
            right.append(not refuse and contains_answer(passage.text[begin:end], answers))
        out.append(
            fitting.Asked(
                setting,
                np.array(rows).reshape(-1, len(READER_FEATURES)),
                np.array(right, bool),
                refuse,
                np.array([r.passage for r in readings], int),
                tuple(span_key(passages[r.passage], r) for r in readings),
            )
        )
        if number % 200 == 0:
            logger.info("%s: %d/%d questions read", setting, number, len(questions))
    return out


def readings_path(weights_sha256: str, limit: int, seed: int, depth: int = 5) -> Path:
    """Where the readings of one reader's calibration run are kept (a refit reads nothing again): one
    file per reader, question set and runtime (int8 and fp32 readings differ in the last digits)."""
    suffix = "" if depth == 5 else f"-depth{depth}"
    settings = Settings()
    runtime = settings.model_runtime()
    if runtime == "onnx":
        runtime += "-int8" if settings.quantize else "-fp32"
    # readings kept before a feature was added lack it: the feature count is part of the name
    features = f"-f{len(READER_FEATURES)}"
    return CACHE / f"calibrate-readings-{weights_sha256[:12]}-{limit}-{seed}{suffix}-{runtime}{features}.pkl"


def held_out_report(
    data: list[fitting.Asked], settings: list[str], refusals: tuple[str, ...], weighted: dict[str, float]
) -> None:
    """Two-fold cross-validation of each feature set: fitted and thresholded on one half of the
    questions, scored on the other (so the table says what the features are worth on new questions)."""
    folds = fitting.two_folds(data, settings)
    print("| features | held-out " + " | held-out ".join(settings) + " | held-out hit@1 without abstaining |")
    print("|---|" + "---|" * (len(settings) + 1))
    for names in FEATURE_SETS:
        scores = np.zeros(len(settings) + 1)  # each setting's abstain_accuracy, then hit@1
        for one, other in ((folds[0], folds[1]), (folds[1], folds[0])):
            train, test = fitting.columns(one, names), fitting.columns(other, names)
            w = fitting.fit(train, weighted)
            t = fitting.best_threshold(train, w, refusals)
            scores[:-1] += [fitting.accuracy([a for a in test if a.setting == s], w, t) for s in settings]
            scores[-1] += fitting.top_right(test, w)
        print(f"| {' '.join(names)} | " + " | ".join(f"{v / 2:.3f}" for v in scores) + " |")


def calibration_curve(data: list[fitting.Asked], w: np.ndarray, settings: list[str]) -> None:
    """Per setting, the share of first answers that are right in each score bucket (answerable or not:
    an answer to a question that must be refused is wrong)."""
    print("| first answer's score | " + " | ".join(settings) + " |")
    print("|---|" + "---|" * len(settings))
    for low, high in BUCKETS:
        cells = []
        for setting in settings:
            hits = []
            for a in data:
                if a.setting != setting or not len(a.features):
                    continue
                z = a.features @ w[:-1] + w[-1]
                best = int(np.argmax(z))
                if low <= 1.0 / (1.0 + np.exp(-z[best])) < high:
                    hits.append(bool(a.right[best]) and not a.must_abstain)
            cells.append(f"{np.mean(hits):.2f} of {len(hits)}" if hits else "-")
        print(f"| {low:.2f}-{min(high, 1.0):.2f} | " + " | ".join(cells) + " |")


BUCKETS = ((0.0, 0.2), (0.2, 0.4), (0.4, 0.55), (0.55, 0.7), (0.7, 0.85), (0.85, 1.01))
DEPTHS = (5, 8, 10)  # passages read per question, compared on the same readings
ABSENT, NEWS = "squad-v1.1 absent 0.5", "reuters-1987"
# The shipped calibration weighs the reading, its passage, how many other passages agree with its
# span, the cosine of the span's sentence and the question, and the span's share of all the spans
# found for the question: on SQuAD alone that cosine added nothing beyond noise, but on news, whose
# questions are paraphrases, it adds about 0.02 held out; the share adds about 0.02 on news and 0.01
# to hit@1 everywhere, at a cost of about 0.03 on squad-v2.0's near misses; a name of the question
# that no passage holds (unseen_name) adds about 0.03 on news, where it marks 70% of the questions
# that must be refused and none of the answerable ones (docs/eval.md). The share
# of the question's terms in that sentence gains only on SQuAD, whose questions reuse their
# sentence's words; with it, right answers to questions asked in other words fell under the
# threshold, so it is not shipped.
FEATURE_SETS = (
    READER_FEATURES[:5],
    READER_FEATURES[:6],
    READER_FEATURES[:7],
    (*READER_FEATURES[:7], "share"),
    (*READER_FEATURES[:7], "share", "unseen_name"),
    READER_FEATURES,
)


def questions_of(
    seed: int, limit: int, with_news: bool = True
) -> dict[str, tuple[list[tuple[str, list[str], bool]], Path]]:
    """Each setting's (question, gold answers, must it be refused) and the documents of its archive."""
    rng = random.Random(seed)
    held_out = dev_questions(EVAL, trainable=False)
    v2 = [
        (q["question"], q["answers"], bool(q.get("is_impossible")))
        for q, _ in held_out
        if "is_impossible" in q
    ]
    v1 = [
        (q["question"], q["answers"], is_absent(article_of(q["doc_ids"][0]), 0.5))
        for q, _ in held_out
        if "is_impossible" not in q
    ]
    out = {
        "squad-v2.0": (rng.sample(v2, min(limit, len(v2))), EVAL / "squad-v2.0" / "docs.jsonl"),
        ABSENT: (
            rng.sample(v1, min(limit, len(v1))),
            documents_without(EVAL / "squad-v1.1" / "docs.jsonl", 0.5)[0],
        ),
    }
    news_dir = EVAL / NEWS
    if with_news and (news_dir / "queries.jsonl").is_file():  # calibrated on, never trained on
        rows = [q for q in read_jsonl(news_dir / "queries.jsonl") if q["split"] == "dev"]
        out[NEWS] = (
            [(q["question"], q["answers"], bool(q.get("is_impossible"))) for q in rows],
            news_dir / "docs.jsonl",
        )
    return out


def read_all(
    reader: Path, settings: dict[str, tuple[list[tuple[str, list[str], bool]], Path]], kept: Path, depth: int
) -> list[fitting.Asked]:
    """Every question's readings, each setting's over its own archive; a setting's readings are kept
    beside ``kept`` (``readings_path``), so a refit, or a run that adds a setting, reads nothing again."""
    data = []
    for name, (questions, docs) in settings.items():
        saved = kept.with_name(f"{kept.stem}-{name.replace(' ', '-')}.pkl")
        if saved.is_file():
            data.extend(pickle.loads(saved.read_bytes()))
            continue
        index = CACHE / f"calibrate-{name.replace(' ', '-')}"
        engine = Engine(Settings(index_dir=index, reader=str(reader)))
        engine.index_paths([docs])
        stale, checked = datelines_left_in(engine, docs)
        if stale:  # calibrated on texts that a new index no longer holds
            engine.close()
            raise SystemExit(
                f"{index} was made before datelines were read ({stale} of {checked} "
                "articles checked keep theirs in the text): delete it and run again"
            )
        asked = ask_all(engine, questions, name, depth)
        engine.close()
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_bytes(pickle.dumps(asked))
        data.extend(asked)
    return data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=2000, help="questions per SQuAD setting")
    parser.add_argument("--reader", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--depth", type=int, default=max(DEPTHS), help="passages read per question")
    parser.add_argument("--no-news", dest="news", action="store_false", help="SQuAD settings only")
    parser.add_argument("--passages", type=int, default=READ_PASSAGES, help="the depth calibrated for")
    parser.add_argument(
        "--news-weight", type=float, default=NEWS_WEIGHT, help="weight of a news reading in the fit"
    )
    parser.add_argument(
        "--features",
        default=",".join(fitting.SHIPPED),
        help=f"comma-separated, of {', '.join(READER_FEATURES)}",
    )
    args = parser.parse_args(argv)
    chosen = tuple(args.features.split(","))
    if not set(chosen) <= set(READER_FEATURES):
        parser.error(f"--features: choose from {', '.join(READER_FEATURES)}")
    setup_logging()
    config = json.loads((args.reader / CONFIG_FILE).read_text())
    # The readings are kept, so that fitting other features or thresholds needs no second reading.
    kept = readings_path(config["weights_sha256"], args.limit, args.seed, args.depth)
    data = read_all(args.reader, questions_of(args.seed, args.limit, args.news), kept, args.depth)

    settings = sorted({a.setting for a in data})
    refusals = tuple(s for s in (ABSENT, NEWS) if s in settings)
    weighted = {NEWS: args.news_weight}
    for depth in (d for d in DEPTHS if d <= args.depth):
        print(f"\n{depth} passages read:")
        held_out_report(fitting.at_depth(data, depth), settings, refusals, weighted)
    data = fitting.columns(fitting.at_depth(data, args.passages), chosen)
    w = fitting.fit(data, weighted)
    scores = {
        t: [fitting.accuracy([a for a in data if a.setting == s], w, t) for s in settings]
        for t in fitting.GRID
    }
    # The refusal a news reader needs is "not in the archive" (SQuAD articles left out, and news
    # questions about what no story mentions): the threshold is the best one there; SQuAD 2.0's
    # near-miss questions are reported beside it.
    threshold = fitting.best_threshold(data, w, refusals)
    print("\n| threshold | " + " | ".join(settings) + " |")
    print("|---|" + "---|" * len(settings))
    for t in fitting.GRID[::4]:
        print(f"| {t:.2f} | " + " | ".join(f"{v:.3f}" for v in scores[t]) + " |")
    print(
        f"chosen threshold {threshold:.2f}: "
        + ", ".join(f"{s} {v:.3f}" for s, v in zip(settings, scores[threshold], strict=True))
    )
    print()
    calibration_curve(data, w, settings)

    config["calibration"] = {name: round(float(v), 4) for name, v in zip(chosen, w[:-1], strict=True)}
    config["calibration"]["bias"] = round(float(w[-1]), 4)
    config["threshold"] = round(float(threshold), 2)
    (args.reader / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    print(json.dumps(config["calibration"]))


NEWS_WEIGHT = 4.0  # 150 news questions beside 4,000 SQuAD ones: each news reading counts this much


if __name__ == "__main__":
    main()
