"""Passages → answers: pick the answer sentence, the span inside it, a score in 0..1, or abstain."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qa.models import Answer, Passage
from qa.spans import find_span, question_type

SentenceScorer = Callable[[list[str]], list[float]]


@dataclass(frozen=True, slots=True)
class PickerWeights:
    """Logistic weights over a candidate sentence's evidence; the result is the answer's score.

    Fitted on SQuAD v1.1 dev sentences (label: the sentence holds a gold answer): a per-question
    softmax for the ranking, then a logistic calibration of its scale, so the score is the chance
    that the sentence answers; see docs/eval.md."""

    lexical: float = 2.62  # share of the question's (IDF-weighted) terms found in the sentence
    cosine: float = 2.96  # embedding similarity of question and sentence
    dense: float = 2.07  # embedding similarity of question and the sentence's passage
    passage: float = 0.0  # the passage's fused retrieval score (relative within a question: off)
    first: float = 0.47  # the sentence comes from the top-ranked passage
    coverage: float = 1.80  # share of the question's terms found anywhere in the sentence's passage
    untyped: float = -1.53  # the question asks for a type (date, person...) the sentence has no new one of
    short: float = -0.51  # a fragment under 30 characters
    bias: float = -6.67
    passages: int = 5  # how many of the top passages are searched for sentences


DEFAULT_PICKER = PickerWeights()


@dataclass(frozen=True, slots=True)
class Candidate:
    """One sentence of one passage, with its evidence."""

    passage: Passage
    start: int
    end: int
    lexical: float
    cosine: float
    first: bool
    coverage: float
    span: tuple[int, int] | None
    untyped: bool

    @property
    def text(self) -> str:
        return self.passage.text[self.start : self.end]


def lexical_overlap(sentence_stems: set[str], question_stems: Sequence[str], idf: dict[str, float]) -> float:
    """IDF-weighted share of the question's terms that occur in the sentence (0..1)."""
    total = sum(idf.get(s, 1.0) for s in question_stems)
    if total <= 0:
        return 0.0
    return sum(idf.get(s, 1.0) for s in question_stems if s in sentence_stems) / total


def score(candidate: Candidate, weights: PickerWeights) -> float:
    """The answer's score: a logistic over its evidence, comparable across questions."""
    z = (
        weights.lexical * candidate.lexical
        + weights.cosine * candidate.cosine
        + weights.dense * candidate.passage.dense_score
        + weights.passage * candidate.passage.score
        + weights.first * candidate.first
        + weights.coverage * candidate.coverage
        + weights.untyped * candidate.untyped
        + weights.short * (candidate.end - candidate.start < 30)
        + weights.bias
    )
    return 1.0 / (1.0 + math.exp(-z))


def pick_answers(
    question: str,
    passages: Sequence[Passage],
    question_stems: Sequence[str],
    idf: dict[str, float],
    stems_of: Callable[[str], list[str]],
    similarity: SentenceScorer | None,
    threshold: float,
    limit: int,
    weights: PickerWeights = DEFAULT_PICKER,
) -> list[Answer]:
    """Answers best first, at most ``limit``, none scoring below ``threshold``; one per sentence."""
    kind = question_type(question)
    pool: list[tuple[int, Passage, int, int]] = []
    for rank, passage in enumerate(passages[: weights.passages]):
        for start, end in passage.sentences:
            pool.append((rank, passage, start, end))
    if not pool:
        return []
    texts = [p.text[s:e] for _, p, s, e in pool]
    cosines = similarity(texts) if similarity is not None else [0.0] * len(texts)
    stems = [set(stems_of(text)) for text in texts]
    passage_stems: dict[int, set[str]] = {}
    for (rank, *_), sentence_stems in zip(pool, stems, strict=True):
        passage_stems.setdefault(rank, set()).update(sentence_stems)
    coverage = {rank: lexical_overlap(found, question_stems, idf) for rank, found in passage_stems.items()}
    candidates = []
    for (rank, passage, start, end), text, cosine, sentence_stems in zip(
        pool, texts, cosines, stems, strict=True
    ):
        span = find_span(question, text, kind) if kind is not None else None
        candidates.append(
            Candidate(
                passage=passage,
                start=start,
                end=end,
                lexical=lexical_overlap(sentence_stems, question_stems, idf),
                cosine=cosine,
                first=rank == 0,
                coverage=coverage[rank],
                span=span,
                untyped=kind is not None and span is None,
            )
        )
    scored = sorted(((score(c, weights), c) for c in candidates), key=lambda x: x[0], reverse=True)
    answers: list[Answer] = []
    seen: set[tuple[str, str]] = set()
    for value, cand in scored:
        if value < threshold or len(answers) >= limit:
            break
        key = (cand.passage.article.id, cand.text)
        if key in seen:
            continue
        seen.add(key)
        answers.append(
            Answer(
                text=cand.text,
                span=cand.span,
                score=value,
                passage=cand.passage.text,
                article=cand.passage.article,
                passage_offset=cand.start,
            )
        )
    return answers
