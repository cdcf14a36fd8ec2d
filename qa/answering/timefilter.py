"""Time against the index: the windows a question and its filters ask for, and the newest answers first."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import date, timedelta

from qa.answering.timephrases import TimeQuery, read_time
from qa.errors import QuestionError
from qa.models import Answer, Passage, TimeWindow
from qa.store import Snapshot
from qa.text import stem_terms

logger = logging.getLogger(__name__)

GOOD_SHARE = 0.5  # "latest": articles retrieved with this share of the best passage's score are on topic
# The days after a question's period whose stories are read first: a month's figures (prices, trade,
# output, money supply) are reported two to eight weeks after it ends, the slowest official series
# (trade balances, current accounts, construction) seven or eight; annual and quarterly results follow
# their period by weeks too. Eight weeks holds nearly all of them while keeping the span near its period.
AFTER = timedelta(weeks=8)
# And the day before: a wire stamps stories in its own time zone, where another place's day starts the
# evening before (Tokyo's or Sydney's April 7 is April 6 in London and New York).
BEFORE = timedelta(days=1)
# Words that ask for news rather than name its topic: "what is the latest news about cocoa?" is about
# cocoa, and no story need say "news".
NEWS_WORDS = frozenset(
    stem_terms("news latest update updates happened happening happen going story stories developments report")
)


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

    A date without a year falls in the archive's own span when today is past its newest article.
    In an archive where no article has a date the time words stay part of the question: a window
    would hide every article, and "in 1865" is then more likely history than a publication date."""
    today = as_of or date.today()
    asked = read_time(question, today)
    if (asked.phrases or asked.newest_first) and not snap.has_dates():
        logger.info("no article has a date: %s read as words of the question", ", ".join(asked.phrases))
        asked = TimeQuery(question, plain=question)
    elif asked.period is not None:
        asked = read_time(question, today, snap.newest_day())
    explicit = filters(since, until)
    window = explicit.intersect(asked.window) if explicit is not None else asked.window
    if asked.window is not None or asked.period is not None:
        first = favoured(asked.period).describe() if asked.period else "none"
        logger.info(
            "searching articles published %s, first %s (%s)",
            (window or TimeWindow()).describe(),
            first,
            asked.phrases,
        )
    return TimeQuery(asked.text, window, asked.newest_first, asked.phrases, asked.period, asked.plain)


def favoured(period: TimeWindow) -> TimeWindow:
    """The publication days whose stories a question about ``period`` reads first: the period, the
    day before it and ``AFTER`` after it."""
    since = None if period.since is None else period.since - BEFORE
    return TimeWindow(since, None if period.until is None else period.until + AFTER)


def windows(timed: TimeQuery) -> list[TimeWindow | None]:
    """The windows to search in turn until one answers: the days favoured by the question's dates
    (inside its hard limits) first, then the hard limits alone (relative words and filters).

    Favouring, not filtering: a story about January's figures is usually published in February or
    March, and a question may name a date the story does not ("in 1986" asked of a 1987 story)."""
    if timed.period is None:
        return [timed.window]
    first = favoured(timed.period).intersect(timed.window)
    return [timed.window] if first.empty else [first, timed.window]


def on_topic(passages: Sequence[Passage], share: float = GOOD_SHARE) -> set[str]:
    """The articles on the question's topic: those with a passage retrieved with at least ``share``
    of the best passage's score."""
    relevance: dict[str, float] = {}
    for passage in passages:
        relevance[passage.article.id] = max(relevance.get(passage.article.id, 0.0), passage.score)
    top = max(relevance.values(), default=0.0)
    return {article for article, score in relevance.items() if score >= share * top}


def newest_first(answers: Sequence[Answer], topical: Collection[str]) -> list[Answer]:
    """Answers from articles on the topic (``topical_articles``) newest article first, undated ones
    after them; then the others, by score.

    The topic is judged by the passages: "what is the latest on the bridge?" asks for no fact that
    an answer sentence could match, so the answers' scores would keep the best-matching story first."""
    good = [a for a in answers if a.article.id in topical]
    rest = [a for a in answers if a.article.id not in topical]
    good.sort(key=lambda a: a.article.published or "", reverse=True)
    return good + rest


def topical_articles(question: str, passages: Sequence[Passage]) -> set[str]:
    """The articles on a "latest" question's topic: those with a passage that holds every word naming
    it ("cocoa" in "what was the latest news about cocoa?", "Eastport" and "tunnel" in "... about the
    Eastport tunnel?"), however far down retrieval ranked it (a big topic's newest stories rank below
    its older ones); none when the archive has no news on it. A question that names no topic ("what
    is the latest?"): the articles retrieved with at least half the best passage's score."""
    topic = set(stem_terms(question)) - NEWS_WORDS
    if not topic:
        return on_topic(passages)
    return {p.article.id for p in passages if topic <= set(stem_terms(p.text))}


def newest_topical_first(passages: Sequence[Passage], topical: Collection[str]) -> list[Passage]:
    """``passages`` with the best passage of each ``topical`` article first, newest article first
    (undated ones after them), then the others in their order: what a "latest" question reads, so
    that the newest story on the topic is read though retrieval ranked it below the first few."""
    lead: dict[str, Passage] = {}
    for passage in passages:  # best first
        if passage.article.id in topical:
            lead.setdefault(passage.article.id, passage)
    first = sorted(lead.values(), key=lambda p: p.article.published or "", reverse=True)
    chosen = {id(p) for p in first}
    return [*first, *(p for p in passages if id(p) not in chosen)]


def with_every_topical(
    answers: Sequence[Answer], every: Sequence[Answer], topical: Collection[str]
) -> list[Answer]:
    """``answers``, and the best sentence of each ``topical`` article that has none among them,
    whatever its score: "what is the latest on the bridge?" asks for the newest story on a topic the
    archive holds, not for a fact the reader's span could match, so its readings seldom pass the
    threshold."""
    has = {a.article.id for a in answers}
    extra: dict[str, Answer] = {}
    for answer in every:  # best first
        if answer.article.id in topical and answer.article.id not in has:
            extra.setdefault(answer.article.id, answer)
    return [*answers, *extra.values()]
