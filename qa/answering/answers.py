"""Passages → answers: pick the answer sentence, the span inside it, a score in 0..1, or abstain."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from qa.answering.reader import Reading
from qa.answering.spans import find_span, question_type
from qa.eval.metrics import normalize_answer
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


def _stored(passage: Passage, number: int) -> bool:
    stored = passage.sentence_vectors
    return stored is not None and number < len(stored)


def unstored_sentences(passages: Sequence[Passage], weights: PickerWeights = DEFAULT_PICKER) -> list[str]:
    """The sentences the picker weighs that the index holds no vector for (an index built before
    sentence vectors were stored, or an embedder without them), in pool order: the caller encodes
    them into ``Evidence.unstored_vectors``."""
    pool = sentence_pool(passages, weights)
    return [p.text[p.sentences[n][0] : p.sentences[n][1]] for _, p, n in pool if not _stored(p, n)]


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
        if _stored(passage, number):
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


# -- the trained reader's answers ------------------------------------------------------------------
READER_FEATURES = ("margin", "span", "null", "retrieval", "first", "agree", "cosine", "lexical")
SENTENCE_FEATURES = ("cosine", "lexical")  # need the question's terms and vector


@dataclass(frozen=True, slots=True)
class QuestionTerms:
    """The question as retrieval saw it: its stems, their IDF in the archive, and its vector."""

    stems: Sequence[str]
    idf: dict[str, float]
    vector: npt.NDArray[np.float32] | None


def span_key(passage: Passage, reading: Reading) -> str:
    """A reading's span as answers are compared: case, punctuation, articles and spacing folded."""
    return normalize_answer(passage.text[reading.start : reading.end])


def agreement(passages: Sequence[Passage], readings: Sequence[Reading]) -> list[int]:
    """For each reading, how many of the other passages read give the same (normalised) span: copies
    of one story and a fact repeated in follow-ups support one answer instead of competing."""
    keys = [span_key(passages[r.passage], r) for r in readings]
    counts = Counter(key for key in keys if key)
    return [counts[key] - 1 if key else 0 for key in keys]


def reading_features(
    reading: Reading, passage: Passage, rank: int, terms: QuestionTerms | None = None, agree: int = 0
) -> dict[str, float]:
    """What calibrates a reading: the reader's two scores, the passage's retrieval score and rank, how
    many other passages give the same span, and how close the sentence holding the span is to the
    question (embedding cosine, share of its terms)."""
    features = {
        "margin": reading.margin,
        "span": reading.span_logit,
        "null": reading.null_logit,
        "retrieval": passage.score,
        "first": float(rank == 0),
        "agree": float(agree),
        "cosine": 0.0,
        "lexical": 0.0,
    }
    if terms is None:
        return features
    number = next((n for n, (a, b) in enumerate(passage.sentences) if a <= reading.start < b), None)
    if number is None:
        return features
    if terms.vector is not None and _stored(passage, number):
        features["cosine"] = float(passage.sentence_vectors[number] @ terms.vector.ravel())
    begin, end = passage.sentences[number]
    features["lexical"] = lexical_overlap(set(stem_terms(passage.text[begin:end])), terms.stems, terms.idf)
    return features


def calibrated(features: dict[str, float], calibration: dict[str, float]) -> float:
    """The chance that the answer is right: a logistic fitted on dev by ``bench.calibrate_reader``."""
    z = calibration.get("bias", 0.0) + sum(calibration.get(k, 0.0) * v for k, v in features.items())
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


def sentence_around(passage: Passage, start: int, end: int) -> tuple[int, int]:
    """The passage's sentence (or run of sentences) that holds the characters ``start..end``."""
    bounds = passage.sentences or ((0, len(passage.text)),)
    first = next((s for s in bounds if s[0] <= start < s[1]), None)
    last = next((s for s in bounds if s[0] < end <= s[1]), None)
    begin = first[0] if first is not None else min(start, bounds[0][0])
    finish = last[1] if last is not None else max(end, bounds[-1][1])
    return min(begin, start), max(finish, end)


_SPAN_TAIL = " \t\n.,;:!?\"'”’»"


def within_one_paragraph(passage: Passage, start: int, end: int) -> tuple[int, int]:
    """The span cut at the first line break inside it (without the punctuation before it): an answer
    never runs from one paragraph into the next."""
    cut = passage.text.find("\n", start, end)
    if cut < 0:
        return start, end
    kept = passage.text[start:cut].rstrip(_SPAN_TAIL)
    return start, start + len(kept) if kept else cut


def read_answers(
    passages: Sequence[Passage],
    readings: Sequence[Reading],
    calibration: dict[str, float],
    threshold: float,
    limit: int,
    terms: QuestionTerms | None = None,
) -> list[Answer]:
    """The reader's answers best first (one per passage and sentence), none scoring below ``threshold``.

    Each answer quotes the sentence holding the reader's span (cut at a paragraph break, never quoting
    two paragraphs); its score is the calibrated chance that it is right."""
    # The sentence evidence costs a stemming per reading: only worth it when the calibration weighs it.
    if not any(calibration.get(name) for name in SENTENCE_FEATURES):
        terms = None
    agrees = agreement(passages, readings)
    scored = sorted(
        (
            (calibrated(reading_features(r, passages[r.passage], r.passage, terms, n), calibration), r)
            for r, n in zip(readings, agrees, strict=True)
        ),
        key=lambda x: x[0],
        reverse=True,
    )
    answers: list[Answer] = []
    seen: set[str] = set()
    for value, reading in scored:
        if value < threshold or len(answers) >= limit:
            break
        passage = passages[reading.passage]
        start, stop = within_one_paragraph(passage, reading.start, reading.end)
        begin, end = sentence_around(passage, start, stop)
        text = passage.text[begin:end]
        if text in seen:
            continue
        seen.add(text)
        answers.append(
            Answer(
                text=text,
                span=(start - begin, stop - begin),
                score=value,
                passage=passage.text,
                article=passage.article,
                passage_offset=begin,
            )
        )
    return answers
