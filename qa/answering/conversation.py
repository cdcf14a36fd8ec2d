"""Conversations: follow-up questions made self-contained, paging through more answers, what is said."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from qa.errors import ConversationNotFoundError
from qa.models import Answer, AnswerSet
from qa.text import STOPWORDS, content_words

# What every front end says about a conversation, in one wording.
NOTHING_NEW = "Nothing new on that in the archive: the last answer is still the best it holds."
NO_MORE = "There are no more answers to that question."
ASK_FIRST = "Ask me a question first."
GREETING = "Hello! Ask me a question about the articles in the archive."
THANKS = "You're welcome."

# A whole message of greeting or thanks ("hi", "thanks!", "thank you very much 👍"): no question.
_GREETING = re.compile(r"^(?:hi|hello|hey|hiya|good (?:morning|afternoon|evening))(?: there)?$")
_THANKS = re.compile(r"^(?:thanks|thank you|thx|ty|cheers)(?: (?:a lot|very much|so much))?$")

# Words that point back to something said earlier in the conversation, and "the same" (a phrase:
# "the" alone points back to nothing, and made nearly every question a follow-up).
_ANAPHORA = frozenset(
    """it its it's they them their theirs those these that this he him his she her hers
    there then such one ones""".split()
)
_THE_SAME = re.compile(r"\bthe\s+same\b", re.IGNORECASE)
# What is left of "and in October?" or "what about last week?" once its time words are out: the
# question asks the last one again, of another time.
_ONLY_CONNECTIVE = re.compile(r"^\W*(?:(?:and|but|so|then)\W+)?(?:(?:what|how)\s+about\W*)?$", re.IGNORECASE)
_WORD = re.compile(r"[\w'’-]+", re.UNICODE)


def small_talk(text: str) -> str | None:
    """The reply to a message that is only a greeting or thanks (``GREETING``, ``THANKS``), else None:
    "thanks!" is no question, and "I couldn't find that in the archive" no answer to it."""
    said = " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())
    if _GREETING.match(said):
        return GREETING
    return THANKS if _THANKS.match(said) else None


def is_follow_up(question: str) -> bool:
    """True when the question leans on earlier turns (a pronoun, "the same", or too few words of its
    own)."""
    words = [w.lower() for w in _WORD.findall(question)]
    if any(w in _ANAPHORA for w in words) or _THE_SAME.search(question):
        return True
    own = [w for w in words if w not in STOPWORDS]
    return len(own) <= 1


def rewrite_question(question: str, previous_questions: list[str]) -> str:
    """Append the previous question's content words to a follow-up so retrieval keeps the topic."""
    if not previous_questions or not is_follow_up(question):
        return question
    seen = {w.lower() for w in content_words(question)}
    carried: list[str] = []
    for earlier in reversed(previous_questions[-2:]):
        for word in content_words(earlier):
            if word.lower() not in seen:
                seen.add(word.lower())
                carried.append(word)
    return f"{question} ({' '.join(carried)})" if carried else question


@dataclass(slots=True)
class Turn:
    """One question, the question actually searched, and what came back."""

    question: str
    searched: str
    result: AnswerSet
    plain: str = ""  # the searched question without its dates ("What did GenCorp do?")


@dataclass(frozen=True, slots=True)
class Page:
    """One page of "more answers": the answers, the place of the first in the question's answers
    (0-based), and how many remain after them."""

    answers: tuple[Answer, ...]
    first: int
    remaining: int

    def to_dict(self, question: str, conversation_id: str) -> dict[str, Any]:
        """The page as ``POST /conversations/{id}/more`` serves it."""
        answers = [a.to_dict() for a in self.answers]
        return {
            "question": question,
            "answers": answers,
            "conversation_id": conversation_id,
            "remaining": self.remaining,
        }


@dataclass(slots=True)
class Paging:
    """One question's answers, best first, and how many of them have been shown: every front end's
    "more answers"."""

    result: AnswerSet
    shown: int = 0

    @classmethod
    def after(cls, result: AnswerSet) -> Paging:
        """The paging of a result whose first answers (``result.answers``) were just shown."""
        return cls(result, shown=len(result.answers))

    @property
    def answers(self) -> tuple[Answer, ...]:
        """Every answer to the question: those shown first, then the further ones."""
        return self.result.answers + self.result.more_answers

    @property
    def remaining(self) -> int:
        """How many answers have not been shown yet."""
        return max(0, len(self.answers) - self.shown)

    @property
    def has_more(self) -> bool:
        """True while some answers have not been shown."""
        return self.remaining > 0

    def next_page(self, count: int) -> Page:
        """The next ``count`` answers not shown yet (none when all were), now counted as shown."""
        first = self.shown
        batch = self.answers[first : first + count]
        self.shown += len(batch)
        return Page(batch, first, self.remaining)


