"""Answer messages and their buttons: the first answer, "More answers" pages and "Source" presses."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ChatAction
from telegram.error import TelegramError

from bots.telegram.format import (
    EXPIRED,
    format_answer,
    format_answers,
    format_source,
    split_message,
)
from qa.answering.conversation import ASK_FIRST, NO_MORE, NOTHING_NEW, Paging
from qa.models import Answer, AnswerSet
from qa.watching.records import Vote

_REMEMBERED_MESSAGES = 5000  # answer messages whose buttons still work
_TYPING_EVERY = 4.0  # seconds; Telegram shows a chat action for about five


@dataclass(frozen=True, slots=True)
class _Shown:
    """What one answer message shows: its question's paging and which answers (indices into it).

    ``token`` goes into the buttons' callback data, so a press finds this again, for any of the
    last ``_REMEMBERED_MESSAGES`` answer messages, not only the latest question's.
    """

    token: int
    paging: Paging
    indices: tuple[int, ...]


@contextlib.asynccontextmanager
async def typing(message: Message) -> AsyncIterator[None]:
    """Show "typing…" in the chat until the block ends."""

    async def keep_typing() -> None:
        while True:
            await asyncio.sleep(_TYPING_EVERY)
            with contextlib.suppress(TelegramError):
                await message.chat.send_action(ChatAction.TYPING)

    with contextlib.suppress(TelegramError):
        await message.chat.send_action(ChatAction.TYPING)
    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def send(
    to: Message, html_text: str, keyboard: InlineKeyboardMarkup | None = None, quote: bool = False
) -> None:
    """Send HTML to ``to``'s chat, split at the length limit, buttons on the last part."""
    parts = split_message(html_text)
    for n, part in enumerate(parts):
        last = n == len(parts) - 1
        await to.reply_text(part, reply_markup=keyboard if last else None, do_quote=quote and n == 0)


