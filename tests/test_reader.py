"""The trained reader: span decoding, answers built from its readings, and the shipped weights' checks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.answering.answers import (
    QuestionTerms,
    agreement,
    calibrated,
    quoted_first,
    read_answers,
    reading_features,
    sentence_around,
    span_shares,
)
from qa.answering.reader import (
    CONFIG_FILE,
    SHIPPED_WEIGHTS_SHA256,
    WEIGHTS_DIR,
    WEIGHTS_FILE,
    Reader,
    Reading,
    acceptable,
    best_span,
    content_stems,
    file_sha256,
    top_spans,
)
from qa.config import Settings
from qa.engine import Engine
from qa.errors import ModelError
from qa.models import Answer, ArticleMeta, Passage
from qa.runtime.embedding import bundled_model_path
from tests.conftest import SEEDS

META = ArticleMeta(id="a1", title="T", published=None, source="s.txt", url=None)
TEXT = "The bridge opened in 1932. It cost ten million dollars. Engineers praised it."
SENTENCES = ((0, 26), (27, 55), (56, 78))


def passage(
    text: str = TEXT, sentences: tuple[tuple[int, int], ...] = SENTENCES, score: float = 0.5
) -> Passage:
    return Passage(chunk_id=1, text=text, score=score, article=META, sentences=sentences)


def test_best_span_picks_the_best_pair_inside_the_context() -> None:
    """The best start/end pair wins, with start <= end, only over context tokens and within the length cap."""
    offsets = [None, None, (0, 3), (4, 10), (11, 17), None]
    start = np.array([9.0, 9.0, 0.0, 5.0, 1.0, 9.0], dtype=np.float32)
    end = np.array([9.0, 9.0, 0.0, 1.0, 4.0, 9.0], dtype=np.float32)
    assert best_span(start, end, offsets) == (4, 17, 9.0)
    assert best_span(start, end, offsets, max_tokens=1) == (4, 10, 6.0)
    assert best_span(start, end, [None] * 6) is None


def test_best_span_never_ends_before_it_starts() -> None:
    """A high end score before a high start score does not make a backwards span."""
    offsets = [None, (0, 1), (2, 3), (4, 5)]
    start = np.array([0.0, 0.0, 0.0, 5.0], dtype=np.float32)
    end = np.array([0.0, 5.0, 0.0, 0.5], dtype=np.float32)
    begin, finish, _ = best_span(start, end, offsets) or (0, 0, 0.0)
    assert begin <= finish and (begin, finish) == (4, 5)


def test_top_spans_come_best_first_and_agree_with_best_span() -> None:
    offsets = [None, (0, 3), (4, 10), (11, 17), None]
    start = np.array([9.0, 1.0, 5.0, 2.0, 9.0], dtype=np.float32)
    end = np.array([9.0, 0.0, 4.0, 3.0, 9.0], dtype=np.float32)
    spans = top_spans(start, end, offsets, 4)
    assert spans[0] == best_span(start, end, offsets) == (4, 10, 9.0)
    assert [s[2] for s in spans] == sorted((s[2] for s in spans), reverse=True)
    assert all(a <= b for a, b, _ in spans) and len(spans) == 4
    assert len(top_spans(start, end, offsets, 100)) == 6  # every pair with start <= end, no more
    assert top_spans(start, end, [None] * 5, 3) == []


@pytest.mark.parametrize(
    ("span", "acceptable_answer"),
    [
        ("Lenovo", True),
        ("IBM", False),  # only the question's own words
        ("IBM's PC business", False),
        ("the", False),  # no content word at all
        ("1.75bn", True),
        ("second oil shock.\nThe next", False),  # runs into the next paragraph
    ],
)
def test_an_acceptable_span_says_something_the_question_does_not(span: str, acceptable_answer: bool) -> None:
    assert acceptable(span, content_stems("Who bought IBM's PC business?")) is acceptable_answer


def test_reading_features_weigh_the_sentence_holding_the_span() -> None:
    """The sentence of the span brings its cosine to the question and its share of the question's terms."""
    vectors = np.eye(3, dtype=np.float32)
    held = Passage(
        chunk_id=1, text=TEXT, score=0.5, article=META, sentences=SENTENCES, sentence_vectors=vectors
    )
    terms = QuestionTerms(stems=["bridg", "open"], idf={"bridg": 2.0, "open": 1.0}, vector=vectors[0])
    first = reading_features(Reading(0, 21, 25, 5.0, 1.0), held, 0, terms)
    second = reading_features(Reading(0, 35, 46, 5.0, 1.0), held, 0, terms)
    assert first["cosine"] == 1.0 and second["cosine"] == 0.0
    assert first["lexical"] == 1.0 and second["lexical"] == 0.0
    assert reading_features(Reading(0, 21, 25, 5.0, 1.0), held, 0)["cosine"] == 0.0  # no terms given


