"""Time in questions: a phrase ("in March 2005", "last week") becomes a period of days.

Pure functions of the question and the reference day ``as_of``; nothing here reads the index.

Which words count (anything else, such as "the 2004 election", stays part of the question):

- a date after a preposition: "in 2004", "in March 2005", "during May", "on 14 February 2005",
  "in the first/second/third/fourth/last week of February 1987" (days 1-7 ... 22-28, the last seven),
  "on 2005-02-14", "since", "after", "before", "until" a date, "between X and Y", "from X to Y";
  or after "ended"/"ending", which close a reporting period ("in the week ended June 8");
  a date without a year is the latest one that has begun by ``as_of`` (or by the archive's newest
  day when that is earlier). Such a date says when things happened: it is the ``period`` of the
  question, and its words stay in the searched text (the stories name their month and day);
- relative words: "today", "yesterday", "this/last week|month|year" (calendar periods, weeks
  starting on Monday; "this ..." runs up to ``as_of``), "in the last/past N days|weeks|months|years"
  (rolling, up to ``as_of``), "recently"/"lately" (the 30 days up to ``as_of``): a ``window`` of
  publication days, and words no story holds, so they leave the searched text;
- "latest", "newest", "most recent", "current(ly)", "now", "nowadays": newest article first (not
  the "current account" of a balance of payments or a bank, nor an alternating, direct or electric
  current).

A window is ``[since, until)``: ``since`` inclusive, ``until`` exclusive, either may be open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from qa.errors import QuestionError
from qa.models import TimeWindow

RECENT_DAYS = 30  # "recently", "lately"

_MONTH_NAMES = (
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
    ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sept", "sep"),
    ("october", "oct"), ("november", "nov"), ("december", "dec"),
)  # fmt: skip
_MONTH_NUMBERS = {name: number for number, names in enumerate(_MONTH_NAMES, start=1) for name in names}
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip

YEAR = r"(?:1[6-9]\d\d|2\d\d\d)"
DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_ISO = r"\d{4}-\d{2}-\d{2}"


def month_pattern(titled: bool = False) -> str:
    """A month's name or abbreviation; ``titled``: capitalised only ("May", not the verb "may")."""
    names = sorted((n.title() if titled else n for n in _MONTH_NUMBERS), key=len, reverse=True)
    return r"(?:" + "|".join(names) + r")\.?"


def date_pattern(month: str) -> str:
    """A date of any extent: a day, a month or a year (tried longest first), months written ``month``."""
    return (
        rf"(?:{_ISO}|(?:the\s+)?{DAY}\s+(?:of\s+)?{month}(?:,?\s+{YEAR})?"
        rf"|{month}\s+{DAY}(?:,?\s+{YEAR})?(?![\d-])|{month},?\s+{YEAR}|{month}|(?:the\s+year\s+)?{YEAR})"
    )


_POINT = date_pattern(month_pattern())
_COUNT = r"(?:\d{1,3}|" + "|".join(_NUMBER_WORDS) + r")"
_UNIT = r"(?:day|week|month|year)s?"

_RANGE = re.compile(
    rf"\b(?:between\s+(?P<a>{_POINT})\s+and|from\s+(?P<b>{_POINT})\s+(?:to|until|till|through))"
    rf"\s+(?P<end>{_POINT})(?![\w-])",
    re.IGNORECASE,
)
_BOUND = re.compile(
    rf"\b(?P<word>since|after|before|until|till|prior\s+to)\s+(?P<point>{_POINT})(?![\w-])", re.IGNORECASE
)
_WITHIN = re.compile(
    rf"\b(?:in|on|during|throughout|ended|ending)\s+(?P<point>{_POINT})(?![\w-])", re.IGNORECASE
)  # "ended": "the week ended June 8", "the quarter ending March 31"
_ROLLING = re.compile(
    rf"\b(?:(?:in|over|during|within)\s+)?(?:the\s+(?:last|past)\s+(?:(?P<n>{_COUNT})\s+)?"
    rf"|(?:last|past)\s+(?P<m>{_COUNT})\s+)(?P<unit>{_UNIT})\b(?!\s+of\b)",
    re.IGNORECASE,
)  # not "the last week of February" (_WEEK_OF) nor "the past two years of talks"
# "last week", but not "the last week of February" (a week of a named month: _WEEK_OF) or "the last
# month of the year"
_CALENDAR = re.compile(r"\b(?P<which>this|last)\s+(?P<unit>week|month|year)\b(?!\s+of\b)", re.IGNORECASE)
_NTH_WEEK = {"first": 0, "second": 1, "third": 2, "fourth": 3, "last": -1, "final": -1}
_WEEK_OF = re.compile(
    rf"\b(?:(?:in|during)\s+)?the\s+(?P<nth>{'|'.join(_NTH_WEEK)})\s+week\s+of\s+"
    rf"(?P<point>{month_pattern()}(?:,?\s+{YEAR})?)(?![\w-])",
    re.IGNORECASE,
)
_DAYS = re.compile(r"\b(?P<word>today|yesterday)\b", re.IGNORECASE)
_RECENTLY = re.compile(
    r"\b(?<!most )(?:recently|lately|of\s+late|in\s+recent\s+(?:days|weeks))\b", re.IGNORECASE
)
_NEWEST = re.compile(r"\b(?:latest|newest|most\s+recent(?:ly)?)\b", re.IGNORECASE)  # removed from the text
# "current" is not time in a country's or a bank's "current account" or in an electric current.
_NOW = re.compile(
    r"\b(?:(?<!alternating )(?<!direct )(?<!electric )current(?!\s+accounts?\b)|currently|now|nowadays|"
    r"these\s+days|at\s+present)\b",
    re.IGNORECASE,
)  # kept


