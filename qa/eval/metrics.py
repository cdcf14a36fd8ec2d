"""Scores for benchmarks: SQuAD's answer normalisation, exact match and F1, ranking metrics, percentiles."""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from qa.models import Passage

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (SQuAD v1.1/v2.0 evaluation script)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalised strings are equal."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str) -> float:
    """Token-level F1 of the normalised strings (empty vs empty is 1.0, as in SQuAD v2.0)."""
    predicted = normalize_answer(prediction).split()
    expected = normalize_answer(gold).split()
    if not predicted or not expected:
        return float(predicted == expected)
    common = Counter(predicted) & Counter(expected)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(expected)
    return 2 * precision * recall / (precision + recall)


def best_over(golds: Sequence[str], prediction: str, metric: Callable[[str, str], float]) -> float:
    """The best score of ``prediction`` against any gold answer (0.0 when there is none)."""
    return max((metric(prediction, g) for g in golds), default=0.0)


def contains_answer(text: str, golds: Sequence[str]) -> bool:
    """True when a gold answer string appears in ``text`` (case-insensitive)."""
    low = text.lower()
    return any(g.strip() and g.strip().lower() in low for g in golds)


# -- ranking ------------------------------------------------------------------------------------
def document_ranking(passages: Iterable[Passage]) -> list[str]:
    """Article ids in the order their first passage appears."""
    return list(dict.fromkeys(p.article.id for p in passages))


def first_gold_rank(ranking: Sequence[str], gold: Iterable[str]) -> int | None:
    """1-based rank of the first gold document, None when absent."""
    wanted = set(gold)
    return next((i for i, doc in enumerate(ranking, start=1) if doc in wanted), None)


def ndcg_at(ranking: Sequence[str], gold: Iterable[str], k: int = 10) -> float:
    """Binary-relevance nDCG@k over documents."""
    wanted = set(gold)
    if not wanted:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 1) for i, doc in enumerate(ranking[:k], start=1) if doc in wanted)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(wanted), k) + 1))
    return dcg / ideal


def recall_at(ranking: Sequence[str], gold: Iterable[str], k: int) -> float:
    """Share of the gold documents found in the first ``k`` (BEIR's recall@k)."""
    wanted = set(gold)
    return len(wanted & set(ranking[:k])) / len(wanted) if wanted else 0.0


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100), linearly interpolated; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
