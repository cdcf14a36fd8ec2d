"""Plain data of watches and votes: a watch, an answer found for it, a vote on an answer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from qa.models import Answer, ArticleMeta

Vote = Literal["up", "down"]


def iso_time(moment: float) -> str:
    """A Unix time as ISO 8601 UTC, to the second."""
    return datetime.fromtimestamp(moment, UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def answer_json(answer: Answer) -> str:
    """An answer as stored: its JSON object and where its sentence starts in its passage."""
    return json.dumps({**answer.to_dict(), "passage_offset": answer.passage_offset}, ensure_ascii=False)


def answer_from_json(text: str) -> Answer:
    """The answer ``answer_json`` stored."""
    data = json.loads(text)
    span = data["span"]
    return Answer(
        text=data["text"],
        span=(int(span[0]), int(span[1])) if span is not None else None,
        score=float(data["score"]),
        passage=data["passage"],
        article=ArticleMeta(**data["article"]),
        passage_offset=int(data.get("passage_offset", 0)),
        also_in=tuple(ArticleMeta(**a) for a in data.get("also_in", ())),
    )


@dataclass(frozen=True, slots=True)
class Watch:
    """A question asked again whenever articles are added; ``chat_id`` for a Telegram chat's own."""

    id: int
    question: str
    chat_id: int | None
    webhook: str | None
    created: str  # ISO 8601 UTC

    def to_dict(self) -> dict[str, Any]:
        """The watch object of ``POST /watches`` and ``qa watch list --json``."""
        return {
            "id": self.id,
            "question": self.question,
            "webhook": self.webhook,
            "chat_id": self.chat_id,
            "created": self.created,
        }


@dataclass(frozen=True, slots=True)
class Found:
    """An answer a check found for a watch, and how its delivery went."""

    id: int
    watch_id: int
    answer: Answer
    found: str  # ISO 8601 UTC
    tries: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The answer object, with when it was found."""
        return {**self.answer.to_dict(), "found": self.found}


def answers_dict(watch: Watch, found: Sequence[Found]) -> dict[str, Any]:
    """A watch's answers in the shape of ``POST /ask``'s answer object, with the watch's ``id``."""
    return {
        "id": watch.id,
        "question": watch.question,
        "answers": [f.to_dict() for f in found],
        "since": None,
        "until": None,
    }


@dataclass(frozen=True, slots=True)
class Delivery:
    """A found answer still to send to its watch's chat or webhook."""

    watch: Watch
    found: Found

    def payload(self) -> dict[str, Any]:
        """What a webhook receives: the watch's new answer in the ``/ask`` answer shape."""
        return answers_dict(self.watch, [self.found])


@dataclass(frozen=True, slots=True)
class VoteRecord:
    """A 👍 or 👎 on one answer, with its question and where it was cast."""

    id: int
    at: str  # ISO 8601 UTC
    channel: str  # telegram, http
    conversation: str
    question: str
    number: int  # 1-based, in the conversation's reply
    vote: Vote
    comment: str | None
    answer: Answer

    def to_dict(self) -> dict[str, Any]:
        """The vote object of ``qa feedback list --json``."""
        return {
            "id": self.id,
            "at": self.at,
            "channel": self.channel,
            "conversation_id": self.conversation,
            "question": self.question,
            "answer_number": self.number,
            "vote": self.vote,
            "comment": self.comment,
            "answer": self.answer.to_dict(),
        }
