"""Time against the index: the window a question and its filters ask for, and the newest answers first."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, timedelta

from qa.errors import QuestionError
from qa.models import Answer, Passage
from qa.store import Snapshot
from qa.timephrases import TimeQuery, TimeWindow, read_time

logger = logging.getLogger(__name__)

GOOD_SHARE = 0.5  # "latest": articles retrieved with this share of the best passage's score are on topic


def filters(since: date | None, until: date | None) -> TimeWindow | None:
    """The window of explicit ``since`` and ``until`` days (both inclusive), or None without either."""
    if since is None and until is None:
        return None
    if since is not None and until is not None and since > until:
        raise QuestionError(f"since ({since}) is after until ({until})")
    return TimeWindow(since, None if until is None else until + timedelta(days=1))


def plan(
    snap: Snapshot,
    question: str,
    since: date | None = None,
    until: date | None = None,
    as_of: date | None = None,
) -> TimeQuery:
    """The question's time words read against ``as_of`` (today by default), within the filters.

    In an archive where no article has a date the time words stay part of the question: a window
    would hide every article, and "in 1865" is then more likely history than a publication date."""
    asked = read_time(question, as_of or date.today())
    if (asked.phrases or asked.newest_first) and not snap.has_dates():
        logger.info("no article has a date: %s read as words of the question", ", ".join(asked.phrases))
        asked = TimeQuery(question)
    explicit = filters(since, until)
    window = explicit.intersect(asked.window) if explicit is not None else asked.window
    if asked.window is not None:
        logger.info("searching articles published %s (%s)", window and window.describe(), asked.phrases)
    return TimeQuery(asked.text, window, asked.newest_first, asked.phrases)


def newest_first(
    answers: Sequence[Answer], passages: Sequence[Passage], share: float = GOOD_SHARE
) -> list[Answer]:
    """Answers from on-topic articles (a passage retrieved with at least ``share`` of the best
    passage's score) newest article first, undated ones after them; then the others, by score.

    The passage score judges the topic: "what is the latest on the bridge?" asks for no fact that an
    answer sentence could match, so the picker's scores would keep the best-matching story first."""
    relevance: dict[str, float] = {}
    for passage in passages:
        relevance[passage.article.id] = max(relevance.get(passage.article.id, 0.0), passage.score)
    top = max(relevance.values(), default=0.0)
    good = [a for a in answers if relevance.get(a.article.id, 0.0) >= share * top]
    rest = [a for a in answers if relevance.get(a.article.id, 0.0) < share * top]
    good.sort(key=lambda a: a.article.published or "", reverse=True)
    return good + rest
