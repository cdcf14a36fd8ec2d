"""Plain data and shared types of the core and its front ends: articles, passages, answers, time windows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import PurePath, PurePosixPath, PureWindowsPath
from typing import Any, Literal

Mode = Literal["hybrid", "dense", "bm25"]
"""Retrieval mode: keyword and dense search fused, dense only, or keyword (BM25) only."""

Confidence = Literal["sure", "likely", "unsure"]
"""How sure an answer is, in a word every front end shows."""

NOT_FOUND = "I couldn't find that in the archive."


def iso_day(published: str | None) -> date | None:
    """The day of an ISO date or timestamp ("2020-10-04T17:37:06"), None when undated or unreadable."""
    if not published:
        return None
    try:
        return date.fromisoformat(published[:10])
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Publication dates from ``since`` (inclusive) to ``until`` (exclusive); None is open."""

    since: date | None = None
    until: date | None = None

    @property
    def last_day(self) -> date | None:
        """The last day inside the window (``until`` is exclusive)."""
        return None if self.until is None else self.until - timedelta(days=1)

    def intersect(self, other: TimeWindow | None) -> TimeWindow:
        """The days inside both windows."""
        if other is None:
            return self
        since = max((d for d in (self.since, other.since) if d is not None), default=None)
        until = min((d for d in (self.until, other.until) if d is not None), default=None)
        return TimeWindow(since, until)

    @property
    def empty(self) -> bool:
        """True when no day is inside the window."""
        return self.since is not None and self.until is not None and self.since >= self.until

    def contains(self, published: str | None) -> bool:
        """True when an ISO date or timestamp falls inside the window (never for an undated article)."""
        if not published:
            return False
        day = published[:10]
        return (self.since is None or day >= self.since.isoformat()) and (
            self.until is None or day < self.until.isoformat()
        )

    def describe(self) -> str:
        """The window in words: "on 2005-02-14", "from 2005-03-01 to 2005-03-31", "since 2004-01-01"."""
        last = self.last_day
        if self.since is not None and last is not None:
            return f"on {last}" if self.since == last else f"from {self.since} to {last}"
        if self.since is not None:
            return f"since {self.since}"
        return f"until {last}" if last is not None else "at any time"


@dataclass(frozen=True, slots=True)
class Article:
    """One news article as loaded from a file: clean body text plus metadata."""

    id: str
    title: str
    text: str
    source: str
    published: str | None = None  # ISO 8601, e.g. "2020-10-04T17:37:06"
    url: str | None = None
    place: str | None = None  # the place of a wire story's dateline ("LONDON"), taken off its text

    def meta(self) -> ArticleMeta:
        """The article's metadata without its text."""
        return ArticleMeta(
            id=self.id,
            title=self.title,
            published=self.published,
            source=self.source,
            url=self.url,
            place=self.place,
        )


def public_source(source: str) -> str:
    """A source as shown to others: relative to the folder it was indexed from, never a full path.

    Articles indexed before sources were stored that way keep their absolute path in the index;
    they are shown as ``folder/file`` too.
    """
    path = PurePath(source)
    if not path.is_absolute() and not PureWindowsPath(source).is_absolute():
        return source
    return PurePosixPath(path.parent.name, path.name).as_posix() if path.parent.name else path.name


