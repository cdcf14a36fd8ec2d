"""Time phrases in questions: each gives a period (dates) or a window of publication days (relative words)."""

from __future__ import annotations

from datetime import date

import pytest

from qa.answering.timephrases import parse_day, read_time
from qa.errors import QuestionError
from qa.models import TimeWindow

AS_OF = date(2005, 6, 15)  # a Wednesday


def _window(since: str | None, until: str | None) -> TimeWindow:
    return TimeWindow(
        date.fromisoformat(since) if since else None, date.fromisoformat(until) if until else None
    )


@pytest.mark.parametrize(
    ("question", "since", "until"),
    [
        # explicit dates: the whole year, month or day named (until is exclusive)
        ("What happened in 2004?", "2004-01-01", "2005-01-01"),
        ("What did the council decide during 2004?", "2004-01-01", "2005-01-01"),
        ("What happened in March 2005?", "2005-03-01", "2005-04-01"),
        ("What happened in March, 2005?", "2005-03-01", "2005-04-01"),
        ("Who spoke on 14 February 2005?", "2005-02-14", "2005-02-15"),
        ("Who spoke on the 14th of February 2005?", "2005-02-14", "2005-02-15"),
        ("Who spoke on February 14, 2005?", "2005-02-14", "2005-02-15"),
        ("Who spoke on 2005-02-14?", "2005-02-14", "2005-02-15"),
        # the end of a reporting period, as news gives it
        ("How much did sales rise in the week ended February 14, 2005?", "2005-02-14", "2005-02-15"),
        ("What did the bank earn in the quarter ending March 2005?", "2005-03-01", "2005-04-01"),
        # a week of a named month: "last week" here is February's, not the one before as_of
        ("How many cars were sold in the last week of February 2005?", "2005-02-22", "2005-03-01"),
        ("How many cars were sold in the last week of February 2004?", "2004-02-23", "2004-03-01"),
        ("What happened during the first week of March?", "2005-03-01", "2005-03-08"),
        ("What happened in the third week of May 2005?", "2005-05-15", "2005-05-22"),
        # without a year: the latest such month or day that has begun by as_of
        ("What happened in March?", "2005-03-01", "2005-04-01"),
        ("What happened in June?", "2005-06-01", "2005-07-01"),
        ("What happened in July?", "2004-07-01", "2004-08-01"),
        ("What happened on 20 June?", "2004-06-20", "2004-06-21"),
        # ranges and bounds
        ("What happened between January and March?", "2005-01-01", "2005-04-01"),
        ("What happened between November and February?", "2004-11-01", "2005-03-01"),
        ("What happened between January and March 2004?", "2004-01-01", "2004-04-01"),
        ("What happened from 1 May 2005 to 3 May 2005?", "2005-05-01", "2005-05-04"),
        ("What happened between 2003 and 2004?", "2003-01-01", "2005-01-01"),
        ("What happened since March 2005?", "2005-03-01", None),
        ("What happened after 14 February 2005?", "2005-02-15", None),
        ("What happened before 2005?", None, "2005-01-01"),
        ("What happened until March 2005?", None, "2005-04-01"),
    ],
)
def test_read_time_date_gives_period(question: str, since: str | None, until: str | None) -> None:
    """A date the question names becomes its period (when things happened), and its words stay searched."""
    found = read_time(question, AS_OF)
    assert found.period == _window(since, until)
    assert found.window is None and found.text == question and found.phrases


@pytest.mark.parametrize(
    ("question", "since", "until"),
    [
        # relative to as_of
        ("What happened today?", "2005-06-15", "2005-06-16"),
        ("What happened yesterday?", "2005-06-14", "2005-06-15"),
        ("What happened this week?", "2005-06-13", "2005-06-16"),
        ("What happened last week?", "2005-06-06", "2005-06-13"),
        ("What happened this month?", "2005-06-01", "2005-06-16"),
        ("What happened last month?", "2005-05-01", "2005-06-01"),
        ("What happened this year?", "2005-01-01", "2005-06-16"),
        ("What happened last year?", "2004-01-01", "2005-01-01"),
        ("What happened in the past week?", "2005-06-09", "2005-06-16"),
        ("What happened in the last 3 days?", "2005-06-13", "2005-06-16"),
        ("What happened over the past two weeks?", "2005-06-02", "2005-06-16"),
        ("Who resigned recently?", "2005-05-17", "2005-06-16"),
        ("What has the council done lately?", "2005-05-17", "2005-06-16"),
    ],
)
def test_read_time_relative_phrase_gives_window(question: str, since: str | None, until: str | None) -> None:
    """A relative time phrase becomes a window of publication days, and leaves the searched text."""
    found = read_time(question, AS_OF)
    assert found.window == _window(since, until) and found.period is None
    assert found.phrases and all(p not in found.text for p in found.phrases)


@pytest.mark.parametrize(
    ("question", "searched"),
    [
        ("What did the mayor say in March 2005?", "What did the mayor say in March 2005?"),
        ("Who resigned last week and why?", "Who resigned and why?"),
        ("Who resigned in March 2005 and why, last week?", "Who resigned in March 2005 and why?"),
    ],
)
def test_read_time_removes_relative_words_and_keeps_dates(question: str, searched: str) -> None:
    """Retrieval searches the question without its relative time words; dates stay (stories name them)."""
    assert read_time(question, AS_OF).text == searched


