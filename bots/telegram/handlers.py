"""Telegram update handlers: each turns a chat message or button press into one engine call."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, TypeAlias

from telegram import CallbackQuery, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bots.telegram.addressing import question_in, reply_to_bot, unknown_command
from bots.telegram.edits import AskedMessages
from bots.telegram.format import (
    COMMANDS,
    EXPIRED,
    FAILED,
    HELP,
    RATE_LIMITED,
    REFUSED,
    escape,
    format_sources,
    format_start,
)
from bots.telegram.inline import InlineAnswers
from bots.telegram.limits import Admission, ChatRateLimit
from bots.telegram.replies import Replies, send, typing
from bots.telegram.watch_alerts import ChatWatches
from qa.answering.conversation import ASK_FIRST, THANKS, Conversation, ConversationStore, Paging, small_talk
from qa.config import Settings
from qa.engine import Engine
from qa.errors import QAError, QuestionError
from qa.progress import logged_progress

logger = logging.getLogger(__name__)

TelegramApp: TypeAlias = Application[Any, Any, Any, Any, Any, Any]
Context: TypeAlias = ContextTypes.DEFAULT_TYPE


class TelegramBot:
    """Handlers that translate updates to engine calls; state is per chat and bounded."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.allowed = settings.allowed_chat_ids()
        self.conversations = ConversationStore()
        self.rate_limit = ChatRateLimit(settings.telegram_rate_limit)
        self._refused: set[int] = set()
        self.replies = Replies(settings.top_k)
        self.asked = AskedMessages()
        self.watches = ChatWatches(engine, settings)
        # Inline queries have a budget of their own: Telegram sends one as the user types "@bot ...",
        # and they used up the same user's private chat's questions.
        self.inline = InlineAnswers(engine, ChatRateLimit(settings.telegram_rate_limit), self.allowed)

    def register(self, app: TelegramApp) -> None:
        """Add every handler to ``app``."""
        app.add_handler(TypeHandler(Update, self.check_access), group=-1)
        # Commands only in new messages: an edited one is not run again (an edited /watch would add one).
        new = filters.UpdateType.MESSAGE
        app.add_handler(CommandHandler("start", self.start, new))
        app.add_handler(CommandHandler("help", self.help, new))
        app.add_handler(CommandHandler("ask", self.ask, new))
        app.add_handler(CommandHandler("sources", self.sources, new))
        app.add_handler(CommandHandler("more", self.more, new))
        app.add_handler(CommandHandler("watch", self.watch, new))
        app.add_handler(CommandHandler("watches", self.list_watches, new))
        app.add_handler(CommandHandler("unwatch", self.unwatch, new))
        app.add_handler(InlineQueryHandler(self.inline.answer))
        # After the commands above: only the commands none of them took get here.
        app.add_handler(MessageHandler(new & filters.COMMAND, self.unknown))
        app.add_handler(MessageHandler(new & filters.TEXT & ~filters.COMMAND, self.text))
        app.add_handler(
            MessageHandler(filters.UpdateType.EDITED_MESSAGE & filters.TEXT & ~filters.COMMAND, self.edited)
        )
        app.add_handler(CallbackQueryHandler(self.button))
        app.add_error_handler(self.on_error)

    async def prepare(self, app: TelegramApp) -> None:
        """Build the index if there is none and register the command menu (PTB's post_init)."""
        await asyncio.to_thread(self.engine.archive.ensure_index, logged_progress(logger))
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
        if update.callback_query is not None:  # a button press: answered, or its spinner never stops
            await update.callback_query.answer(REFUSED)
            raise ApplicationHandlerStop
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

    async def question_of(self, update: Update, context: Context, command: str) -> tuple[Message, str] | None:
        """The message and the question after ``/command`` (None, after saying how, when absent)."""
        message = update.effective_message
        if message is None or not await self.admit(message.chat_id, context):
            return None
        parts = (message.text or "").split(maxsplit=1)
        if len(parts) < 2:
            await message.reply_text(f"Usage: /{command} &lt;question&gt;")
            return None
        return message, parts[1]

    async def ask(self, update: Update, context: Context) -> None:
        """``/ask <question>``."""
        asked = await self.question_of(update, context, "ask")
        if asked is not None:
            await self.answer(asked[0], asked[1], context)

    async def text(self, update: Update, context: Context) -> None:
        """A question in a private chat; in groups only when mentioned or replied to."""
        message = update.effective_message
        question = question_in(message, context.bot.id, context.bot.username)
        if message is None or question is None or not await self.admit(message.chat_id, context):
            return
        reply = small_talk(question)
        if reply is None:
            await self.answer(message, question, context)
        elif reply != THANKS or message.chat.type == ChatType.PRIVATE:  # a group's thanks need no reply
            await message.reply_text(reply)

    async def edited(self, update: Update, context: Context) -> None:
        """An edited question, answered as the question it now is in place of its original wording;
        an edit that left the question as it was (a link preview) is ignored."""
        message = update.edited_message
        question = question_in(message, context.bot.id, context.bot.username)
        if message is None or question is None or self.asked.unchanged(message, question):
            return
        if await self.admit(message.chat_id, context):
            await self.answer(message, question, context, edited=True)

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
            shown = Paging(last).answers[: max(self.replies.shown_of(message.chat_id, last), 1)]
            await send(message, format_sources([a.article for a in shown]))

    async def watch(self, update: Update, context: Context) -> None:
        """``/watch <question>``."""
        asked = await self.question_of(update, context, "watch")
        if asked is not None:
            await self.watches.watch(*asked)

    async def list_watches(self, update: Update, context: Context) -> None:
        """``/watches``."""
        message = update.effective_message
        if message is not None and await self.admit(message.chat_id, context):
            await self.watches.listed(message)

    async def unwatch(self, update: Update, context: Context) -> None:
        """``/unwatch <n>``."""
        message = update.effective_message
        if message is not None and await self.admit(message.chat_id, context):
            parts = (message.text or "").split(maxsplit=1)
            await self.watches.unwatch(message, parts[1].strip() if len(parts) > 1 else "")

    async def unknown(self, update: Update, context: Context) -> None:
        """A command the bot lacks: one line naming /help (in groups only when addressed to the bot)."""
        message = update.effective_message
        if message is None:
            return
        command = unknown_command(message, context.bot.id, context.bot.username)
        if command is not None and await self.admit(message.chat_id, context):
            await message.reply_text(f"I don't know {escape(command)}: /help lists the commands.")

    async def more(self, update: Update, context: Context) -> None:
        """The next answers to the last question."""
        message = update.effective_message
        if message is not None and await self.admit(message.chat_id, context):
            await self.replies.more(message)

    # -- answering ---------------------------------------------------------------------------

    async def answer(self, message: Message, question: str, context: Context, edited: bool = False) -> None:
        """Ask the engine (in a worker thread, with the chat's conversation) and reply; an ``edited``
        question replaces its original wording's turn."""
        conversation = self.conversations.get(str(message.chat_id))
        replied = reply_to_bot(message, context.bot.id)
        earlier = self.replies.result_shown_in(replied) if replied is not None else None
        if earlier is not None and earlier is not conversation.last:
            # A reply to an older answer (in a group, others asked since) follows that answer's question.
            conversation = Conversation()
            conversation.record(earlier.question, earlier.rewritten_question or earlier.question, earlier)
        async with self.replies.lock(message.chat_id), typing(message):
            if edited:
                self.asked.replace(message, conversation)
            try:
                result = await asyncio.to_thread(self.engine.ask, question, conversation, top_k=1)
            except QuestionError as error:
                await message.reply_text(f"Sorry, I can't ask that: {escape(str(error))}")
                return
            except QAError as error:
                logger.warning("cannot answer in chat %s", message.chat_id, exc_info=error)
                await message.reply_text(f"Sorry, I can't answer right now: {escape(str(error))}")
                return
        self.asked.remember(message, question, result.question)
        await self.replies.answer(message, result)

    async def button(self, update: Update, context: Context) -> None:
        """A press on "More answers", "Source", 👍/👎 or a watch's "Remove"."""
        query = update.callback_query
        if query is None or not isinstance(query.message, Message):
            return
        message = query.message
        if not await self.admit(message.chat_id, context):
            await query.answer()
            return
        data = query.data or ""
        if data.startswith("unw:"):
            await self.watches.press(query, message, data[4:])
        elif data.startswith(("vote:", "wvote:")):
            await self.vote(query, message.chat_id, data)
        else:
            await self.replies.press(query, message)

    async def vote(self, query: CallbackQuery, chat_id: int, data: str) -> None:
        """Keep a 👍 or 👎 on an answer (or a watch's pushed answer), with its question."""
        if data.startswith("wvote:"):
            voted = await asyncio.to_thread(self.watches.voted, chat_id, data)
        else:
            voted = self.replies.voted(chat_id, data)
        if voted is None:
            await query.answer(EXPIRED)
            return
        question, number, answer, vote = voted
        await asyncio.to_thread(
            self.engine.feedback.vote, "telegram", str(chat_id), question, number, answer, vote
        )
        await query.answer("Thanks! Noted 👍" if vote == "up" else "Thanks! Noted 👎")

    async def on_error(self, update: object, context: Context) -> None:
        """Log the failure with its traceback and apologise to the chat it came from."""
        logger.error("error while handling a Telegram update", exc_info=context.error)
        if not isinstance(update, Update) or update.effective_chat is None:
            return
        try:
            await context.bot.send_message(update.effective_chat.id, FAILED)
        except TelegramError:
            logger.warning("could not tell chat %s about the error", update.effective_chat.id)
