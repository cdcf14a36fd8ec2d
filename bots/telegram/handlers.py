"""Telegram update handlers: each turns a chat message or button press into one engine call."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeAlias

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction, ChatType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bots.telegram.format import (
    ASK_FIRST,
    EXPIRED,
    FAILED,
    HELP,
    NO_MORE,
    NOTHING_NEW,
    RATE_LIMITED,
    REFUSED,
    escape,
    format_answer,
    format_answers,
    format_source,
    format_sources,
    format_start,
    split_message,
)
from bots.telegram.limits import Admission, ChatRateLimit
from qa.config import Settings
from qa.conversation import ConversationStore
from qa.engine import Engine
from qa.errors import QAError, QuestionError
from qa.models import Answer, AnswerSet

logger = logging.getLogger(__name__)

TelegramApp: TypeAlias = Application[Any, Any, Any, Any, Any, Any]
Context: TypeAlias = ContextTypes.DEFAULT_TYPE

_REMEMBERED_MESSAGES = 5000  # answer messages whose buttons still work
_TYPING_EVERY = 4.0  # seconds; Telegram shows a chat action for about five

COMMANDS = [
    BotCommand("start", "What this bot is"),
    BotCommand("help", "How to ask"),
    BotCommand("ask", "Ask a question: /ask <question>"),
    BotCommand("sources", "Sources of the last answer"),
    BotCommand("more", "More answers to the last question"),
]


@dataclass(slots=True)
class _Paging:
    """One question's answers and how many of them the chat has been shown."""

    result: AnswerSet
    shown: int

    def next(self, count: int) -> tuple[int, list[Answer]]:
        """The pool index of the first answer not shown yet, and up to ``count`` answers from it."""
        first = self.shown
        batch = _pool(self.result)[first : first + count]
        self.shown += len(batch)
        return first, batch

    @property
    def has_more(self) -> bool:
        return self.shown < len(_pool(self.result))


@dataclass(frozen=True, slots=True)
class _Shown:
    """What one answer message shows: its question's paging and which answers (pool indices).

    ``token`` goes into the buttons' callback data, so a press finds this again, for any of the
    last ``_REMEMBERED_MESSAGES`` answer messages, not only the latest question's.
    """

    token: int
    paging: _Paging
    indices: tuple[int, ...]

    @property
    def result(self) -> AnswerSet:
        return self.paging.result


def _pool(result: AnswerSet) -> list[Answer]:
    return list(result.answers) + list(result.more_answers)


