"""Typed request and response bodies of the HTTP API (pydantic, for validation and OpenAPI)."""

# The JSON is built in one place, the core's ``to_dict`` methods; the response models restate its
# keys only to give OpenAPI their types and descriptions, and tests/test_http.py checks they agree.

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticKnownError

CONVERSATION_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


def _not_blank(value: str) -> str:
    """``value``, unless it is only whitespace: that is refused as an empty string is."""
    if not value.strip():
        raise PydanticKnownError("string_too_short", {"min_length": 1})
    return value


NOT_BLANK = AfterValidator(_not_blank)


class ErrorDetail(BaseModel):
    """What went wrong: a stable machine code and a sentence for people."""

    code: str = Field(examples=["question_too_long"])
    message: str = Field(examples=["The question is longer than 1000 characters."])


class ErrorBody(BaseModel):
    """The one shape of every error response."""

    error: ErrorDetail


class AskRequest(BaseModel):
    """A question, optionally a follow-up in an earlier conversation."""

    model_config = ConfigDict(extra="forbid")

    question: Annotated[str, NOT_BLANK] = Field(min_length=1, description="The question, in plain words.")
    top_k: int | None = Field(None, ge=1, le=50, description="Answers wanted (default QA_TOP_K).")
    conversation_id: str | None = Field(
        None,
        pattern=CONVERSATION_ID_PATTERN,
        description="Continue this conversation (follow-ups); a new one is started when absent.",
    )
    since: date | None = Field(None, description="Only articles published on or after this day (YYYY-MM-DD).")
    until: date | None = Field(
        None, description="Only articles published on or before this day (YYYY-MM-DD)."
    )
    as_of: date | None = Field(
        None, description='The day that "yesterday", "last week" or "in March" count from (default: today).'
    )


class ArticleOut(BaseModel):
    """Where an answer or passage came from."""

    id: str
    title: str
    published: str | None = Field(description="ISO 8601 date and time, when known.")
    source: str
    url: str | None
    place: str | None = Field(
        None, description="The place of a wire story's dateline (LONDON), taken off the start of its text."
    )


class AnswerOut(BaseModel):
    """One answer: a sentence quoted verbatim, the answer span inside it, and its passage."""

    text: str = Field(description="The answer sentence, verbatim from the article.")
    span: tuple[int, int] | None = Field(
        description="Start and end (code points) of the exact answer within `text`."
    )
    score: float = Field(description="The chance (0..1) that the answer is right.")
    confidence: Literal["sure", "likely", "unsure"] = Field(
        description="The score in a word: sure (0.7 and up), likely (0.4 and up) or unsure."
    )
    passage: str = Field(description="The passage that contains `text` verbatim.")
    article: ArticleOut
    also_in: list[ArticleOut] = Field(
        default_factory=list, description="Other copies of the same story (re-published or syndicated)."
    )


class AskResponse(BaseModel):
    """The answer object of `qa ask --json`, plus the conversation it belongs to."""

    question: str
    answers: list[AnswerOut] = Field(description="Best first; empty when the archive has no answer.")
    since: date | None = Field(None, description="First publication day searched, when limited.")
    until: date | None = Field(None, description="Last publication day searched, when limited.")
    not_found: str | None = Field(
        None,
        description="What to say when `answers` is empty, in the words every front end uses (the days "
        "searched named when limited); null when there are answers.",
        examples=["I couldn't find that in the archive."],
    )
    conversation_id: str
    remaining: int = Field(0, description="Further answers available (POST /conversations/{id}/more).")
    nothing_new: bool = Field(
        False, description="True when a follow-up found only the answers already given (`answers` is empty)."
    )


class MoreResponse(AskResponse):
    """Further answers to the last question of a conversation."""

    remaining: int = Field(description="Answers still available after these.")


class PassageOut(BaseModel):
    """A retrieved passage with its relevance score."""

    text: str
    score: float = Field(
        description="How well the passage matches the query (retrieval), not an answer's chance."
    )
    article: ArticleOut


class SearchResponse(BaseModel):
    """Ranked passages for a query, best first."""

    query: str
    passages: list[PassageOut]
    since: date | None = Field(None, description="First publication day searched, when limited.")
    until: date | None = Field(None, description="Last publication day searched, when limited.")


