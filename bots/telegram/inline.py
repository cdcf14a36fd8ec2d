"""Inline mode: ``@bot question`` in any chat offers up to three answers, cached a minute per question."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict

from telegram import InlineQueryResultArticle, InputTextMessageContent, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bots.telegram.format import format_date, format_inline
from bots.telegram.limits import Admission, ChatRateLimit
from qa.engine import Engine
from qa.errors import QAError

logger = logging.getLogger(__name__)

INLINE_ANSWERS = 3
CACHE_SECONDS = 60
_CACHED_QUESTIONS = 1000


class InlineAnswers:
    """Answers inline queries from the engine; each question's results are kept for a minute."""

    def __init__(self, engine: Engine, rate_limit: ChatRateLimit, allowed: frozenset[int]) -> None:
        self.engine = engine
        self.rate_limit = rate_limit
        self.allowed = allowed
        self._cache: OrderedDict[str, tuple[float, list[InlineQueryResultArticle]]] = OrderedDict()

    async def answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Up to three answers as inline results (none for an empty, refused or unanswerable query)."""
        query = update.inline_query
        if query is None:
            return
        question = " ".join(query.query.split())
        user = query.from_user.id
        if not question or (self.allowed and user not in self.allowed):
            await query.answer([], cache_time=CACHE_SECONDS, is_personal=True)
            return
        if self.rate_limit.check(user) is not Admission.ALLOW:
            await query.answer([], cache_time=0, is_personal=True)
            return
        # Personal: Telegram would otherwise hand these results to anyone typing the same query
        # within the minute, users outside the allowlist included.
        await query.answer(await self.results(question), cache_time=CACHE_SECONDS, is_personal=True)

    async def results(self, question: str) -> list[InlineQueryResultArticle]:
        """The results for a question: from the cache while under a minute old, else asked."""
        key = question.lower()
        cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        try:
            found = await asyncio.to_thread(self.engine.ask, question, None, INLINE_ANSWERS)
        except QAError as error:
            logger.info("inline question %r not answered: %s", question, error)
            return []
        results = [
            InlineQueryResultArticle(
                id=str(number),
                title=(answer.span_text or answer.text)[:200],
                description=" · ".join(
                    p for p in (answer.article.title, format_date(answer.article.published)) if p
                ),
                input_message_content=InputTextMessageContent(
                    format_inline(answer), parse_mode=ParseMode.HTML
                ),
            )
            for number, answer in enumerate(found.answers[:INLINE_ANSWERS])
        ]
        self._cache[key] = (time.monotonic(), results)
        self._cache.move_to_end(key)
        while len(self._cache) > _CACHED_QUESTIONS:
            self._cache.popitem(last=False)
        return results
