"""The sentence picker (``QA_READER=off``): passages → the answer sentence, its span and score, or none."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from qa.answering.spans import find_span, question_type
from qa.models import Answer, Passage
from qa.text import stem_terms


@dataclass(frozen=True, slots=True)
class PickerWeights:
    """Logistic weights over a candidate sentence's evidence; the result is the answer's score.

    Fitted by ``bench/fit_picker.py`` on SQuAD v1.1 dev sentences (label: the sentence holds a gold
    answer): a per-question softmax for the ranking, then a logistic calibration of its scale, so
    the score is the chance that the sentence answers; see docs/eval.md."""

    lexical: float = 2.66  # share of the question's (IDF-weighted) terms found in the sentence
    cosine: float = 7.62  # embedding similarity of question and sentence (in its passage's context)
    dense: float = -2.39  # embedding similarity of question and the sentence's passage
    first: float = 0.48  # the sentence comes from the top-ranked passage
    coverage: float = 1.91  # share of the question's terms found anywhere in the sentence's passage
    untyped: float = -1.57  # the question asks for a type (date, person...) the sentence has no new one of
    short: float = -0.54  # a fragment under 30 characters
    previous: float = -0.02  # the lexical share of the sentence before it in the passage
    following: float = -0.48  # the lexical share of the sentence after it
    bias: float = -6.77
    passages: int = 5  # how many of the top passages are searched for sentences

    def z(self, features: Sequence[float]) -> float:
        """The logit for a feature vector in ``FEATURES`` order."""
        pairs = zip(FEATURES, features, strict=True)
        return float(sum(getattr(self, name) * value for name, value in pairs)) + self.bias


FEATURES = ("lexical", "cosine", "dense", "first", "coverage", "untyped", "short", "previous", "following")
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
    previous: float = 0.0
    following: float = 0.0

    @property
    def text(self) -> str:
        return self.passage.text[self.start : self.end]

    def features(self) -> tuple[float, ...]:
        """The evidence in ``FEATURES`` order."""
        return (
            self.lexical,
            self.cosine,
            self.passage.dense_score,
            float(self.first),
            self.coverage,
            float(self.untyped),
            float(self.end - self.start < 30),
            self.previous,
            self.following,
        )


def lexical_overlap(sentence_stems: set[str], question_stems: Sequence[str], idf: dict[str, float]) -> float:
    """IDF-weighted share of the question's terms that occur in the sentence (0..1)."""
    total = sum(idf.get(s, 1.0) for s in question_stems)
    if total <= 0:
        return 0.0
    return sum(idf.get(s, 1.0) for s in question_stems if s in sentence_stems) / total


def score(candidate: Candidate, weights: PickerWeights) -> float:
    """The answer's score: a logistic over its evidence, comparable across questions."""
    z = weights.z(candidate.features())
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


def sentence_pool(passages: Sequence[Passage], weights: PickerWeights) -> list[tuple[int, Passage, int]]:
    """(rank, passage, sentence number) of every sentence of the top passages the picker searches."""
    return [
        (rank, passage, number)
        for rank, passage in enumerate(passages[: weights.passages])
        for number in range(len(passage.sentences))
    ]


def has_sentence_vector(passage: Passage, number: int) -> bool:
    stored = passage.sentence_vectors
    return stored is not None and number < len(stored)


def unstored_sentences(passages: Sequence[Passage], weights: PickerWeights = DEFAULT_PICKER) -> list[str]:
    """The sentences the picker weighs that the index holds no vector for (an index built before
    sentence vectors were stored, or an embedder without them), in pool order: the caller encodes
    them into ``Evidence.unstored_vectors``."""
    pool = sentence_pool(passages, weights)
    return [
        p.text[p.sentences[n][0] : p.sentences[n][1]] for _, p, n in pool if not has_sentence_vector(p, n)
    ]


def sentence_cosines(
    pool: Sequence[tuple[int, Passage, int]],
    question_vector: npt.NDArray[np.float32] | None,
    unstored: npt.NDArray[np.float32] | None = None,
) -> list[float]:
    """Cosine of the question and each (rank, passage, sentence number) of the pool: stored sentence
    vectors where the index has them, else the rows of ``unstored`` in turn (0 without them)."""
    if question_vector is None:
        return [0.0] * len(pool)
    question = question_vector.ravel()
    out = [0.0] * len(pool)
    missing: list[int] = []
    for n, (_, passage, number) in enumerate(pool):
        if has_sentence_vector(passage, number):
            out[n] = float(passage.sentence_vectors[number] @ question)
        else:
            missing.append(n)
    if missing and unstored is not None:
        for n, cosine in zip(missing, unstored @ question, strict=True):
            out[n] = float(cosine)
    return out


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the picker weighs for one question: its passages, terms, their IDF and its vector."""

    question: str
    passages: Sequence[Passage]
    question_stems: Sequence[str]
    idf: dict[str, float]
    question_vector: npt.NDArray[np.float32] | None
    unstored_vectors: npt.NDArray[np.float32] | None = None  # of ``unstored_sentences``, in order


def gather_candidates(evidence: Evidence, weights: PickerWeights = DEFAULT_PICKER) -> list[Candidate]:
    """Every sentence of the top passages with its evidence."""
    question, question_stems, idf = evidence.question, evidence.question_stems, evidence.idf
    kind = question_type(question)
    pool = sentence_pool(evidence.passages, weights)
    if not pool:
        return []
    cosines = sentence_cosines(pool, evidence.question_vector, evidence.unstored_vectors)
    texts = [p.text[p.sentences[n][0] : p.sentences[n][1]] for _, p, n in pool]
    stems = [set(stem_terms(text)) for text in texts]
    lexical = [lexical_overlap(found, question_stems, idf) for found in stems]
    by_position = {(rank, number): value for (rank, _, number), value in zip(pool, lexical, strict=True)}
    passage_stems: dict[int, set[str]] = {}
    for (rank, *_), sentence_stems in zip(pool, stems, strict=True):
        passage_stems.setdefault(rank, set()).update(sentence_stems)
    coverage = {rank: lexical_overlap(found, question_stems, idf) for rank, found in passage_stems.items()}
    candidates = []
    for (rank, passage, number), text, cosine, overlap in zip(pool, texts, cosines, lexical, strict=True):
        start, end = passage.sentences[number]
        span = find_span(question, text, kind) if kind is not None else None
        candidates.append(
            Candidate(
                passage=passage,
                start=start,
                end=end,
                lexical=overlap,
                cosine=cosine,
                first=rank == 0,
                coverage=coverage[rank],
                span=span,
                untyped=kind is not None and span is None,
                previous=by_position.get((rank, number - 1), 0.0),
                following=by_position.get((rank, number + 1), 0.0),
            )
        )
    return candidates


def pick_answers(
    evidence: Evidence, threshold: float, limit: int, weights: PickerWeights = DEFAULT_PICKER
) -> list[Answer]:
    """Answers best first, at most ``limit``, none scoring below ``threshold``; a sentence found in
    several articles is answered once."""
    candidates = gather_candidates(evidence, weights)
    scored = sorted(((score(c, weights), c) for c in candidates), key=lambda x: x[0], reverse=True)
    answers: list[Answer] = []
    seen: set[str] = set()
    for value, cand in scored:
        if value < threshold or len(answers) >= limit:
            break
        key = " ".join(cand.text.lower().split())  # one sentence is one answer, whichever article holds it
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
