"""Watches: questions asked again against every new or changed article, their new answers kept."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING

from qa.answering.timephrases import read_time
from qa.errors import FetchError, QAError, WatchError, WatchNotFoundError
from qa.models import LIKELY_FROM, SURE_FROM, Confidence
from qa.store import Store
from qa.watching.records import Delivery, Found, Watch
from qa.watching.scope import answering_from
from qa.watching.state import MAX_TRIES, Target, WatchState
from qa.web.fetching import normalize_url

if TYPE_CHECKING:
    from qa.answering.answerer import Answerer
    from qa.engine import Engine

logger = logging.getLogger(__name__)

LEAST_SCORE: dict[Confidence, float] = {"sure": SURE_FROM, "likely": LIKELY_FROM, "unsure": 0.0}
ANSWERS_PER_CHECK = 10  # answers a watch's question is asked for in the new articles


def refuse_past_time(question: str, today: date) -> None:
    """``WatchError`` when the question's time words name days that move with the calendar and lie
    before the day it is checked ("last week", "yesterday"): no new article would ever match."""
    timed = read_time(question, today)
    asked = timed.window
    if asked is None or asked.until is None or asked.until > today:
        return
    later = read_time(question, today + timedelta(days=400)).window
    if later == asked:  # fixed dates ("in March 2005"): an article from then may still arrive
        return
    phrases = ", ".join(f'"{p}"' for p in timed.phrases) or "its time words"
    raise WatchError(
        f"{phrases} would never match: a watch asks its question again as each new article arrives, "
        "and by then those days are past, so no new article would answer. Leave the time words out "
        '(or say "latest"), or name the dates.'
    )


def _same_question(question: str) -> str:
    """A question as two watches are compared: case, spacing and the final mark left out."""
    return " ".join(question.casefold().split()).rstrip(" ?!.")


class Watching:
    """The watches of one archive: made, listed and removed by front ends, checked after indexing."""

    def __init__(self, engine: Engine, store: Store) -> None:
        self.engine = engine
        self.store = store  # opened first: the index database exists before the watches join it
        self.settings = engine.settings
        self.state = WatchState(engine.settings.index_dir)
        self._checking = threading.Lock()  # two checks at once could find one answer twice

    # -- watches ---------------------------------------------------------------------------------
    def add(self, question: str, chat_id: int | None = None, webhook: str | None = None) -> Watch:
        """A new watch for a chat (None: the API's and the command line's); ``WatchError`` when the
        chat keeps ``QA_WATCH_LIMIT`` watches, the webhook is no http(s) URL or the time words
        would never match."""
        question = self.engine.answerer.validate_question(question)
        refuse_past_time(question, date.today())
        if webhook is not None:
            try:
                webhook = normalize_url(webhook)  # the address rules of feeds
            except FetchError as exc:
                raise WatchError(f"webhook {exc.reason}") from None
        same = _same_question(question)
        for kept in self.state.listed(chat_id):
            if kept.webhook == webhook and _same_question(kept.question) == same:
                raise WatchError(f"that question is watched already (watch {kept.id})")
        limit = self.settings.watch_limit if chat_id is not None else None
        watch = self.state.add(question, chat_id, webhook, limit)
        if watch is None:
            raise WatchError(f"this chat already has {limit} watches (QA_WATCH_LIMIT): remove one first")
        logger.info("watch %d added: %s", watch.id, question)
        return watch

    def listed(self, chat_id: int | None = None, everyone: bool = False) -> list[Watch]:
        """A chat's watches (None: those of no chat), or everyone's, oldest first."""
        return self.state.listed(chat_id, everyone)

    def get(self, watch_id: int, chat_id: int | None = None, everyone: bool = False) -> Watch:
        """One of a chat's watches; ``WatchNotFoundError`` when it has none of that id."""
        watch = self.state.get(watch_id)
        if watch is None or not (everyone or watch.chat_id == chat_id):
            raise WatchNotFoundError(watch_id)
        return watch

    def remove(self, watch_id: int, chat_id: int | None = None, everyone: bool = False) -> Watch:
        """Stop one of a chat's watches; its answers go with it."""
        watch = self.get(watch_id, chat_id, everyone)
        self.state.remove(watch.id)
        return watch

    def answers(self, watch_id: int, chat_id: int | None = None, everyone: bool = False) -> list[Found]:
        """A watch's answers found so far, newest first."""
        return self.state.answers(self.get(watch_id, chat_id, everyone).id)

    def found(self, found_id: int, chat_id: int | None = None) -> Delivery | None:
        """One answer found for one of a chat's watches, with its watch; None when it is gone (its
        watch removed) or belongs to another chat's watch."""
        delivery = self.state.found(found_id)
        return delivery if delivery is not None and delivery.watch.chat_id == chat_id else None

    # -- checking --------------------------------------------------------------------------------
    def check(self, article_ids: Sequence[str]) -> list[Found]:
        """Ask every watch against these (new or changed) articles; keep the answers at or above
        ``QA_WATCH_MIN_CONFIDENCE`` that no earlier check found. Failures are logged per watch."""
        with self._checking:
            self.state.begin_check()  # failed deliveries are retried after it
            watches = self.state.listed(None, everyone=True) if article_ids else []
            if not watches:
                return []
            view = answering_from(self.engine, article_ids)
            found: list[Found] = []
            for watch in watches:
                try:
                    found.extend(self._check_one(view, watch))
                except QAError as exc:
                    logger.warning("watch %d (%s) could not be checked: %s", watch.id, watch.question, exc)
        if found:
            logger.info("%d new answers for the watches", len(found))
        return found

    def _check_one(self, view: Answerer, watch: Watch) -> list[Found]:
        """The new answers of one watch in the view's articles, one per story, now recorded."""
        result = view.ask(watch.question, top_k=ANSWERS_PER_CHECK)
        least = LEAST_SCORE[self.settings.watch_min_confidence]
        good = [a for a in (*result.answers, *result.more_answers) if a.score >= least]
        if not good:
            return []
        with view.store.snapshot() as snap:
            roots = snap.originals([a.article.id for a in good])
        seen = self.state.delivered(watch.id)
        stories: set[str] = set()  # one answer per story and check
        kept: list[int] = []
        for answer in good:
            story = roots.get(answer.article.id, answer.article.id)
            if story in stories or seen.knows(answer, story):
                continue
            stories.add(story)
            recorded = self.state.record(watch.id, answer, story)
            if recorded is not None:
                kept.append(recorded)
        # only the answers just kept, newest first (a watch's whole history is not read again)
        return [d.found for d in map(self.state.found, reversed(kept)) if d is not None]

    # -- delivery --------------------------------------------------------------------------------
    def pending(self, target: Target) -> list[Delivery]:
        """Answers to send now to their watches' chats (or webhooks), first found first."""
        return self.state.pending(target)

    def sent(self, delivery: Delivery) -> None:
        """Record a delivery: never sent again."""
        self.state.sent(delivery.found.id)

    def failed(self, delivery: Delivery, reason: str) -> None:
        """Record a failed delivery (logged with its reason); it is tried again after each of the next
        checks, ``MAX_TRIES`` times in all, and the log says when it is given up."""
        tries = delivery.found.tries + 1
        then = (
            f"trying again after the next check of new articles (try {tries} of {MAX_TRIES})"
            if tries < MAX_TRIES
            else f"given up after {MAX_TRIES} tries"
        )
        logger.warning(
            "could not deliver answer %d of watch %d (%s): %s; %s",
            delivery.found.id,
            delivery.watch.id,
            delivery.watch.webhook or f"chat {delivery.watch.chat_id}",
            reason,
            then,
        )
        self.state.failed(delivery.found.id, reason)

    def unshown(self) -> list[tuple[Watch, list[Found]]]:
        """The answers of the watches of no chat not printed by ``qa watch check`` yet (now printed)."""
        return self.state.unshown()