class ArchiveInfo(BaseModel):
    """What the archive holds, for a page to introduce it."""

    articles: int
    chunks: int
    example_title: str | None = Field(description="The newest article's title; None when the index is empty.")


class DocumentOut(ArticleOut):
    """One indexed article."""

    chunks: int
    duplicate_of: str | None = Field(
        None, description="The original, when this article re-publishes a story."
    )


class DocumentDetail(DocumentOut):
    """One indexed article with its full text."""

    text: str


class DocumentPage(BaseModel):
    """One page of the indexed articles."""

    documents: list[DocumentOut]
    offset: int
    limit: int
    total: int


class ArticleIn(BaseModel):
    """An article posted as JSON; the same fields as one line of a .jsonl file."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, min_length=1, max_length=200, description="Replaces that article.")
    title: str | None = Field(None, max_length=1000)
    text: Annotated[str, NOT_BLANK] = Field(min_length=1, description="The article body.")
    published: str | None = Field(None, description="ISO 8601 date, e.g. 2020-10-04T17:37:06.")
    url: str | None = Field(None, max_length=2000)


class SkippedOut(BaseModel):
    """A part of an upload that could not be loaded."""

    place: str
    reason: str


class DocumentsAdded(BaseModel):
    """What adding documents did; the next query already sees them."""

    added: list[str] = Field(description="Ids of the articles added or replaced.")
    chunks_embedded: int
    skipped: list[SkippedOut]


class FeedIn(BaseModel):
    """A feed or sitemap to poll (or to stop polling)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1,
        max_length=2000,
        description="An RSS or Atom feed, an XML sitemap or a sitemap index (http or https).",
    )


class FeedOut(BaseModel):
    """A registered feed and how its last poll went."""

    url: str
    kind: str = Field(description="rss, atom, sitemap or sitemap-index.")
    title: str | None
    added: str = Field(description="When it was registered, ISO 8601 UTC.")
    polled: str | None = Field(description="The last poll, ISO 8601 UTC; null before the first.")
    error: str | None = Field(description="Why the last poll failed, if it did.")


class FeedList(BaseModel):
    """Every registered feed."""

    feeds: list[FeedOut]


class Health(BaseModel):
    """The service is up, its index and models loaded."""

    status: str = Field(examples=["ok"])
    articles: int
    chunks: int


class HealthUnavailable(ErrorBody):
    """Not ready (503): ``warming up`` while the index and models load, else ``unavailable`` and why."""

    status: str = Field(examples=["warming up"])


class WatchIn(BaseModel):
    """A question to ask again whenever articles are added."""

    model_config = ConfigDict(extra="forbid")

    question: Annotated[str, NOT_BLANK] = Field(min_length=1, description="The question, in plain words.")
    webhook: str | None = Field(
        None, min_length=1, max_length=2000, description="POST each new answer here (http or https)."
    )


class WatchOut(BaseModel):
    """A watch."""

    id: int
    question: str
    webhook: str | None
    chat_id: int | None = Field(description="The Telegram chat that made it; null for the API's own.")
    created: str = Field(description="When it was made, ISO 8601 UTC.")


class WatchList(BaseModel):
    """The API's watches (a Telegram chat's are its own)."""

    watches: list[WatchOut]


class FoundAnswerOut(AnswerOut):
    """An answer a watch found, with when."""

    found: str = Field(description="When it was found, ISO 8601 UTC.")


class WatchAnswers(BaseModel):
    """A watch's answers so far, newest first, in the shape of `POST /ask`'s answer object."""

    id: int = Field(description="The watch.")
    question: str
    answers: list[FoundAnswerOut]
    since: date | None = None
    until: date | None = None


class FeedbackIn(BaseModel):
    """A vote on one answer of a conversation's last reply."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: str = Field(pattern=CONVERSATION_ID_PATTERN)
    answer: int = Field(
        ge=1, le=10_000, description="The answer's number in the last reply (1-based; more answers count on)."
    )
    vote: Literal["up", "down"]
    comment: str | None = Field(None, max_length=2000)


class FeedbackOut(BaseModel):
    """A vote as stored."""

    id: int
    at: str = Field(description="When, ISO 8601 UTC.")
    channel: str
    conversation_id: str
    question: str
    answer_number: int
    vote: Literal["up", "down"]
    comment: str | None
    answer: AnswerOut
