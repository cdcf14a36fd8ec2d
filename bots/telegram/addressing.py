"""Which chat messages are meant for the bot: all of a private chat, a group's only when addressed."""

from __future__ import annotations

import re

from telegram import Message
from telegram.constants import ChatType


def question_in(message: Message | None, bot_id: int, username: str | None) -> str | None:
    """The question of a text message: all of it in a private chat, in a group only when addressed."""
    if message is None or not message.text:
        return None
    return message.text if message.chat.type == ChatType.PRIVATE else addressed(message, bot_id, username)


def reply_to_bot(message: Message, bot_id: int) -> Message | None:
    """The bot's message that ``message`` replies to, if it replies to one."""
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot_id:
        return replied
    return None


def addressed(message: Message, bot_id: int, username: str | None) -> str | None:
    """The question in a group message meant for the bot (a reply to it; a mention, taken out), else None."""
    text = message.text or ""
    if reply_to_bot(message, bot_id) is not None:
        return text
    mention = f"@{username}"
    if mention.lower() not in text.lower():
        return None
    return re.sub(re.escape(mention), " ", text, flags=re.IGNORECASE).strip()


def unknown_command(message: Message, bot_id: int, username: str | None) -> str | None:
    """The command of a message no handler took, when it is for this bot (not another bot's
    ``/foo@otherbot``, and in a group only when addressed to it), else None."""
    if not message.text:
        return None
    command, _, target = message.text.split(maxsplit=1)[0].partition("@")
    if target and target.lower() != (username or "").lower():
        return None
    if message.chat.type != ChatType.PRIVATE and not target and addressed(message, bot_id, username) is None:
        return None
    return command
