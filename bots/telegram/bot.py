"""Telegram front end: ``qa telegram`` runs python-telegram-bot long polling over the engine."""

from __future__ import annotations

import asyncio
import logging
import re

from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import InvalidToken, NetworkError
from telegram.ext import ApplicationBuilder, Defaults

from bots.telegram.handlers import TelegramApp, TelegramBot
from bots.telegram.limits import RetryingRateLimiter
from qa.config import Settings
from qa.engine import Engine
from qa.errors import ConfigError
from qa.runtime.memory import hand_back_large_blocks
from qa.web.refresher import Refresher

logger = logging.getLogger(__name__)

TOKEN_PATTERN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")


def validate_token(token: str | None) -> str:
    """The bot token, or ConfigError when it is missing or not of the form ``123456:ABC-...``."""
    if not token or not token.strip():
        raise ConfigError("no Telegram bot token: set QA_TELEGRAM_TOKEN (or TELEGRAM_BOT_TOKEN)")
    token = token.strip()
    if not TOKEN_PATTERN.match(token):
        raise ConfigError("malformed Telegram bot token: expected digits, a colon and a key")
    return token


def file_base_url(base_url: str) -> str:
    """The Bot API file URL matching a base URL (``…/bot`` becomes ``…/file/bot``)."""
    head, sep, tail = base_url.rpartition("/bot")
    return f"{head}/file/bot{tail}" if sep else base_url


def build_application(settings: Settings, engine: Engine) -> TelegramApp:
    """The python-telegram-bot Application for ``settings``, answering from ``engine``."""
    token = validate_token(settings.telegram_token)
    bot = TelegramBot(settings, engine)
    refresher = Refresher(engine, settings.refresh) if settings.refresh > 0 else None

    async def post_init(app: TelegramApp) -> None:
        await bot.prepare(app)
        bot.watches.start(app.bot)  # the watches' new answers: those pending now, then every poll
        if refresher is not None:  # polls on its own thread once the index is ready
            logger.info("polling the feeds every %g s", refresher.interval)
            refresher.start()

    async def post_shutdown(_: TelegramApp) -> None:
        await bot.watches.stop()
        if refresher is not None:
            await asyncio.to_thread(refresher.stop)

    app = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram_base_url)
        .base_file_url(file_base_url(settings.telegram_base_url))
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .rate_limiter(RetryingRateLimiter())
        .concurrent_updates(16)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    bot.register(app)
    return app


class TokenRedacted(logging.Filter):
    """What ``qa telegram`` logs never shows the bot token (Bot API URLs hold it, and PTB's messages
    quote it), and a rejected token is said once, in qa's own error line, without PTB's traceback."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], InvalidToken):
            return False
        message = record.getMessage()
        if self.token and self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), ()
        return True


def run_bot(settings: Settings) -> None:
    """Run the bot with long polling until interrupted (``qa telegram``)."""
    validate_token(settings.telegram_token)
    # httpx logs every request URL at INFO, and Bot API URLs contain the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    hand_back_large_blocks()  # before the models load: memory of concurrent passes goes back after them
    engine = Engine(settings)
    engine.archive.require_index()  # a chosen folder without an index stops here, before polling starts
    # A loop of our own: PTB closes it on exit, and asyncio.get_event_loop() is deprecated.
    asyncio.set_event_loop(asyncio.new_event_loop())
    redacted = TokenRedacted(str(settings.telegram_token))
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(redacted)
    try:
        app = build_application(settings, engine)
        app.run_polling(
            allowed_updates=["message", "edited_message", "callback_query", "inline_query"],
            bootstrap_retries=3,
        )
    except InvalidToken:
        raise ConfigError(
            "Telegram rejected the bot token (QA_TELEGRAM_TOKEN): check it with @BotFather"
        ) from None
    except NetworkError as error:
        raise ConfigError(
            f"cannot reach the Telegram Bot API at {settings.telegram_base_url}: {error}"
        ) from error
    finally:
        asyncio.set_event_loop(None)
        engine.close()
        for handler in handlers:
            handler.removeFilter(redacted)
