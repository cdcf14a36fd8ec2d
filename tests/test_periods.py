"""The periods an answer's sentence names; answers naming only other periods go after the others."""

from __future__ import annotations

from datetime import date

import pytest

from qa.answering.periods import named_period_first, sentence_periods
from qa.models import Answer, ArticleMeta, TimeWindow


@pytest.mark.parametrize(
    ("sentence", "published", "periods"),
    [
        ("Sales in the week ended March 26 were 250,000 t.", "1987-04-02", [("1987-03-26", "1987-03-27")]),
        ("Spending rose 1.0 pct in February.", "1987-04-01T10:00:00", [("1987-02-01", "1987-03-01")]),
        ("Orders fell in December.", "1987-01-05", [("1986-12-01", "1987-01-01")]),  # the month before
        ("They meet on April 20 in Geneva.", "1987-04-17", [("1987-04-20", "1987-04-21")]),  # three days on
        ("The plan began October 1, 1986.", "1987-04-09", [("1986-10-01", "1986-10-02")]),
        ("Output will grow this calendar year.", "1987-04-29", [("1987-01-01", "1988-01-01")]),
        ("Earnings last month averaged 307 dlrs.", "1987-03-27", [("1987-02-01", "1987-03-01")]),
        ("The minister spoke yesterday.", "1987-03-24", [("1987-03-23", "1987-03-24")]),
        ("Profit for 1986 rose.", None, [("1986-01-01", "1987-01-01")]),  # a year needs no publication day
        ("Orders fell in December.", None, []),  # a month without a year, in a story without a date
        ("It sold bushels of May wheat and may sell more.", "1987-04-07", []),  # a contract month, a verb
        ("PARIS, Feb 24 - Sales fell 2.1 pct.", "1987-02-24", []),  # the dateline is when it was filed
        ("Shares rose 2,000 on the day.", "1987-02-24", []),
    ],
)
def test_sentence_periods_are_read_against_the_story_day(
    sentence: str, published: str | None, periods: list[tuple[str, str]]
) -> None:
    """Dates, yearless dates nearest the story's day and relative words become periods; nothing else does."""
    found = {(str(w.since), str(w.until)) for w in sentence_periods(sentence, published)}
    assert found == set(periods)


def _answer(text: str, published: str, score: float) -> Answer:
    article = ArticleMeta(id=text[:12], title="t", published=published, source="s", url=None)
    return Answer(text=text, span=None, score=score, passage=text, article=article)


APRIL_2 = TimeWindow(date(1987, 4, 2), date(1987, 4, 3))
OTHER_WEEK = _answer("Sales in the week ended March 26 were 250,000 tonnes.", "1987-04-02", 0.8)
UNDATED = _answer("Sales to the Soviet Union were small.", "1987-04-01", 0.7)
ASKED_WEEK = _answer("Sales in the week ended April 2 were 287,700 tonnes.", "1987-04-09", 0.6)


def test_an_answer_naming_only_another_period_goes_after_the_others() -> None:
    """The other week's report follows both the asked week's and the one that names no period."""
    assert named_period_first([OTHER_WEEK, UNDATED, ASKED_WEEK], APRIL_2) == [UNDATED, ASKED_WEEK, OTHER_WEEK]


@pytest.mark.parametrize(
    "answers",
    [
        [OTHER_WEEK, UNDATED],  # nothing names the asked period: no evidence to reorder on
        [ASKED_WEEK, UNDATED, OTHER_WEEK],  # already in order
        [_answer("Sales were 250,000 t in the week ended March 26 and 287,700 t in the week ended April 2.",
                 "1987-04-09", 0.9), ASKED_WEEK],  # one of its periods is the asked one
    ],
)  # fmt: skip
def test_answers_keep_their_order_without_a_conflict(answers: list[Answer]) -> None:
    """Answers stay in score order unless one names only other periods while another names the asked one."""
    assert named_period_first(answers, APRIL_2) == answers