@dataclass(frozen=True, slots=True)
class ArticleMeta:
    """What an answer says about where it came from (``path``: the local file, for the CLI only)."""

    id: str
    title: str
    published: str | None
    source: str
    url: str | None
    path: str | None = field(default=None, compare=False)
    place: str | None = None  # the dateline's place ("LONDON"), None for a story without one

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping with the keys of the answer object (no local path)."""
        return {
            "id": self.id,
            "title": self.title,
            "published": self.published,
            "source": self.source,
            "url": self.url,
            "place": self.place,
        }


@dataclass(frozen=True, slots=True)
class Chunk:
    """A few consecutive sentences of an article with character offsets into ``Article.text``."""

    article_id: str
    ordinal: int
    start: int
    end: int
    text: str
    sentences: tuple[tuple[int, int], ...]  # sentence offsets, relative to ``start``


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrieved chunk with its fused relevance score and its article."""

    chunk_id: int
    text: str
    score: float
    article: ArticleMeta
    sentences: tuple[tuple[int, int], ...]
    dense_score: float = 0.0
    keyword_score: float = 0.0
    # One unit vector per sentence, embedded in the passage's context (numpy rows; None for an
    # index built before they were stored): the picker's sentence similarity needs no encoding.
    sentence_vectors: Any = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping: text, score (retrieval match, not an answer's chance) and article metadata."""
        return {
            "text": self.text,
            "score": round(self.score, 4),
            "article": self.article.to_dict(),
        }


SURE_FROM, LIKELY_FROM = 0.7, 0.4  # answer scores read as the chance that the answer is right


def confidence_label(score: float) -> Confidence:
    """How sure an answer is, in a word every front end shows: sure, likely or unsure."""
    if score >= SURE_FROM:
        return "sure"
    return "likely" if score >= LIKELY_FROM else "unsure"


@dataclass(frozen=True, slots=True)
class Answer:
    """One extractive answer: sentence(s) quoted verbatim, optional span, score in 0..1."""

    text: str
    span: tuple[int, int] | None
    score: float
    passage: str
    article: ArticleMeta
    passage_offset: int = 0  # where ``text`` starts inside ``passage``
    also_in: tuple[ArticleMeta, ...] = ()  # other copies of the same story (re-published, syndicated)

    @property
    def confidence(self) -> Confidence:
        """The score in a word: sure, likely or unsure."""
        return confidence_label(self.score)

    @property
    def span_text(self) -> str | None:
        """The exact answer inside ``text``, if one was found."""
        return None if self.span is None else self.text[self.span[0] : self.span[1]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping with the keys of the answer object."""
        return {
            "text": self.text,
            "span": list(self.span) if self.span is not None else None,
            "score": round(self.score, 4),
            "confidence": self.confidence,
            "passage": self.passage,
            "article": self.article.to_dict(),
            "also_in": [a.to_dict() for a in self.also_in],
        }


@dataclass(frozen=True, slots=True)
class AnswerSet:
    """The result of one question: answers best first (empty when the archive has no answer)."""

    question: str
    answers: tuple[Answer, ...]
    passages: tuple[Passage, ...] = field(default=())  # those the answers quote first, then retrieval's order
    more_answers: tuple[Answer, ...] = field(default=())  # further answers, for "more"
    rewritten_question: str | None = None  # the self-contained question used for retrieval
    window: TimeWindow | None = None  # the publication dates searched (from the question or filters)
    repeats: tuple[Answer, ...] = field(default=())  # withheld: a follow-up found only what was said
    archive_ends: date | None = None  # the archive's newest day, when ``window`` lies wholly after it

    @property
    def nothing_new(self) -> bool:
        """True when a follow-up found answers, but only those already given."""
        return not self.answers and bool(self.repeats)

    @property
    def abstained(self) -> bool:
        """True when the archive does not hold an answer."""
        return not self.answers

    @property
    def not_found(self) -> str:
        """What to say when there is no answer, naming the dates searched when they were limited."""
        if self.window is None:
            return NOT_FOUND
        searched = f"I couldn't find that in the articles published {self.window.describe()}"
        if self.archive_ends is not None:  # "last week" asked of an archive of older news
            return f"{searched}: the newest article in the archive is from {self.archive_ends.isoformat()}."
        return f"{searched}."

    def to_dict(self) -> dict[str, Any]:
        """The answer object served by ``qa ask --json`` and ``POST /ask``."""
        window = self.window
        return {
            "question": self.question,
            "answers": [a.to_dict() for a in self.answers],
            "since": window.since.isoformat() if window and window.since else None,
            "until": window.last_day.isoformat() if window and window.last_day else None,
            "not_found": self.not_found if self.abstained else None,
        }


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """One indexed article as listed by ``qa docs``."""

    id: str
    title: str
    published: str | None
    source: str
    url: str | None
    chunks: int
    duplicate_of: str | None = None  # the original of a re-published story
    path: str | None = field(default=None, compare=False)  # the local file, for the CLI only
    place: str | None = None  # the dateline's place ("LONDON"), None for a story without one

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (no local path)."""
        data = asdict(self)
        del data["path"]
        return data


@dataclass(frozen=True, slots=True)
class Feed:
    """A feed or sitemap that ``qa refresh`` polls."""

    url: str
    kind: str  # rss, atom, sitemap or sitemap-index
    title: str | None
    added: str  # ISO 8601, UTC
    polled: str | None  # the last poll, ISO 8601 UTC (None before the first)
    error: str | None  # why the last poll failed, if it did

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return asdict(self)


Skipped = tuple[str, str]  # what was left out, where ("notes.jsonl:3", "notes.json, item 2"), and why


@dataclass(slots=True)
class IndexReport:
    """What one indexing run did."""

    added: list[str] = field(default_factory=list)  # article ids added or replaced
    unchanged: int = 0  # files skipped because their content hash matched
    removed: list[str] = field(default_factory=list)  # article ids removed (files gone, or gone from a file)
    skipped: list[Skipped] = field(default_factory=list)  # (path, reason)
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (path, why): not articles, --exclude
    chunks_embedded: int = 0

    @property
    def partial(self) -> bool:
        """True when some inputs were skipped."""
        return bool(self.skipped)
