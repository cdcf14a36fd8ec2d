"""The periods an answer's sentence names, against the period its question names.

"How much corn went to the Soviet Union in the week ending April 2?" is often answered first by a
weekly report of the week before ("in the week ended March 26"): the same words, another period.
The reader reads the question without its dates (stories seldom repeat them word for word), so it
cannot tell the two apart; the sentences can. An answer whose sentence names only periods outside
the question's gives way to answers that name the question's period.

A sentence's dates are read against its story's publication day: a month or a day without a year is
the one nearest that day ("on April 20" in a story of April 17 is three days later, "in December" in
a story of January 5 the month before), and "today", "yesterday", "this/last/next week, month or
year" count from it. Months are read only when capitalised ("May", never the verb "may"), and a
month alone only after "in", "on", "during", "for", "ended" or "ending". A sentence that names no
period (most do not) neither gains nor loses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from qa.answering.timephrases import (
    DAY,
    YEAR,
    calendar_unit,
    date_pattern,
    explicit_year,
    month_pattern,
    named_days,
)
from qa.ingest.dateline import find_dateline
from qa.models import Answer, TimeWindow, iso_day

_MONTH = month_pattern(titled=True)
_AFTER_WORD = re.compile(
    rf"\b(?i:in|on|during|for|ended|ending)\s+(?P<date>{date_pattern(_MONTH)})(?![\w-])"
)  # "in February", "for 1986", "the week ended March 26"
_BARE = re.compile(
    rf"(?<![\w-])(?P<date>{_MONTH}\s+{DAY}(?:,?\s+{YEAR})?|{_MONTH},?\s+{YEAR})(?![\w-])"
)  # "March 5 next year", "October 1, 1986", "June 1987"
_RELATIVE = re.compile(
    r"\b(?:(?P<word>today|yesterday|tomorrow)|(?P<which>this|last|next)\s+(?:calendar\s+)?"
    r"(?P<unit>week|month|year))\b",
    re.IGNORECASE,
)
_STEPS = {"this": 0, "last": -1, "next": 1, "today": 0, "yesterday": -1, "tomorrow": 1}


def _nearest(text: str, published: date) -> TimeWindow:
    """The days a date names, a missing year taken to put them nearest ``published``."""
    if explicit_year(text) is not None:
        return named_days(text, published)

    def distance(window: TimeWindow) -> int:
        assert window.since is not None and window.until is not None
        if window.since <= published < window.until:
            return 0
        return min(abs((window.since - published).days), abs((window.until - published).days))

    years = (published.year - 1, published.year, published.year + 1)
    return min((named_days(text, published, year) for year in years), key=distance)


def sentence_periods(sentence: str, published: str | None) -> list[TimeWindow]:
    """The periods ``sentence`` names, read against its story's ISO publication day (only those with
    a year of their own when the story has no date); a wire dateline ("PARIS, Feb 24 - ") names the
    day the story was filed, not a period, and is skipped."""
    dateline = find_dateline(sentence)
    if dateline is not None:
        sentence = sentence[dateline.end :]
    day = iso_day(published)
    found: list[TimeWindow] = []
    for pattern in (_AFTER_WORD, _BARE):
        for match in pattern.finditer(sentence):
            text = match.group("date")
            if day is not None:
                found.append(_nearest(text, day))
            elif explicit_year(text) is not None:
                found.append(named_days(text, date.today()))
    if day is not None:
        for match in _RELATIVE.finditer(sentence):
            step = _STEPS[(match.group("word") or match.group("which")).lower()]
            found.append(calendar_unit((match.group("unit") or "day").lower(), day, step))
    return found


def _overlaps(a: TimeWindow, b: TimeWindow) -> bool:
    return not a.intersect(b).empty


def named_period_first(answers: Sequence[Answer], period: TimeWindow) -> list[Answer]:
    """``answers`` with those whose sentence names only periods outside ``period`` after the others,
    when some answer's sentence names a day inside it; in their order otherwise."""
    named = [sentence_periods(a.text, a.article.published) for a in answers]
    inside = [any(_overlaps(p, period) for p in periods) for periods in named]
    if not any(inside):
        return list(answers)
    elsewhere = [bool(periods) and not hit for periods, hit in zip(named, inside, strict=True)]
    paired = list(zip(answers, elsewhere, strict=True))
    return [a for a, off in paired if not off] + [a for a, off in paired if off]