class TelegramBot:
    """Handlers that translate updates to engine calls; state is per chat and bounded."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.allowed = settings.allowed_chat_ids()
        self.conversations = ConversationStore()
        self.rate_limit = ChatRateLimit(settings.telegram_rate_limit)
        self._refused: set[int] = set()
        self._shown: OrderedDict[tuple[int, int], _Shown] = OrderedDict()  # (chat, token)
        self._latest: OrderedDict[int, _Paging] = OrderedDict()  # each chat's last question, for /more
        self._tokens = itertools.count(1)
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    def register(self, app: TelegramApp) -> None:
        """Add every handler to ``app``."""
        app.add_handler(TypeHandler(Update, self.check_access), group=-1)
        app.add_handler(CommandHandler("start", self.start))
        app.add_handler(CommandHandler("help", self.help))
        app.add_handler(CommandHandler("ask", self.ask))
        app.add_handler(CommandHandler("sources", self.sources))
        app.add_handler(CommandHandler("more", self.more))
        app.add_handler(
            MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, self.text)
        )
        app.add_handler(CallbackQueryHandler(self.button))
        app.add_error_handler(self.on_error)

    async def prepare(self, app: TelegramApp) -> None:
        """Build the index if there is none and register the command menu (PTB's post_init)."""
        await asyncio.to_thread(self.engine.ensure_index, _log_progress)
        await app.bot.set_my_commands(COMMANDS)
        stats = await asyncio.to_thread(self.engine.stats)
        logger.info(
            "Telegram bot @%s ready: %d articles, %d passages, long polling (Ctrl-C stops)",
            app.bot.username,
            stats["articles"],
            stats["chunks"],
        )

    # -- gates -------------------------------------------------------------------------------

    async def check_access(self, update: Update, context: Context) -> None:
        """Stop updates from chats outside the allowlist, refusing each such chat once."""
        chat, user = update.effective_chat, update.effective_user
        if not self.allowed or chat is None:
            return
        if chat.id in self.allowed or (user is not None and user.id in self.allowed):
            return
        if chat.id not in self._refused and update.effective_message is not None:
            self._refused.add(chat.id)
            logger.info("refusing chat %s (not in QA_TELEGRAM_ALLOWED_CHATS)", chat.id)
            await context.bot.send_message(chat.id, REFUSED)
        raise ApplicationHandlerStop

    async def admit(self, chat_id: int, context: Context) -> bool:
        """Apply the per-chat rate limit, telling the chat once when it is over."""
        verdict = self.rate_limit.check(chat_id)
        if verdict is Admission.WARN:
            logger.info("chat %s is over the rate limit", chat_id)
            await context.bot.send_message(chat_id, RATE_LIMITED)
        return verdict is Admission.ALLOW

    def _lock(self, chat_id: int) -> asyncio.Lock:
        lock = self._locks.get(chat_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[chat_id] = lock
        return lock

    # -- commands ----------------------------------------------------------------------------

    async def start(self, update: Update, context: Context) -> None:
        """Say what the bot is and how many articles it knows."""
        message = update.effective_message
        if message is None or not await self.admit(message.chat_id, context):
            return
        stats = await asyncio.to_thread(self.engine.stats)
        await message.reply_text(format_start(stats.get("articles", 0)))

    async def help(self, update: Update, context: Context) -> None:
        """List the commands."""
        message = update.effective_message
        if message is not None and await self.admit(message.chat_id, context):
            await message.reply_text(HELP)

    async def ask(self, update: Update, context: Context) -> None:
        """``/ask <question>``."""
        message = update.effective_message
        if message is None or not await self.admit(message.chat_id, context):
            return
        parts = (message.text or "").split(maxsplit=1)
        if len(parts) < 2:
            await message.reply_text("Usage: /ask &lt;question&gt;")
            return
        await self.answer(message, parts[1], context)

    async def text(self, update: Update, context: Context) -> None:
        """A question in a private chat; in groups only when mentioned or replied to."""
        message = update.effective_message
        if message is None or not message.text:
            return
        question: str | None = message.text
        if message.chat.type != ChatType.PRIVATE:
            question = self._addressed(message, context)
        if question is None or not await self.admit(message.chat_id, context):
            return
        await self.answer(message, question, context)

    def _addressed(self, message: Message, context: Context) -> str | None:
        """The question in a group message meant for the bot, else None."""
        text = message.text or ""
        replied = message.reply_to_message
        if replied is not None and replied.from_user and replied.from_user.id == context.bot.id:
            return text
        mention = f"@{context.bot.username}"
        if mention.lower() not in text.lower():
            return None
        return re.sub(re.escape(mention), " ", text, flags=re.IGNORECASE).strip()

    async def sources(self, update: Update, context: Context) -> None:
        """The articles behind the answers shown for the last question."""
        message = update.effective_message
        if message is None or not await self.admit(message.chat_id, context):
            return
        conversation = self.conversations.get(str(message.chat_id))
        last = conversation.last
        if last is None:
            await message.reply_text(ASK_FIRST)
        elif last.abstained:
            await message.reply_text(f"{last.not_found} So there are no sources.")
        else:
            paging = self._latest.get(message.chat_id)
            count = paging.shown if paging is not None and paging.result is last else 1
            await self.send(message, format_sources([a.article for a in _pool(last)[: max(count, 1)]]))

    async def more(self, update: Update, context: Context) -> None:
        """The next answers to the last question."""
        message = update.effective_message
        if message is not None and await self.admit(message.chat_id, context):
            await self.send_more(message)

    # -- answering ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def typing(self, message: Message) -> AsyncIterator[None]:
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

    async def answer(self, message: Message, question: str, context: Context) -> None:
        """Ask the engine (in a worker thread, with the chat's conversation) and reply."""
        conversation = self.conversations.get(str(message.chat_id))
        async with self._lock(message.chat_id), self.typing(message):
            try:
                result = await asyncio.to_thread(self.engine.ask, question, conversation, top_k=1)
            except QuestionError as error:
                await message.reply_text(f"Sorry, I can't ask that: {escape(str(error))}")
                return
            except QAError as error:
                logger.warning("cannot answer in chat %s", message.chat_id, exc_info=error)
                await message.reply_text(f"Sorry, I can't answer right now: {escape(str(error))}")
                return
        paging = _Paging(result, shown=min(1, len(_pool(result))))
        self._latest[message.chat_id] = paging
        self._latest.move_to_end(message.chat_id)
        while len(self._latest) > _REMEMBERED_MESSAGES:
            self._latest.popitem(last=False)
        if result.abstained:
            await message.reply_text(NOTHING_NEW if result.nothing_new else result.not_found, do_quote=True)
            return
        shown = self._remember(message.chat_id, paging, (0,))
        keyboard = self._keyboard(shown, paging.has_more)
        await self.send(message, format_answer(result.answers[0]), keyboard, quote=True)

    async def send_more(self, message: Message, paging: _Paging | None = None) -> None:
        """Send the next answers of a question (default: the chat's last) below ``message``."""
        async with self._lock(message.chat_id):
            paging = paging or self._latest.get(message.chat_id)
            if paging is None:
                await message.reply_text(ASK_FIRST)
                return
            first, batch = paging.next(self.settings.top_k)
        if not batch:
            await message.reply_text(paging.result.not_found if paging.result.abstained else NO_MORE)
            return
        numbered = [(first + i + 1, answer) for i, answer in enumerate(batch)]
        shown = self._remember(message.chat_id, paging, tuple(range(first, first + len(batch))))
        keyboard = self._keyboard(shown, paging.has_more)
        await self.send(message, format_answers(numbered), keyboard)

    def _keyboard(self, shown: _Shown, more: bool) -> InlineKeyboardMarkup:
        """Source buttons for the answers shown, and "More answers" if ``more``."""
        token = shown.token
        if len(shown.indices) == 1:
            index = shown.indices[0]
            sources = [InlineKeyboardButton("Source", callback_data=f"src:{token}:{index}")]
        else:
            sources = [
                InlineKeyboardButton(f"Source {i + 1}", callback_data=f"src:{token}:{i}")
                for i in shown.indices
            ]
        rows = [sources]
        if more:
            rows.insert(0, [InlineKeyboardButton("More answers", callback_data=f"more:{token}")])
        return InlineKeyboardMarkup(rows)

    async def send(
        self,
        to: Message,
        html_text: str,
        keyboard: InlineKeyboardMarkup | None = None,
        quote: bool = False,
    ) -> None:
        """Send HTML to ``to``'s chat, split at the length limit, buttons on the last part."""
        parts = split_message(html_text)
        for n, part in enumerate(parts):
            last = n == len(parts) - 1
            await to.reply_text(part, reply_markup=keyboard if last else None, do_quote=quote and n == 0)

    def _remember(self, chat_id: int, paging: _Paging, indices: tuple[int, ...]) -> _Shown:
        """Record what a message is about to show, for its buttons."""
        shown = _Shown(next(self._tokens), paging, indices)
        self._shown[(chat_id, shown.token)] = shown
        while len(self._shown) > _REMEMBERED_MESSAGES:
            self._shown.popitem(last=False)
        return shown

    async def button(self, update: Update, context: Context) -> None:
        """A press on "More answers" or "Source"."""
        query = update.callback_query
        if query is None or not isinstance(query.message, Message):
            return
        message = query.message
        if not await self.admit(message.chat_id, context):
            await query.answer()
            return
        action, _, rest = (query.data or "").partition(":")
        token, _, index_text = rest.partition(":")
        shown = self._shown.get((message.chat_id, int(token))) if token.isdigit() else None
        if shown is None:
            await query.answer(EXPIRED)
            with contextlib.suppress(TelegramError):  # a stale button should not be pressed twice
                await message.edit_reply_markup(None)
            return
        if action == "more":
            await query.answer()
            # The button has done its job: keep only the Source buttons on the older message.
            await message.edit_reply_markup(self._keyboard(shown, more=False))
            await self.send_more(message, shown.paging)
        elif action == "src" and index_text.isdigit():
            index = int(index_text)
            pool = _pool(shown.result)
            await query.answer()
            if index < len(pool):
                number = index + 1 if len(shown.indices) > 1 or index > 0 else None
                await self.send(message, format_source(pool[index], number))
        else:
            await query.answer()

    async def on_error(self, update: object, context: Context) -> None:
        """Log the failure with its traceback and apologise to the chat it came from."""
        logger.error("error while handling a Telegram update", exc_info=context.error)
        if not isinstance(update, Update) or update.effective_chat is None:
            return
        try:
            await context.bot.send_message(update.effective_chat.id, FAILED)
        except TelegramError:
            logger.warning("could not tell chat %s about the error", update.effective_chat.id)


def _log_progress(done: int, total: int, description: str) -> None:
    logger.info("indexing: %s %d/%d", description, done, total)
