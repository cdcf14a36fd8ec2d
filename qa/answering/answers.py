"""The trained reader's readings → answers: the sentence around a span, a calibrated score, or none."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from qa.answering.picker import has_sentence_vector, lexical_overlap
from qa.answering.reader import Reading
from qa.eval.metrics import normalize_answer
from qa.models import Answer, Passage
from qa.text import stem_terms

READER_FEATURES = (
    "margin", "span", "null", "retrieval", "first", "agree", "cosine", "lexical", "share", "unseen_name"
)  # fmt: skip
TERM_FEATURES = ("cosine", "lexical", "unseen_name")  # need the question's terms (and vector)


@dataclass(frozen=True, slots=True)
class QuestionTerms:
    """The question as retrieval saw it: its stems, their IDF in the archive, its vector, and the names
    it gives that no passage of the archive holds."""

    stems: Sequence[str]
    idf: dict[str, float]
    vector: npt.NDArray[np.float32] | None
    unseen_names: Sequence[str] = ()
    topical: frozenset[str] = (
        frozenset()
    )  # a "latest" question's articles on its topic (``topical_articles``)


def span_key(passage: Passage, reading: Reading) -> str:
    """A reading's span as answers are compared: case, punctuation, articles and spacing folded."""
    return normalize_answer(passage.text[reading.start : reading.end])


def agreement(passages: Sequence[Passage], readings: Sequence[Reading]) -> list[int]:
    """For each reading, how many of the other passages read give the same (normalised) span: copies
    of one story and a fact repeated in follow-ups support one answer instead of competing."""
    return key_agreement([span_key(passages[r.passage], r) for r in readings])


def key_agreement(keys: Sequence[str]) -> list[int]:
    """For each normalised span (``span_key``), how many of the others are the same one (an empty key,
    a span of nothing but punctuation and articles, agrees with none)."""
    counts = Counter(key for key in keys if key)
    return [counts[key] - 1 if key else 0 for key in keys]


def span_shares(span_logits: Sequence[float]) -> list[float]:
    """Each reading's share of the question's spans: a softmax over the best span of every passage
    read, so that a span is weighed against the others found for the same question (the shared
    normalisation of Clark & Gardner 2018, at reading time)."""
    if not span_logits:
        return []
    logits = np.asarray(span_logits, dtype=np.float64)
    weights = np.exp(logits - logits.max())
    return [float(w) for w in weights / weights.sum()]


def reading_features(
    reading: Reading,
    passage: Passage,
    rank: int,
    terms: QuestionTerms | None = None,
    agree: int = 0,
    share: float = 1.0,
) -> dict[str, float]:
    """What calibrates a reading: the reader's two scores, the passage's retrieval score and rank, how
    many other passages give the same span, its span's share of all the spans found for the question
    (``span_shares``), how close the sentence holding the span is to the question (embedding cosine,
    share of its terms), and whether the question gives a name that the archive never mentions (then
    nothing in it can be about that name)."""
    features = {
        "margin": reading.margin,
        "span": reading.span_logit,
        "null": reading.null_logit,
        "retrieval": passage.score,
        "first": float(rank == 0),
        "agree": float(agree),
        "cosine": 0.0,
        "lexical": 0.0,
        "share": share,
        "unseen_name": 0.0,
    }
    if terms is None:
        return features
    features["unseen_name"] = float(bool(terms.unseen_names))
    number = next((n for n, (a, b) in enumerate(passage.sentences) if a <= reading.start < b), None)
    if number is None:
        return features
    if terms.vector is not None and has_sentence_vector(passage, number):
        features["cosine"] = float(passage.sentence_vectors[number] @ terms.vector.ravel())
    begin, end = passage.sentences[number]
    features["lexical"] = lexical_overlap(set(stem_terms(passage.text[begin:end])), terms.stems, terms.idf)
    return features


def question_features(
    passages: Sequence[Passage], readings: Sequence[Reading], terms: QuestionTerms | None = None
) -> list[dict[str, float]]:
    """Every reading's features (``reading_features``) for one question, those that weigh it against
    the question's other readings (agreement, span share) included."""
    agrees = agreement(passages, readings)
    shares = span_shares([r.span_logit for r in readings])
    return [
        reading_features(r, passages[r.passage], r.passage, terms, agree, share)
        for r, agree, share in zip(readings, agrees, shares, strict=True)
    ]


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


def quoted_first(passages: Sequence[Passage], answers: Sequence[Answer]) -> list[Passage]:
    """The passages that the answers quote first, in the answers' order, then the others in retrieval
    order: the sources a user is shown line up with the answers (the reader, not retrieval alone,
    judged which passage answers)."""
    order: dict[tuple[str, str], int] = {}
    for answer in answers:
        order.setdefault((answer.article.id, answer.passage), len(order))
    last = len(order)  # the passages no answer quotes keep their order: the sort is stable
    return sorted(passages, key=lambda p: order.get((p.article.id, p.text), last))


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
    # The question's evidence (its sentence's stems cost a stemming per reading, its unknown names) is
    # only worth passing on when the calibration weighs it.
    if not any(calibration.get(name) for name in TERM_FEATURES):
        terms = None
    scored = sorted(
        (
            (calibrated(features, calibration), r)
            for features, r in zip(question_features(passages, readings, terms), readings, strict=True)
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