@dataclass(slots=True)
class Conversation:
    """The recent turns of one chat: bounded in length, used to resolve follow-ups and /more."""

    max_turns: int = 8
    turns: deque[Turn] = field(default_factory=deque)
    paging: Paging | None = None  # the last question's answers, for /more
    updated: float = field(default_factory=time.monotonic)

    def context(self) -> list[str]:
        """The self-contained questions of earlier turns, oldest first."""
        return [t.searched for t in self.turns]

    def record(self, question: str, searched: str, result: AnswerSet, plain: str = "") -> None:
        """Remember a turn; the oldest ones fall off beyond ``max_turns``."""
        self.turns.append(Turn(question, searched, result, plain))
        while len(self.turns) > self.max_turns:
            self.turns.popleft()
        self.paging = Paging.after(result)
        self.updated = time.monotonic()

    @property
    def last(self) -> AnswerSet | None:
        """The result of the most recent turn."""
        return self.turns[-1].result if self.turns else None

    def more(self, count: int) -> list[Answer]:
        """The next ``count`` answers to the last question not yet shown (empty when none are left)."""
        return [] if self.paging is None else list(self.paging.next_page(count).answers)

    def asked_again(self, rest: str) -> str | None:
        """The last question without its own dates ("What did GenCorp do"), when ``rest`` (a question
        without its time words: "and ?" of "and in October?") says nothing else, so that it is asked
        again of the new time; None otherwise."""
        if not self.turns or not self.turns[-1].plain or not _ONLY_CONNECTIVE.match(rest):
            return None
        return self.turns[-1].plain.rstrip(" ?.!")

    def rewrite(self, question: str) -> str:
        """The question made self-contained when it is a follow-up: the earlier topic's words appended."""
        return rewrite_question(question, self.context())

    def said(self) -> set[tuple[str, str, str | None]]:
        """``(article id, sentence, span)`` of the answers shown for the last question."""
        last = self.last
        return set() if last is None else {_said(a) for a in last.answers}

    def withhold_repeats(self, answers: list[Answer]) -> tuple[list[Answer], list[Answer]]:
        """A follow-up's answers split into those not said yet and those that repeat an answer shown
        for the last question (the same span of the same sentence: another span of it is news)."""
        said = self.said()
        return [a for a in answers if _said(a) not in said], [a for a in answers if _said(a) in said]

    def withdraw(self, question: str) -> None:
        """Forget the last turn if it asked ``question`` (its wording was edited: the new one is
        asked in its place, not as a follow-up of it)."""
        if self.turns and self.turns[-1].question == question:
            self.turns.pop()

    def clear(self) -> None:
        """Forget everything."""
        self.turns.clear()
        self.paging = None


def _said(answer: Answer) -> tuple[str, str, str | None]:
    return answer.article.id, answer.text, answer.span_text


class ConversationStore:
    """Conversations by key (a chat id, an HTTP conversation id), bounded in count and idle age."""

    def __init__(self, max_conversations: int = 1000, max_idle_seconds: float = 3600.0) -> None:
        self._items: OrderedDict[str, Conversation] = OrderedDict()
        self.max_conversations = max_conversations
        self._max_idle = max_idle_seconds

    def get(self, key: str) -> Conversation:
        """The conversation for ``key``, new if unknown or expired."""
        now = time.monotonic()
        conv = self._items.get(key)
        if conv is None or now - conv.updated > self._max_idle:
            conv = Conversation()
            self._items[key] = conv
        self._items.move_to_end(key)
        while len(self._items) > self.max_conversations:
            self._items.popitem(last=False)
        return conv

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)


def answer_json(result: AnswerSet, conversation_id: str) -> dict[str, Any]:
    """The answer object of a question asked in a conversation (``POST /ask``): the core's JSON, the
    conversation's id, how many further answers wait, and whether a follow-up found nothing new."""
    return {
        **result.to_dict(),
        "conversation_id": conversation_id,
        "remaining": Paging.after(result).remaining,
        "nothing_new": result.nothing_new,
    }


@dataclass
class Conversations:
    """Conversations by id for a front end whose requests run on several threads (HTTP)."""

    store: ConversationStore = field(default_factory=ConversationStore)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get_or_start(self, conversation_id: str | None) -> tuple[str, Conversation]:
        """The conversation with this id (started afresh when unknown or expired), or a new one and
        its new id."""
        conversation_id = conversation_id or uuid.uuid4().hex
        with self.lock:
            return conversation_id, self.store.get(conversation_id)

    def paging(self, conversation_id: str) -> Paging | None:
        """The answers of the conversation's last question (None before one);
        ``ConversationNotFoundError`` when the id is unknown or expired."""
        with self.lock:
            if conversation_id not in self.store:
                raise ConversationNotFoundError(conversation_id)
            return self.store.get(conversation_id).paging

    def more(self, conversation_id: str, count: int) -> dict[str, Any]:
        """The next ``count`` answers to the conversation's last question, as JSON (none before one)."""
        paging = self.paging(conversation_id)
        if paging is None:
            return Page((), 0, 0).to_dict("", conversation_id)
        with self.lock:
            return paging.next_page(count).to_dict(paging.result.question, conversation_id)
