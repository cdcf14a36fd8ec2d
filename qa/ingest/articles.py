"""Load files into ``Article``s: the seed format, .txt/.md, .html (trafilatura) and .jsonl."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path, PurePosixPath

from qa.errors import DocumentError
from qa.ingest.dateline import with_place
from qa.ingest.dates import given_date, parse_timestamp
from qa.ingest.decoding import declared_charset, decode_lines, decode_text
from qa.models import Article

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".text", ""})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES | {".json"}

# Trailing scraper debris: error banners, share/subscribe prompts and the like, never article text.
_DEBRIS = re.compile(
    r"^\s*(?:(?:error!?\s*)+(?:error\s+occ?ur+e?d!?)?|an error (?:has )?occ?ur+e?d.*|loading\.*|"
    r"advertisement|read more.*|share (?:this|on).*|follow us.*|subscribe.*|click here.*|"
    r"all rights reserved.*|©.*|copyright.*)\s*$",
    re.IGNORECASE,
)
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
# A byline opening the body: "By Jane Smith", "By our correspondent | Coastal Wire | 11 March 2005".
_BYLINE = re.compile(r"^\s*by\s+\S", re.IGNORECASE)
BYLINE_WORDS = 12


def article_id_for(source: str) -> str:
    """A short, stable id derived from where an article came from."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]


def content_hash(data: bytes) -> str:
    """SHA-256 of a file's bytes: unchanged files are not re-embedded."""
    return hashlib.sha256(data).hexdigest()


def text_article_id(text: str) -> str:
    """The id of an article posted without one: made from its text, so posting it again replaces it."""
    return content_hash(text.encode("utf-8"))[:16]


def upload_name(filename: str | None) -> str:
    """An uploaded file's name as shown and read: its last part, at most 200 characters."""
    # Only the suffix matters to the loader; the name never chooses where anything is written.
    return PurePosixPath((filename or "").replace("\\", "/")).name[-200:] or "upload.txt"


def strip_debris(lines: list[str]) -> list[str]:
    """Drop trailing blank lines and scraper debris lines."""
    end = len(lines)
    while end and (not lines[end - 1].strip() or _DEBRIS.match(lines[end - 1])):
        end -= 1
    return lines[:end]


def without_byline(lines: list[str]) -> list[str]:
    """The body's lines without a byline on its first non-blank line: one that starts with "By",
    has at most ``BYLINE_WORDS`` words and ends without sentence punctuation (a first sentence
    such as "By noon the bridge was open." is kept). Blank lines after it go too."""
    start = next((n for n, line in enumerate(lines) if line.strip()), len(lines))
    if start == len(lines):
        return lines
    first = lines[start].strip()
    if not _BYLINE.match(first) or len(first.split()) > BYLINE_WORDS or first[-1] in ".!?;:\"'”’)":
        return lines
    rest = lines[start + 1 :]
    while rest and not rest[0].strip():
        rest.pop(0)
    return rest if rest else lines  # a body that is only a byline stays as it is


