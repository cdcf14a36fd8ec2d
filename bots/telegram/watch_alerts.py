"""Watches in Telegram: /watch, /watches (remove buttons), /unwatch, pushes of new answers with 👍/👎."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import Bot, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import TelegramError

from bots.telegram.format import escape, format_push, format_watches, split_message
from qa.config import Settings
from qa.engine import Engine
from qa.errors import QAError
from qa.models import Answer
from qa.watching import Delivery, Watch
from qa.watching.records import Vote

logger = logging.getLogger(__name__)

VOTES: tuple[tuple[str, Vote], ...] = (("👍", "up"), ("👎", "down"))


class ChatWatches:
    """Each chat's watches, and a task that sends their new answers (at start, then every poll)."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.limit = engine.settings.watch_limit  # the engine keeps it
        self.interval = settings.watch_poll
        self._task: asyncio.Task[None] | None = None

    # -- commands ----------------------------------------------------------------------------
    async def watch(self, message: Message, question: str) -> None:
        """``/watch <question>``: a watch for this chat."""
        try:
            watch = await asyncio.to_thread(self.engine.watching.add, question, message.chat_id)
        except QAError as error:
            await message.reply_text(f"Sorry, I can't watch that: {escape(str(error))}")
            return
        await message.reply_text(
            f"👀 Watching: {escape(watch.question)}\nI'll tell you when a new article answers it."
        )

    async def listed(self, message: Message) -> None:
        """``/watches``: this chat's watches, a remove button each."""
        watches = await asyncio.to_thread(self.engine.watching.listed, message.chat_id)
        await message.reply_text(format_watches(watches, self.limit), reply_markup=self._keyboard(watches))

    async def unwatch(self, message: Message, argument: str) -> None:
        """``/unwatch <n>``: stop the chat's n-th watch."""
        watches = await asyncio.to_thread(self.engine.watching.listed, message.chat_id)
        if not argument.isdecimal():  # not isdigit: int() refuses "²"
            await message.reply_text("Usage: /unwatch &lt;n&gt;, n from /watches")
            return
        if not 1 <= int(argument) <= len(watches):
            await message.reply_text(f"There is no watch {int(argument)}: /watches lists yours.")
            return
        watch = watches[int(argument) - 1]
        await asyncio.to_thread(self.engine.watching.remove, watch.id, message.chat_id)
        await message.reply_text(f"Stopped watching: {escape(watch.question)}")

    async def press(self, query: CallbackQuery, message: Message, watch_id: str) -> None:
        """A press on a remove button below /watches."""
        try:
            watch = await asyncio.to_thread(self.engine.watching.remove, int(watch_id), message.chat_id)
        except (QAError, ValueError):
            await query.answer("That watch is already gone.")
        else:
            await query.answer(f"Stopped watching: {watch.question}"[:200])
        watches = await asyncio.to_thread(self.engine.watching.listed, message.chat_id)
        with contextlib.suppress(TelegramError):  # the list may be unchanged (pressed twice)
            await message.edit_text(format_watches(watches, self.limit), reply_markup=self._keyboard(watches))

    @staticmethod
    def _keyboard(watches: list[Watch]) -> InlineKeyboardMarkup | None:
        if not watches:
            return None
        buttons = [
            InlineKeyboardButton(f"Remove {n}", callback_data=f"unw:{w.id}") for n, w in enumerate(watches, 1)
        ]
        return InlineKeyboardMarkup([buttons[i : i + 4] for i in range(0, len(buttons), 4)])

    # -- votes -------------------------------------------------------------------------------
    def voted(self, chat_id: int, data: str) -> tuple[str, int, Answer, Vote] | None:
        """The question watched, the answer's number (1), the pushed answer and the vote of a 👍/👎
        press under a push (``wvote:<found id>:up``); None when its watch is gone. Stored, so the
        buttons keep working across restarts."""
        _, found_id, vote = [*data.split(":"), "", ""][:3]
        if not found_id.isdigit() or vote not in ("up", "down"):
            return None
        delivery = self.engine.watching.found(int(found_id), chat_id)
        if delivery is None:
            return None
        return delivery.watch.question, 1, delivery.found.answer, "up" if vote == "up" else "down"

    @staticmethod
    def _vote_keyboard(found_id: int) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(label, callback_data=f"wvote:{found_id}:{vote}") for label, vote in VOTES]]
        )

    # -- pushing -----------------------------------------------------------------------------
    def start(self, bot: Bot) -> None:
        """Send what is pending now, then every ``QA_WATCH_POLL`` seconds."""
        self._task = asyncio.create_task(self._run(bot), name="qa-watch-push")

    async def stop(self) -> None:
        """Stop sending."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, bot: Bot) -> None:
        while True:
            try:
                await self.push(bot)
            except Exception:  # a loop of its own: log it and try again next time
                logger.exception("sending the watches' new answers failed")
            await asyncio.sleep(self.interval)

    async def push(self, bot: Bot) -> int:
        """Send every pending answer to its chat, all at once; returns how many were sent."""
        pending = await asyncio.to_thread(self.engine.watching.pending, "chat")
        sent = await asyncio.gather(*(self._send(bot, d) for d in pending))
        return sum(sent)

    async def _send(self, bot: Bot, delivery: Delivery) -> bool:
        """One answer to one chat; a failure (a blocked bot, a chat gone) is recorded with its reason."""
        chat_id = delivery.watch.chat_id
        assert chat_id is not None
        parts = split_message(format_push(delivery.watch.question, delivery.found.answer))
        try:
            for n, part in enumerate(parts, start=1):
                keyboard = self._vote_keyboard(delivery.found.id) if n == len(parts) else None
                await bot.send_message(chat_id, part, reply_markup=keyboard)
        except TelegramError as error:
            await asyncio.to_thread(self.engine.watching.failed, delivery, f"{type(error).__name__}: {error}")
            return False
        await asyncio.to_thread(self.engine.watching.sent, delivery)
        return True
