"""Passages → answers: pick the answer sentence, the span inside it, a score in 0..1, or abstain."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qa.models import Answer, Passage
from qa.spans import candidate_spans, find_span, question_type

SentenceScorer = Callable[[list[str]], list[float]]


@dataclass(frozen=True, slots=True)
class PickerWeights:
    """Logistic weights over a candidate sentence's evidence; the result is the answer's score."""

    lexical: float = 4.0  # share of the question's (IDF-weighted) terms found in the sentence
    cosine: float = 3.0  # embedding similarity of question and sentence
    passage: float = 2.0  # the passage's fused retrieval score
    typed: float = 1.0  # the sentence holds a candidate of the asked-for type (date, number...)
    bias: float = -5.5
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
    typed: float

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
        + weights.passage * candidate.passage.score
        + weights.typed * candidate.typed
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
    pool: list[tuple[Passage, int, int]] = []
    for passage in passages[: weights.passages]:
        for start, end in passage.sentences:
            pool.append((passage, start, end))
    if not pool:
        return []
    texts = [p.text[s:e] for p, s, e in pool]
    cosines = similarity(texts) if similarity is not None else [0.0] * len(texts)
    candidates = []
    for (passage, start, end), text, cosine in zip(pool, texts, cosines, strict=True):
        typed = 0.0
        if kind is not None and candidate_spans(text, kind):
            typed = 1.0
        candidates.append(
            Candidate(
                passage=passage,
                start=start,
                end=end,
                lexical=lexical_overlap(set(stems_of(text)), question_stems, idf),
                cosine=cosine,
                typed=typed,
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
                span=find_span(question, cand.text, kind),
                score=value,
                passage=cand.passage.text,
                article=cand.passage.article,
                passage_offset=cand.start,
            )
        )
    return answers
