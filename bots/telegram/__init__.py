"""The Telegram front end: ``qa telegram`` runs python-telegram-bot long polling over the engine."""

from bots.telegram.bot import build_application, run_bot

__all__ = ["build_application", "run_bot"]