@dataclass(frozen=True, slots=True)
class TimeQuery:
    """What a question says about time, and the question without its relative time words (for retrieval)."""

    text: str
    window: TimeWindow | None = None  # publication days searched, and no others (relative words, filters)
    newest_first: bool = False
    phrases: tuple[str, ...] = ()
    period: TimeWindow | None = None  # the days its dates name: when things happened, favoured not required
    plain: str = ""  # without its dates too, for the model (dense search, reader): stories seldom repeat them


def parse_day(value: str, name: str = "date") -> date:
    """An ISO day ``YYYY-MM-DD``; ``QuestionError`` naming ``name`` otherwise."""
    try:
        if not re.fullmatch(_ISO, value.strip()):
            raise ValueError(value)
        return date.fromisoformat(value.strip())
    except ValueError:
        raise QuestionError(f"{name} must be a date written YYYY-MM-DD, not {value!r}") from None


def month_start(year: int, month: int) -> date:
    """The first day of a month; ``month`` may run past 12 or below 1 (into the next or earlier years)."""
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def _latest_year(month: int, day: int, as_of: date) -> int:
    """The year of the latest ``month``/``day`` on or before ``as_of``."""
    return as_of.year if (month, day) <= (as_of.month, as_of.day) else as_of.year - 1


def named_days(text: str, as_of: date, year: int | None = None) -> TimeWindow:
    """The days a date (``date_pattern``) names: a whole year, a whole month or one day; ``year``
    fills a missing one, else the latest such day that has begun by ``as_of``."""
    words = re.sub(r"[,.]", " ", text.lower()).split()
    words = [w for w in words if w not in ("the", "of", "year")]
    if len(words) == 1 and re.fullmatch(_ISO, words[0]):
        day = parse_day(words[0])
        return TimeWindow(day, day + timedelta(days=1))
    found_year = next((int(w) for w in words if re.fullmatch(YEAR, w)), None)
    month = next((_MONTH_NUMBERS[w] for w in words if w in _MONTH_NUMBERS), None)
    day_number = next((int(re.sub(r"\D", "", w)) for w in words if re.fullmatch(DAY, w)), None)
    if month is None:
        assert found_year is not None
        return TimeWindow(date(found_year, 1, 1), date(found_year + 1, 1, 1))
    chosen = found_year or year or _latest_year(month, day_number or 1, as_of)
    if day_number is None:
        return TimeWindow(date(chosen, month, 1), month_start(chosen, month + 1))
    try:
        day = date(chosen, month, day_number)
    except ValueError:  # "30 February": the whole month
        return TimeWindow(date(chosen, month, 1), month_start(chosen, month + 1))
    return TimeWindow(day, day + timedelta(days=1))


def explicit_year(text: str) -> int | None:
    """The year a date gives in its own words, None when it gives none ("March 5")."""
    match = re.search(rf"\b{YEAR}\b", text)
    return int(match.group()) if match else None


def _range(match: re.Match[str], as_of: date) -> TimeWindow:
    first = match.group("a") or match.group("b")
    end = named_days(match.group("end"), as_of)
    year = explicit_year(first)
    if year is None and explicit_year(match.group("end")) is not None:
        # "between January and March 2005": the first date takes the second one's year
        start = named_days(first, as_of, end.since.year if end.since else None)
        if start.since is not None and end.since is not None and start.since > end.since:
            start = named_days(first, as_of, end.since.year - 1)
    else:
        start = named_days(first, as_of)
        if year is None and end.since is not None and start.since is not None and end.since < start.since:
            # "between November and February"
            end = named_days(match.group("end"), as_of, start.since.year + 1)
    return TimeWindow(start.since, end.until)


def _bound(match: re.Match[str], as_of: date) -> TimeWindow:
    point = named_days(match.group("point"), as_of)
    word = match.group("word").lower()
    if word == "since":
        return TimeWindow(point.since, None)
    if word == "after":
        return TimeWindow(point.until, None)
    if word in ("until", "till"):
        return TimeWindow(None, point.until)
    return TimeWindow(None, point.since)  # before, prior to