def test_a_name_the_archive_never_mentions_weighs_against_every_answer() -> None:
    """A question giving a name that no passage holds flags each reading; a calibration weighing it
    withholds what it would otherwise answer."""
    named = QuestionTerms(stems=["bridg", "vodafon"], idf={}, vector=None, unseen_names=("vodafon",))
    plain = QuestionTerms(stems=["bridg"], idf={}, vector=None)
    reading = Reading(0, 21, 25, 5.0, 1.0)
    assert reading_features(reading, passage(), 0, named)["unseen_name"] == 1.0
    assert reading_features(reading, passage(), 0, plain)["unseen_name"] == 0.0
    calibration = {"margin": 1.0, "unseen_name": -8.0, "bias": -2.0}
    answered = read_answers([passage()], [reading], calibration, 0.5, 10, plain)
    assert [a.span_text for a in answered] == ["1932"]
    assert read_answers([passage()], [reading], calibration, 0.5, 10, named) == []


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [(21, 25, (0, 26)), (35, 46, (27, 55)), (21, 40, (0, 55)), (60, 77, (56, 78))],
)
def test_sentence_around_covers_the_span(start: int, end: int, expected: tuple[int, int]) -> None:
    """The quoted sentence is the one holding the span; a span across sentences quotes both."""
    assert sentence_around(passage(), start, end) == expected


def test_read_answers_rank_by_calibrated_chance_and_abstain_below_the_threshold() -> None:
    """Answers come best first, each quoting its sentence with the span inside it; weak ones are withheld."""
    readings = [
        Reading(passage=0, start=21, end=25, span_logit=8.0, null_logit=1.0),
        Reading(passage=1, start=35, end=46, span_logit=2.0, null_logit=4.0),
    ]
    calibration = {"margin": 1.0, "bias": 0.0}
    answers = read_answers([passage(), passage()], readings, calibration, 0.05, 10)
    assert [a.text for a in answers] == [TEXT[0:26], TEXT[27:55]]
    assert answers[0].span_text == "1932"
    assert answers[0].score == pytest.approx(calibrated({"margin": 7.0}, calibration))
    assert answers[0].score > answers[1].score
    assert read_answers([passage(), passage()], readings, calibration, 0.5, 10)[-1].span_text == "1932"
    assert read_answers([passage(), passage()], readings, calibration, 0.9999, 10) == []


def test_read_answers_never_run_from_one_paragraph_into_the_next() -> None:
    """A span running across a line break ends before it; only its own paragraph's sentence is quoted."""
    text = 'It was called the "second oil shock."\nThe crisis had a major impact.'
    split = passage(text, ((0, 37), (38, len(text))))
    answers = read_answers([split], [Reading(0, 18, 50, 8.0, 1.0)], {"margin": 1.0}, 0.0, 10)
    assert [(a.text, a.span_text) for a in answers] == [(text[:37], '"second oil shock')]
    across = read_answers([passage()], [Reading(0, 21, 40, 8.0, 1.0)], {"margin": 1.0}, 0.0, 10)
    assert [a.text for a in across] == [TEXT[0:55]]  # sentences of one paragraph stay together


def test_read_answers_quote_a_sentence_once() -> None:
    """The same sentence read in two overlapping passages is one answer, not two."""
    readings = [Reading(0, 21, 25, 8.0, 1.0), Reading(1, 21, 25, 7.0, 1.0)]
    answers = read_answers([passage(), passage()], readings, {"margin": 1.0}, 0.0, 10)
    assert len(answers) == 1


def test_agreement_counts_the_other_passages_giving_the_same_span() -> None:
    """Spans that agree once case, punctuation and articles are folded support each other; others do not."""
    other = passage("In 1932, the bridge opened. It cost ten million dollars.", ((0, 27), (28, 56)))
    readings = [Reading(0, 21, 25, 8.0, 1.0), Reading(1, 3, 7, 6.0, 1.0), Reading(2, 35, 46, 7.0, 1.0)]
    assert agreement([passage(), other, passage()], readings) == [1, 1, 0]
    assert reading_features(readings[0], passage(), 0, agree=1)["agree"] == 1.0


def test_read_answers_add_up_answers_that_agree() -> None:
    """With the agreement weighed, a span two passages give outranks a single one that scores higher alone."""
    other = passage("In 1932, the bridge opened. It cost ten million dollars.", ((0, 27), (28, 56)))
    readings = [Reading(0, 35, 46, 7.0, 1.0), Reading(1, 3, 7, 6.5, 1.0), Reading(2, 21, 25, 6.5, 1.0)]
    calibration = {"margin": 1.0, "agree": 2.0, "bias": -6.0}
    answers = read_answers([passage(), other, passage()], readings, calibration, 0.0, 10)
    assert answers[0].span_text == "1932"
    assert answers[0].score == pytest.approx(calibrated({"margin": 5.5, "agree": 1.0}, calibration))
    alone = read_answers([passage(), other, passage()], readings, {"margin": 1.0, "bias": -6.0}, 0.0, 10)
    assert alone[0].span_text == "ten million"


