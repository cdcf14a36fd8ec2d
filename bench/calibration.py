"""Fitting the reader's score calibration: each question's readings (``Asked``), logistic weights over
their features, the abstention threshold, and the measures ``bench.calibrate_reader`` and
``bench.reader_ceiling`` compare them by."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.common import fit_logistic
from qa.answering.answers import READER_FEATURES, key_agreement, span_shares

GRID = np.linspace(0.02, 0.9, 89)
SHIPPED = (*READER_FEATURES[:7], "share", "unseen_name")  # margin … cosine, share, unseen_name


@dataclass(frozen=True, slots=True)
class Asked:
    """One question's readings: evidence rows, whether each is right, and what abstaining would be."""

    setting: str
    features: np.ndarray  # one row per reading, READER_FEATURES order
    right: np.ndarray  # the reading's sentence holds a gold answer
    must_abstain: bool
    ranks: np.ndarray | None = None  # the rank of each reading's passage (None: every one is read)
    keys: tuple[str, ...] = ()  # each reading's normalised span (``qa.answering.answers.span_key``)


def at_depth(data: list[Asked], depth: int) -> list[Asked]:
    """The readings as if only the top ``depth`` passages had been read (their agreement and span
    shares counted again)."""
    agree, span, share = (READER_FEATURES.index(name) for name in ("agree", "span", "share"))
    out = []
    for a in data:
        kept = np.ones(len(a.features), bool) if a.ranks is None else a.ranks < depth
        features = a.features[kept].copy()
        features[:, share] = span_shares(features[:, span].tolist())
        keys = tuple(k for k, keep in zip(a.keys, kept, strict=True) if keep)
        if keys:
            features[:, agree] = key_agreement(keys)
        ranks = None if a.ranks is None else a.ranks[kept]
        out.append(Asked(a.setting, features, a.right[kept], a.must_abstain, ranks, keys))
    return out


def accuracy(data: list[Asked], w: np.ndarray, threshold: float) -> float:
    """``abstain_accuracy`` of ``qa eval`` with these calibration weights and this threshold."""
    right = 0
    for asked in data:
        if not len(asked.features):
            right += asked.must_abstain
            continue
        z = asked.features @ w[:-1] + w[-1]
        best = int(np.argmax(z))
        probability = 1.0 / (1.0 + np.exp(-z[best]))
        answered = probability >= threshold
        right += (not answered) if asked.must_abstain else bool(answered and asked.right[best])
    return right / len(data)


def fit(data: list[Asked], weighted: dict[str, float] | None = None) -> np.ndarray:
    """Logistic weights (bias last) over the readings of these questions; ``weighted``: a weight for
    each reading of a setting (1 for the others)."""
    x = np.vstack([a.features for a in data])
    y = np.concatenate([a.right for a in data]).astype(float)
    weights = np.concatenate([np.full(len(a.right), (weighted or {}).get(a.setting, 1.0)) for a in data])
    return fit_logistic(np.hstack([x, np.ones((len(x), 1))]), y, l2=1.0, weights=weights)


def best_threshold(data: list[Asked], w: np.ndarray, settings: str | tuple[str, ...]) -> float:
    """The threshold with the best mean ``abstain_accuracy`` over these settings' questions."""
    names = (settings,) if isinstance(settings, str) else settings
    chosen = [[a for a in data if a.setting == name] for name in names]
    chosen = [questions for questions in chosen if questions]
    return float(max(GRID, key=lambda t: sum(accuracy(questions, w, t) for questions in chosen)))


def top_right(data: list[Asked], w: np.ndarray) -> float:
    """answer_hit@1 without abstaining: the best-scored reading holds a gold answer (answerable only)."""
    answerable = [a for a in data if not a.must_abstain]
    hits = [bool(a.right[int(np.argmax(a.features @ w[:-1]))]) for a in answerable if len(a.features)]
    return sum(hits) / max(1, len(answerable))


def columns(data: list[Asked], names: tuple[str, ...]) -> list[Asked]:
    """The same questions with only these features."""
    keep = [READER_FEATURES.index(n) for n in names]
    return [Asked(a.setting, a.features[:, keep], a.right, a.must_abstain, a.ranks, a.keys) for a in data]


def two_folds(data: list[Asked], settings: list[str]) -> tuple[list[Asked], list[Asked]]:
    """The questions in two halves, every other question of each setting in each."""
    by_setting = [[a for a in data if a.setting == s] for s in settings]
    first, second = ([a for chosen in by_setting for a in chosen[k::2]] for k in (0, 1))
    return first, second