class Replies:
    """Each chat's answer messages and their buttons; bounded in how many it remembers."""

    def __init__(self, page_size: int) -> None:
        self.page_size = page_size
        self._shown: OrderedDict[tuple[int, int], _Shown] = OrderedDict()  # (chat, token)
        self._latest: OrderedDict[int, Paging] = OrderedDict()  # each chat's last question, for /more
        self._tokens = itertools.count(1)
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    def lock(self, chat_id: int) -> asyncio.Lock:
        """The chat's lock: one question or page at a time per chat."""
        lock = self._locks.get(chat_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[chat_id] = lock
        return lock

    def shown_of(self, chat_id: int, result: AnswerSet) -> int:
        """How many answers of ``result`` the chat has seen (1 unless it is the chat's last question)."""
        paging = self._latest.get(chat_id)
        return paging.shown if paging is not None and paging.result is result else 1

    async def answer(self, message: Message, result: AnswerSet) -> None:
        """Reply to ``message`` with the result's first answer (or why there is none)."""
        paging = Paging.after(result)
        self._latest[message.chat_id] = paging
        self._latest.move_to_end(message.chat_id)
        while len(self._latest) > _REMEMBERED_MESSAGES:
            self._latest.popitem(last=False)
        if result.abstained:
            await message.reply_text(NOTHING_NEW if result.nothing_new else result.not_found, do_quote=True)
            return
        keyboard = self._keyboard(self._remember(message.chat_id, paging, (0,)), paging.has_more)
        await send(message, format_answer(result.answers[0]), keyboard, quote=True)

    async def more(self, message: Message, paging: Paging | None = None) -> None:
        """Send the next answers of a question (default: the chat's last) below ``message``."""
        async with self.lock(message.chat_id):
            paging = paging or self._latest.get(message.chat_id)
            if paging is None:
                await message.reply_text(ASK_FIRST)
                return
            page = paging.next_page(self.page_size)
        if not page.answers:
            await message.reply_text(paging.result.not_found if paging.result.abstained else NO_MORE)
            return
        numbered = [(page.first + i + 1, answer) for i, answer in enumerate(page.answers)]
        indices = tuple(range(page.first, page.first + len(page.answers)))
        shown = self._remember(message.chat_id, paging, indices)
        await send(message, format_answers(numbered), self._keyboard(shown, paging.has_more))

    async def press(self, query: CallbackQuery, message: Message) -> None:
        """A press on "More answers" or "Source" below ``message``."""
        action, _, rest = (query.data or "").partition(":")
        token, _, index_text = rest.partition(":")
        shown = self._shown.get((message.chat_id, int(token))) if token.isdigit() else None
        if shown is None:
            await query.answer(EXPIRED)
            with contextlib.suppress(TelegramError):  # a stale button should not be pressed twice
                await message.edit_reply_markup(None)
            return
        if action == "more":
            # The button has done its job: keep only the Source buttons on the older message.
            with contextlib.suppress(TelegramError):  # unchanged when pressed twice
                await message.edit_reply_markup(self._keyboard(shown, more=False))
            if not shown.paging.has_more:  # /more or another button showed them all: a notice, no message
                await query.answer(NO_MORE)
                return
            await query.answer()
            await self.more(message, shown.paging)
        elif action == "src" and index_text.isdigit():
            index = int(index_text)
            answers = shown.paging.answers
            await query.answer()
            if index < len(answers):
                number = index + 1 if len(shown.indices) > 1 or index > 0 else None
                await send(message, format_source(answers[index], number))
        else:
            await query.answer()

    def result_shown_in(self, message: Message) -> AnswerSet | None:
        """The question and answers a message of the bot shows (found by its buttons), if remembered."""
        markup = message.reply_markup
        for row in markup.inline_keyboard if markup is not None else ():
            for button in row:
                token = str(button.callback_data or "").split(":")[1:2]
                if token and token[0].isdigit():
                    shown = self._shown.get((message.chat_id, int(token[0])))
                    return shown.paging.result if shown is not None else None
        return None

    def voted(self, chat_id: int, data: str) -> tuple[str, int, Answer, Vote] | None:
        """The question, the answer's number (1-based), the answer and the vote of a 👍/👎 press
        (``vote:<token>:<index>:up``); None when the message is no longer remembered."""
        _, token, index, vote = [*data.split(":"), "", "", ""][:4]
        shown = self._shown.get((chat_id, int(token))) if token.isdigit() else None
        if shown is None or not index.isdigit() or int(index) >= len(shown.paging.answers):
            return None
        if vote not in ("up", "down"):
            return None
        answer = shown.paging.answers[int(index)]
        return shown.paging.result.question, int(index) + 1, answer, "up" if vote == "up" else "down"

    def _keyboard(self, shown: _Shown, more: bool) -> InlineKeyboardMarkup:
        """Source and 👍/👎 buttons for the answers shown, and "More answers" if ``more``."""
        token = shown.token
        if len(shown.indices) == 1:
            index = shown.indices[0]
            sources = [InlineKeyboardButton("Source", callback_data=f"src:{token}:{index}")]
            votes = [[_vote_button("👍", token, index, "up"), _vote_button("👎", token, index, "down")]]
        else:
            sources = [
                InlineKeyboardButton(f"Source {i + 1}", callback_data=f"src:{token}:{i}")
                for i in shown.indices
            ]
            votes = [
                [_vote_button(f"👍 {i + 1}", token, i, "up"), _vote_button(f"👎 {i + 1}", token, i, "down")]
                for i in shown.indices
            ]
        rows = [sources, *votes]
        if more:
            rows.insert(0, [InlineKeyboardButton("More answers", callback_data=f"more:{token}")])
        return InlineKeyboardMarkup(rows)

    def _remember(self, chat_id: int, paging: Paging, indices: tuple[int, ...]) -> _Shown:
        """Record what a message is about to show, for its buttons."""
        shown = _Shown(next(self._tokens), paging, indices)
        self._shown[(chat_id, shown.token)] = shown
        while len(self._shown) > _REMEMBERED_MESSAGES:
            self._shown.popitem(last=False)
        return shown


def _vote_button(label: str, token: int, index: int, vote: Vote) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=f"vote:{token}:{index}:{vote}")