def _rolling(match: re.Match[str], as_of: date) -> TimeWindow:
    count = match.group("n") or match.group("m") or "1"
    n = int(count) if count.isdigit() else _NUMBER_WORDS[count.lower()]
    unit = match.group("unit").lower().rstrip("s")
    end = as_of + timedelta(days=1)
    if unit == "day":
        return TimeWindow(end - timedelta(days=n), end)
    if unit == "week":
        return TimeWindow(end - timedelta(weeks=n), end)
    months = n * 12 if unit == "year" else n
    back = month_start(as_of.year, as_of.month - months)
    return TimeWindow(back.replace(day=min(as_of.day, 28)) + timedelta(days=1), end)


def calendar_unit(unit: str, day: date, step: int = 0) -> TimeWindow:
    """The whole day, calendar week (from Monday), month or year holding ``day``, ``step`` units on."""
    if unit == "day":
        return TimeWindow(day + timedelta(days=step), day + timedelta(days=step + 1))
    if unit == "week":
        start = day - timedelta(days=day.weekday()) + timedelta(weeks=step)
        return TimeWindow(start, start + timedelta(weeks=1))
    if unit == "month":
        start = month_start(day.year, day.month + step)
        return TimeWindow(start, month_start(start.year, start.month + 1))
    return TimeWindow(date(day.year + step, 1, 1), date(day.year + step + 1, 1, 1))


def _week_of(match: re.Match[str], as_of: date) -> TimeWindow:
    """The first (days 1-7), second, third or fourth week of a month, or its last seven days."""
    month = named_days(match.group("point"), as_of)
    assert month.since is not None and month.until is not None
    nth = _NTH_WEEK[match.group("nth").lower()]
    start = month.until - timedelta(days=7) if nth < 0 else month.since + timedelta(weeks=nth)
    return TimeWindow(start, start + timedelta(days=7))


def _calendar(match: re.Match[str], as_of: date) -> TimeWindow:
    unit = match.group("unit").lower()
    if match.group("which").lower() == "this":  # up to as_of: nothing later is published yet
        return TimeWindow(calendar_unit(unit, as_of).since, as_of + timedelta(days=1))
    return calendar_unit(unit, as_of, -1)


def _days(match: re.Match[str], as_of: date) -> TimeWindow:
    return calendar_unit("day", as_of, 0 if match.group("word").lower() == "today" else -1)


def _recently(_: re.Match[str], as_of: date) -> TimeWindow:
    end = as_of + timedelta(days=1)
    return TimeWindow(end - timedelta(days=RECENT_DAYS), end)


_READERS = (  # (pattern, reader, a date: True, or words relative to as_of: False), tried in turn
    (_RANGE, _range, True),
    (_WEEK_OF, _week_of, True),
    (_BOUND, _bound, True),
    (_ROLLING, _rolling, False),
    (_WITHIN, lambda m, as_of: named_days(m.group("point"), as_of), True),
    (_CALENDAR, _calendar, False),
    (_DAYS, _days, False),
    (_RECENTLY, _recently, False),
)


def _tidy(text: str) -> str:
    """Spaces and punctuation left clean after phrases were cut out."""
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([?.!,;:])", r"\1", text)
    text = re.sub(r"([,;:])(?=[?.!,;:]|$)", "", text.strip())
    return re.sub(r"^[,;:]\s*", "", text).strip()


def read_time(question: str, as_of: date, archive_end: date | None = None) -> TimeQuery:
    """The period, window and order a question asks for, and the question without its relative words.

    A date without a year is read against ``archive_end`` (the archive's newest day) when that is
    before ``as_of``: in an archive of past news "on April 7" is the last April 7 it covers."""
    dated_as_of = min(as_of, archive_end) if archive_end is not None else as_of
    scanned = question  # phrases found are blanked out here, keeping every position
    window: TimeWindow | None = None
    period: TimeWindow | None = None
    phrases: list[str] = []
    cuts: list[tuple[int, int, bool]] = []
    for pattern, reader, dated in _READERS:
        while (match := pattern.search(scanned)) is not None:
            if dated:
                period = reader(match, dated_as_of).intersect(period)
            else:
                window = reader(match, as_of).intersect(window)
            cuts.append((match.start(), match.end(), dated))
            phrases.append(match.group().strip())
            scanned = scanned[: match.start()] + " " * len(match.group()) + scanned[match.end() :]
    newest = _NEWEST.search(scanned) is not None or _NOW.search(scanned) is not None
    phrases.extend(m.group() for m in _NEWEST.finditer(scanned))
    text = _without(question, [(start, end) for start, end, dated in cuts if not dated])
    bare = _without(question, [(start, end) for start, end, _ in cuts])
    return TimeQuery(text, window, newest, tuple(phrases), period, bare)


def _without(question: str, spans: list[tuple[int, int]]) -> str:
    """The question without these spans and newest-first words; all of it if only time words are left."""
    text = question
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + " " + text[end:]
    cleaned = _tidy(_NEWEST.sub(" ", text))
    return cleaned if re.search(r"\w", cleaned) else question