def parse_plain_article(text: str, source: str, suffix: str = ".txt") -> Article:
    """A text article: optional front matter, title line, optional timestamp and repeated title, body."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    meta: dict[str, str] = {}
    front = _FRONT_MATTER.match(text)
    if front:
        for line in front.group(1).splitlines():
            key, sep, value = line.partition(":")
            if sep:
                meta[key.strip().lower()] = value.strip().strip("\"'")
        text = text[front.end() :]
    lines = strip_debris(text.split("\n"))
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        raise DocumentError(source, "no text")
    title = meta.get("title") or ""
    if not title:
        title = lines.pop(0).strip()
        if suffix in {".md", ".markdown"}:
            title = title.lstrip("#").strip()
    published = given_date(meta.get("date", meta.get("published")), source)
    # Seed format: a timestamp line, then the title repeated; both are metadata, not body.
    rest = [line for line in lines]
    while rest and not rest[0].strip():
        rest.pop(0)
    if rest and (stamp := parse_timestamp(rest[0])):
        published = published or stamp
        rest.pop(0)
        while rest and not rest[0].strip():
            rest.pop(0)
    if rest and rest[0].strip().lstrip("#").strip() == title:
        rest.pop(0)
    body = "\n".join(without_byline(rest)).strip()
    if not body:
        raise DocumentError(source, "no article text after the title")
    return Article(
        id=meta.get("id") or article_id_for(source),
        title=title,
        text=body,
        source=source,
        published=published,
        url=meta.get("url"),
    )


EARLIEST_DATE = "1800-01-01"  # the earliest publication date an HTML page's markup may give


def parse_html_article(html: str, source: str) -> Article:
    """Main text, title, publish date and canonical URL of a news page, via trafilatura."""
    import trafilatura

    document = trafilatura.bare_extraction(
        html,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        # Precision over recall: on a page with little story, recall keeps a cookie banner, a
        # "enable JavaScript" notice or a video's caption as the article's text.
        favor_precision=True,
        date_extraction_params={
            "extensive_search": False,
            "original_date": True,
            # htmldate's default earliest date is 1995-01-01: an archive of older news (a 1987
            # page's <time datetime>) lost every date without a word
            "min_date": EARLIEST_DATE,
            "outputformat": "%Y-%m-%dT%H:%M:%S",
        },
    )
    if document is None:
        raise DocumentError(source, "no article text found in the HTML page")
    fields = document.as_dict() if hasattr(document, "as_dict") else dict(document)
    title = (fields.get("title") or "").strip()
    paragraphs = [p.strip() for p in (fields.get("text") or "").split("\n") if p.strip()]
    if paragraphs and title and paragraphs[0] == title:
        paragraphs.pop(0)
    paragraphs = strip_debris(without_byline(paragraphs))
    if not paragraphs:
        raise DocumentError(source, "no article text found in the HTML page")
    date = fields.get("date")
    return Article(
        id=article_id_for(source),
        title=title or Path(source).stem,
        text="\n\n".join(paragraphs),
        source=source,
        published=parse_timestamp(date.replace("T", " ")) if isinstance(date, str) else None,
        url=fields.get("url") or None,
    )


def article_from_record(record: object, source: str, where: str) -> Article:
    """An article from one JSON object: ``text`` required; ``title``, ``published``, ``url``, ``id``."""
    if not isinstance(record, dict):
        raise DocumentError(where, "expected a JSON object")
    text = record.get("text")
    if text is not None and not isinstance(text, str):
        raise DocumentError(where, f"'text' must be a string, not {type(text).__name__}")
    if not text or not text.strip():
        raise DocumentError(where, "missing or empty 'text'")
    text = "\n".join(without_byline(text.strip().split("\n")))
    title = record.get("title")
    published = record.get("published") or record.get("date")
    url = record.get("url")
    raw_id = record.get("id")
    return Article(
        id=str(raw_id) if raw_id not in (None, "") else article_id_for(where),
        title=title.strip() if isinstance(title, str) and title.strip() else text.strip().split("\n")[0][:80],
        text=text.strip(),
        source=source,
        published=given_date(published, where),
        url=url if isinstance(url, str) and url else None,
    )


def parse_jsonl(text: str, source: str) -> tuple[list[Article], list[tuple[str, str]]]:
    """Articles from JSON Lines; bad lines are returned as ``(place, reason)`` and skipped."""
    records: list[tuple[str, object]] = []
    problems: list[tuple[str, str]] = []
    # Only "\n" ends a record: JSON strings may hold U+2028 and other characters splitlines() splits on.
    for number, line in enumerate(text.split("\n"), start=1):  # a trailing "\r" is JSON whitespace
        if not line.strip():
            continue
        try:
            records.append((f"{source}:{number}", json.loads(line)))
        except json.JSONDecodeError as exc:
            problems.append((f"{source}:{number}", f"invalid JSON ({json_problem(exc, whole_file=False)})"))
    articles, bad = articles_from_records(records, source)
    return articles, sorted(problems + bad, key=lambda p: int(p[0].rpartition(":")[2]))  # by line


def json_problem(exc: json.JSONDecodeError, whole_file: bool = True) -> str:
    """Where a JSON text broke, in words: ``Unterminated string starting at line 1, column 10``
    (Python's own message, without the place, stops at "starting at"); of one line of a .jsonl,
    only a column, and only where the message needs one."""
    if not whole_file:
        return f"{exc.msg} column {exc.colno}" if exc.msg.endswith(" at") else exc.msg
    joint = " " if exc.msg.endswith(" at") else " at "
    return f"{exc.msg}{joint}line {exc.lineno}, column {exc.colno}"


def articles_from_records(
    records: list[tuple[str, object]], source: str
) -> tuple[list[Article], list[tuple[str, str]]]:
    """The articles of a file's JSON objects (each with its place), and the places skipped and why:
    an object that is no article, or one whose id an earlier object of the file already has (one
    would silently replace the other)."""
    articles: list[Article] = []
    problems: list[tuple[str, str]] = []
    first: dict[str, str] = {}
    for where, record in records:
        try:
            article = article_from_record(record, source, where)
        except DocumentError as exc:
            problems.append((where, exc.reason))
            continue
        if article.id in first:
            problems.append((where, f"id {article.id!r} again (first at {first[article.id]})"))
            continue
        first[article.id] = where
        articles.append(article)
    return articles, problems


def parse_document(data: bytes, source: str, suffix: str) -> tuple[list[Article], list[tuple[str, str]]]:
    """Articles in one file's bytes by its suffix (a wire dateline kept as the place), with the
    problems of skipped parts."""
    articles, problems = _parse_by_suffix(data, source, suffix.lower())
    return [with_place(a) for a in articles], problems


def _parse_by_suffix(data: bytes, source: str, suffix: str) -> tuple[list[Article], list[tuple[str, str]]]:
    if suffix in JSONL_SUFFIXES:
        articles, problems = parse_jsonl(decode_lines(data, source), source)
        if not articles and problems:
            raise DocumentError(source, f"no valid article lines ({problems[0][1]})")
        return articles, problems
    text = decode_text(data, source, declared_charset(data) if suffix in HTML_SUFFIXES | {""} else None)
    if suffix == ".json":
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DocumentError(source, f"invalid JSON ({json_problem(exc)})") from None
        if not isinstance(payload, list):
            return [article_from_record(payload, source, source)], []  # one object: no item to name
        articles, problems = articles_from_records(
            [(f"{source}#{i}", r) for i, r in enumerate(payload)], source
        )
        if not articles:
            why = f"no valid articles ({problems[0][1]})" if problems else "an empty list"
            raise DocumentError(source, why)
        return articles, problems
    if suffix in HTML_SUFFIXES or (
        suffix == "" and text.lstrip()[:15].lower().startswith(("<!doctype", "<html"))
    ):
        return [parse_html_article(text, source)], []
    if suffix in TEXT_SUFFIXES:
        return [parse_plain_article(text, source, suffix)], []
    raise DocumentError(source, f"unsupported file type {suffix!r}")
