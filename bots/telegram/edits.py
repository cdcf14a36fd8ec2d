"""Edited questions: what each answered message asked, so that an edit replaces its question."""

from __future__ import annotations

from collections import OrderedDict

from telegram import Message

from qa.answering.conversation import Conversation

_REMEMBERED_QUESTIONS = 5000  # answered messages whose edits are told apart from their original


class AskedMessages:
    """The question of each chat's last answered messages, bounded in how many it keeps (the
    question only: an answer set holds its passages, thousands of them would hold megabytes)."""

    def __init__(self, limit: int = _REMEMBERED_QUESTIONS) -> None:
        self.limit = limit
        # the message's text, and the question as the conversation recorded it (cleaned)
        self._asked: OrderedDict[tuple[int, int], tuple[str, str]] = OrderedDict()

    def remember(self, message: Message, question: str, asked: str) -> None:
        """Record that ``message`` asked ``question``, which the conversation recorded as ``asked``."""
        self._asked[(message.chat_id, message.message_id)] = (question, asked)
        self._asked.move_to_end((message.chat_id, message.message_id))
        while len(self._asked) > self.limit:
            self._asked.popitem(last=False)

    def unchanged(self, message: Message, question: str) -> bool:
        """True when an edit of ``message`` still asks what it asked (only a link preview changed);
        False when it asks something else or its original is not remembered."""
        asked = self._asked.get((message.chat_id, message.message_id))
        return asked is not None and asked[0] == question

    def replace(self, message: Message, conversation: Conversation) -> None:
        """Drop the turn of ``message``'s original wording when it is still the conversation's last,
        so that the edit is asked in its place rather than as a follow-up of it."""
        asked = self._asked.pop((message.chat_id, message.message_id), None)
        if asked is not None:
            conversation.withdraw(asked[1])