@pytest.mark.parametrize(
    ("question", "archive_end", "since", "until"),
    [
        ("Who sold wheat on April 7?", date(1987, 10, 20), "1987-04-07", "1987-04-08"),
        ("What happened in November?", date(1987, 10, 20), "1986-11-01", "1986-12-01"),
        ("What happened between May and June?", date(1987, 10, 20), "1987-05-01", "1987-07-01"),
        ("What happened on 20 June?", date(2005, 12, 31), "2004-06-20", "2004-06-21"),  # as_of is earlier
        ("What happened in March 2005?", date(1987, 10, 20), "2005-03-01", "2005-04-01"),  # a year is kept
    ],
)
def test_read_time_yearless_date_falls_in_the_archive(
    question: str, archive_end: date, since: str, until: str
) -> None:
    """A date without a year is the latest one on or before the archive's newest day, when that is
    earlier than as_of; relative words still count from as_of."""
    assert read_time(question, AS_OF, archive_end).period == _window(since, until)
    assert read_time("What happened yesterday?", AS_OF, archive_end).window == _window(
        "2005-06-14", "2005-06-15"
    )


@pytest.mark.parametrize(
    "question",
    [
        "Who won the 2004 election?",
        "What changed after the 1990s?",
        "How many people live in the town?",
        "Tell me about May Day",
        "What did the March 2005 report say?",
        "Which 2005 budget cut hurt schools?",
        "What did he sign in the last month of his term?",
        "What came of the past two years of talks?",
    ],
)
def test_read_time_ignores_dates_without_a_preposition(question: str) -> None:
    """Years and months not after a preposition (in, on, since, between...) are words of the question."""
    found = read_time(question, AS_OF)
    assert (found.window, found.text, found.newest_first) == (None, question, False)


@pytest.mark.parametrize(
    ("question", "searched"),
    [
        ("What is the latest news about the bridge?", "What is the news about the bridge?"),
        ("What are the newest figures?", "What are the figures?"),
        ("Which is the most recent report?", "Which is the report?"),
        ("Who is the current mayor?", "Who is the current mayor?"),
        ("Who runs the council now?", "Who runs the council now?"),
    ],
)
def test_read_time_newest_words_order_by_date(question: str, searched: str) -> None:
    """Latest, newest, most recent, current and now ask for the newest article first, with no window."""
    found = read_time(question, AS_OF)
    assert found.newest_first and found.window is None
    assert found.text == searched


@pytest.mark.parametrize(
    "question",
    [
        "How wide was Portugal's current account deficit last year?",
        "Which bank pays interest on current accounts?",
        "Who built the first alternating current motor?",
        "How is a direct current measured?",
        "What does an electric current do to the wire?",
    ],
)
def test_read_time_current_account_and_electric_current_are_not_now(question: str) -> None:
    """A balance of payments' or a bank's "current account" and an electric current say nothing about
    time: their answers keep their order."""
    assert not read_time(question, AS_OF).newest_first


def test_read_time_keeps_a_question_of_time_words_only() -> None:
    """A question that is nothing but a time phrase is still searched with its words."""
    found = read_time("yesterday?", AS_OF)
    assert found.text == "yesterday?" and found.window == TimeWindow(date(2005, 6, 14), date(2005, 6, 15))


@pytest.mark.parametrize(
    ("window", "inside", "outside"),
    [
        (TimeWindow(date(2005, 3, 1), date(2005, 4, 1)), "2005-03-31T23:59:59", "2005-04-01T00:00:00"),
        (TimeWindow(date(2005, 3, 1), None), "2005-03-01", "2005-02-28T23:00:00"),
        (TimeWindow(None, date(2005, 1, 1)), "2004-12-31", None),
    ],
)
def test_window_contains_published_dates(window: TimeWindow, inside: str, outside: str | None) -> None:
    """A window holds the days from since to until (exclusive); an undated article is never inside."""
    assert window.contains(inside) and not window.contains(outside)


@pytest.mark.parametrize(
    ("window", "words"),
    [
        (TimeWindow(date(2005, 3, 1), date(2005, 4, 1)), "from 2005-03-01 to 2005-03-31"),
        (TimeWindow(date(2005, 2, 14), date(2005, 2, 15)), "on 2005-02-14"),
        (TimeWindow(date(2005, 3, 1), None), "since 2005-03-01"),
        (TimeWindow(None, date(2005, 1, 1)), "until 2004-12-31"),
    ],
)
def test_window_describes_its_days(window: TimeWindow, words: str) -> None:
    """The not-found message names the days searched, the last one inclusive."""
    assert window.describe() == words


@pytest.mark.parametrize("value", ["2005-13-01", "14/02/2005", "yesterday", "2005-2-1", ""])
def test_parse_day_refuses_other_formats(value: str) -> None:
    """Dates given as filters must be YYYY-MM-DD; anything else is a QuestionError naming the option."""
    with pytest.raises(QuestionError, match="--since"):
        parse_day(value, "--since")