def test_span_shares_weigh_each_span_against_the_others_found() -> None:
    """A span's share is a softmax over the best spans of every passage read: the shares sum to one, the
    strongest span holds the most, and an answer's score weighs its share when the calibration does."""
    shares = span_shares([8.0, 6.0, 6.0])
    assert sum(shares) == pytest.approx(1.0)
    assert shares[0] > shares[1] and shares[1] == pytest.approx(shares[2])
    assert span_shares([3.0]) == [1.0] and span_shares([]) == []
    other = passage("In 1932, the bridge opened. It cost ten million dollars.", ((0, 27), (28, 56)))
    readings = [Reading(0, 21, 25, 8.0, 1.0), Reading(1, 36, 47, 6.0, 1.0)]
    calibration = {"share": 4.0, "bias": -2.0}
    answers = read_answers([passage(), other], readings, calibration, 0.0, 10)
    assert [a.span_text for a in answers] == ["1932", "ten million"]
    assert answers[0].score == pytest.approx(calibrated({"share": span_shares([8.0, 6.0])[0]}, calibration))
    assert answers[1].score == pytest.approx(calibrated({"share": span_shares([8.0, 6.0])[1]}, calibration))


def test_shipped_weights_match_their_pinned_sha256() -> None:
    """The reader in the package is the one its settings file pins, small enough to ship."""
    config = json.loads((WEIGHTS_DIR / CONFIG_FILE).read_text())
    weights = WEIGHTS_DIR / WEIGHTS_FILE
    assert file_sha256(weights) == config["weights_sha256"] == SHIPPED_WEIGHTS_SHA256
    assert weights.stat().st_size <= 25_000_000
    assert 0.0 < config["threshold"] < 1.0


def test_a_changed_weights_file_is_refused(tmp_path: Path) -> None:
    """Weights that do not match their pinned SHA-256 stop the reader with a ModelError."""
    folder = tmp_path / "reader"
    shutil.copytree(WEIGHTS_DIR, folder)
    with (folder / WEIGHTS_FILE).open("r+b") as handle:
        handle.seek(-4, 2)
        handle.write(b"\x00\x01\x02\x03")
    base = bundled_model_path()
    assert base is not None
    with pytest.raises(ModelError, match="SHA-256"):
        Reader(str(folder), str(base))
    with pytest.raises(ModelError, match="no reader"):
        Reader(str(tmp_path / "missing"), str(base))


def test_reader_finds_the_span_in_real_text() -> None:
    """The shipped reader, on plain text it never saw, points at the answer and not at the question."""
    base = bundled_model_path()
    assert base is not None
    reader = Reader("default", str(base))
    texts = [
        "The city council met on Tuesday. The new library will open in March 2027, the mayor said.",
        "Rainfall was heavy across the region. Farmers expect a good harvest this year.",
    ]
    readings = reader.read("When will the new library open?", texts)
    best = max(readings, key=lambda r: r.margin)
    assert best.passage == 0
    assert texts[0][best.start : best.end] in ("March 2027", "in March 2027")
    assert best.margin > max(r.margin for r in readings if r.passage == 1)


def test_reader_off_falls_back_to_the_sentence_picker(tmp_path: Path) -> None:
    """QA_READER=off answers with the picker: no reader is loaded, answers still quote the archive."""
    engine = Engine(Settings(index_dir=tmp_path / "index", reader="off"))
    engine.index_paths([SEEDS])
    result = engine.ask("When did the war start?")
    assert engine.reader is None
    assert result.answers and result.answers[0].text in result.answers[0].passage


def test_the_passages_quoted_come_first_in_the_answers_order() -> None:
    """``ask``'s passages: those its answers quote, in the answers' order, then the others as retrieved;
    a copy's passage (same text, another article) is the copy's own, not the quoted one's."""
    other = ArticleMeta(id="a2", title="T", published=None, source="t.txt", url=None)
    first, second, third = (
        passage(text, score=0.9 - n / 10) for n, text in enumerate(("One.", "Two.", "Three."))
    )
    copy = Passage(chunk_id=9, text="Three.", score=0.1, article=other, sentences=((0, 6),))
    answers = [
        Answer(text=p.text, span=(0, 3), score=s, passage=p.text, article=p.article)
        for p, s in ((third, 0.8), (second, 0.6))
    ]
    ordered = quoted_first([first, second, third, copy], answers)
    assert ordered == [third, second, first, copy]
    assert quoted_first([first, second], []) == [first, second]
