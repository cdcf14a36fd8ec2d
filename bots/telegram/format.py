"""Render core answers as Telegram HTML messages and split them at Telegram's length limit."""

from __future__ import annotations

import html
import re
from datetime import datetime

from telegram import BotCommand

from qa.models import Answer, ArticleMeta
from qa.watching import Watch

TELEGRAM_LIMIT = 4096  # characters per message, counted after entity parsing
_CONFIDENCE_MARK = {"sure": "🟢", "likely": "🟡", "unsure": "🔴"}
HELP = (
    "Send me a question about the news archive and I answer with a sentence quoted from an "
    "article, the answer in <b>bold</b>.\n\n"
    "/ask &lt;question&gt; - ask (in groups: mention me or reply to me instead)\n"
    "/more - more answers to the last question\n"
    "/sources - the articles behind the last answer\n"
    "/watch &lt;question&gt; - tell me when a new article answers it\n"
    "/watches - your watches · /unwatch &lt;n&gt; - stop watch n\n"
    "/help - this message\n\n"
    "Follow-up questions such as “and who won?” refer to your previous question."
)
COMMANDS = [
    BotCommand("start", "What this bot is"),
    BotCommand("help", "How to ask"),
    BotCommand("ask", "Ask a question: /ask <question>"),
    BotCommand("sources", "Sources of the last answer"),
    BotCommand("more", "More answers to the last question"),
    BotCommand("watch", "Tell me when a new article answers: /watch <question>"),
    BotCommand("watches", "Your watches"),
    BotCommand("unwatch", "Stop a watch: /unwatch <n>"),
]
REFUSED = "Sorry, this bot is private and can't answer in this chat."
RATE_LIMITED = "You're asking faster than I can answer. Please wait a minute and try again."
FAILED = "Sorry, something went wrong while answering. Please try again later."
EXPIRED = "That answer is no longer available. Please ask again."
CONTEXT_CHARS = 160  # passage text shown on each side of the answer sentence

# Room kept free in each part for the closing tags appended when a split falls inside markup.
_TAG_RESERVE = 64
_TAG = re.compile(r"<(/?)([a-zA-Z-]+)[^>]*>")
# A sentence ends at . ! ? or … (possibly followed by closing quotes/brackets) and whitespace.
_SENTENCE_BREAK = re.compile(r"(?:[.!?…](?:&quot;|&#x27;|[\u201d\u2019)\]\u00bb])*)\s+|\n+")
_SPACE = re.compile(r"\s+")


def format_start(articles: int) -> str:
    """The greeting of /start: what the bot is and how many articles it knows."""
    return (
        "Hi! I answer questions about a news archive by quoting the articles themselves. "
        f"I know {articles} articles.\n\n{HELP}"
    )


def escape(text: str) -> str:
    """Text made safe for Telegram's HTML parse mode (``<``, ``>``, ``&`` and quotes)."""
    return html.escape(text, quote=True)


def format_date(published: str | None) -> str:
    """``2020-10-04T17:37:06`` as ``4 Oct 2020``; anything unparsable as given."""
    if not published:
        return ""
    try:
        moment = datetime.fromisoformat(published)
    except ValueError:
        return published
    return f"{moment.day} {moment:%b %Y}"


def article_line(article: ArticleMeta) -> str:
    """The article's title, place (a wire story's dateline) and date on one line."""
    parts = [article.title or article.id, article.place or "", format_date(article.published)]
    return "📰 " + " · ".join(escape(p) for p in parts if p)


def highlighted_sentence(answer: Answer) -> str:
    """The answer sentence with its answer span (or, without one, all of it) in bold."""
    if answer.span is None:
        return f"<b>{escape(answer.text)}</b>"
    start, end = answer.span
    text = answer.text
    return f"{escape(text[:start])}<b>{escape(text[start:end])}</b>{escape(text[end:])}"


def _trim_before(text: str, limit: int) -> str:
    """The last ``limit`` characters of ``text``, cut at a word boundary, after an ellipsis."""
    text = _SPACE.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    tail = text[-limit:]
    space = tail.find(" ")
    return "…" + (tail[space + 1 :] if 0 <= space < limit // 2 else tail)


def _trim_after(text: str, limit: int) -> str:
    """The first ``limit`` characters of ``text``, cut at a word boundary, before an ellipsis."""
    text = _SPACE.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = head.rfind(" ")
    return (head[:space] if space > limit // 2 else head) + "…"


def excerpt(answer: Answer) -> str:
    """The answer sentence, span in bold, inside a short italic excerpt of its passage."""
    start = answer.passage_offset
    before = _trim_before(answer.passage[:start], CONTEXT_CHARS)
    after = _trim_after(answer.passage[start + len(answer.text) :], CONTEXT_CHARS)
    body = highlighted_sentence(answer)
    if before:
        body = f"<i>{escape(before)}</i> {body}"
    if after:
        body = f"{body} <i>{escape(after)}</i>"
    return body


def format_answer(answer: Answer, number: int | None = None) -> str:
    """One answer: its sentence, span in bold, inside a short italic excerpt; then its article."""
    prefix = f"{number}. " if number is not None else ""
    return (
        f"{prefix}{excerpt(answer)}\n\n{article_line(answer.article)}{also_in_line(answer)}\n"
        f"{confidence_line(answer)}"
    )


def confidence_line(answer: Answer) -> str:
    """How sure the answer is, in the core's word for its score."""
    return f"{_CONFIDENCE_MARK[answer.confidence]} <i>Confidence: {answer.confidence}</i>"


def also_in_line(answer: Answer) -> str:
    """The other copies of the answer's story, title and date, on one line (empty when none)."""
    if not answer.also_in:
        return ""
    copies = [
        f"{escape(a.title or a.source)} ({escape(format_date(a.published))})"
        if a.published
        else escape(a.title)
        for a in answer.also_in
    ]
    return "\n↪ also in: " + "; ".join(copies)


def format_answers(numbered: list[tuple[int, Answer]]) -> str:
    """Several numbered answers in one message."""
    return "\n\n".join(format_answer(answer, number) for number, answer in numbered)


def format_source(answer: Answer, number: int | None = None) -> str:
    """The full passage behind an answer, its sentence in bold, with the article's details."""
    start = answer.passage_offset
    end = start + len(answer.text)
    passage = answer.passage
    if passage[start:end] == answer.text:
        body = f"{escape(passage[:start])}<b>{escape(answer.text)}</b>{escape(passage[end:])}"
    else:
        body = escape(passage)
    heading = f"Source of answer {number}" if number is not None else "Source"
    return f"<b>{heading}</b>\n{source_line(answer.article)}\n\n{body}"


def source_line(article: ArticleMeta) -> str:
    """Title, date, source and link of an article."""
    parts = [article_line(article)]
    if article.source:
        parts.append(escape(article.source))
    line = " · ".join(parts)
    if article.url:
        line += f'\n<a href="{escape(article.url)}">{escape(article.url)}</a>'
    return line


def format_sources(articles: list[ArticleMeta]) -> str:
    """A numbered list of distinct articles."""
    seen: dict[str, ArticleMeta] = {}
    for article in articles:
        seen.setdefault(article.id, article)
    lines = [f"{n}. {source_line(a)}" for n, a in enumerate(seen.values(), start=1)]
    return "<b>Sources of the last answer</b>\n" + "\n".join(lines)


def _utf16_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _inside_markup(text: str, pos: int) -> bool:
    """True when cutting ``text`` at ``pos`` would break a tag or an entity."""
    if text.rfind("<", 0, pos) > text.rfind(">", 0, pos):
        return True
    amp = text.rfind("&", max(0, pos - 10), pos)
    return amp >= 0 and ";" not in text[amp:pos]


def _cut_point(text: str, budget: int) -> int:
    """Where to end a part of at most ``budget`` characters: a sentence end, else a space."""
    window = text[: budget + 1]
    for pattern in (_SENTENCE_BREAK, _SPACE):
        cuts = [m.end() for m in pattern.finditer(window) if 0 < m.end() <= budget]
        cuts = [c for c in cuts if not _inside_markup(text, c)]
        if cuts:
            return cuts[-1]
    cut = budget
    while cut > 1 and _inside_markup(text, cut):
        cut -= 1
    return cut if cut > 1 else budget


def _open_tags(text: str) -> list[tuple[str, str]]:
    """Tags opened and not closed in ``text``, outermost first, as (name, opening tag)."""
    stack: list[tuple[str, str]] = []
    for match in _TAG.finditer(text):
        closing, name = match.group(1) == "/", match.group(2).lower()
        if not closing:
            stack.append((name, match.group(0)))
        elif stack and stack[-1][0] == name:
            stack.pop()
    return stack


def split_message(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split Telegram HTML into parts of at most ``limit`` characters, at sentence ends if possible.

    Tags open at a cut are closed at the end of the part and reopened at the start of the next.
    """
    parts: list[str] = []
    reopen = ""
    rest = text
    while rest:
        if _utf16_length(reopen + rest) <= limit:
            parts.append(reopen + rest)
            break
        budget = limit - _utf16_length(reopen) - _TAG_RESERVE
        while True:
            cut = _cut_point(rest, max(budget, 1))
            head = reopen + rest[:cut].rstrip()
            tags = _open_tags(head)
            part = head + "".join(f"</{name}>" for name, _ in reversed(tags))
            if _utf16_length(part) <= limit or budget <= 1:
                break
            budget -= _utf16_length(part) - limit  # astral characters count twice
        parts.append(part)
        reopen = "".join(tag for _, tag in tags)
        rest = rest[cut:].lstrip()
    return [p for p in parts if _TAG.sub("", p).strip()]


def format_push(question: str, answer: Answer) -> str:
    """A watch's new answer: the usual answer, headed by the question watched."""
    return f"🔔 <b>New answer to:</b> {escape(question)}\n\n{format_answer(answer)}"


def format_inline(answer: Answer, limit: int = TELEGRAM_LIMIT) -> str:
    """The message an inline result sends, one message of at most ``limit`` characters: the usual
    answer with its source, the other copies counted instead of listed when they would not fit (a
    headline of thousands of characters is still cut, as a long message is)."""
    text = _inline(answer, also_in_line(answer))
    if answer.also_in and _utf16_length(text) > limit:
        count = len(answer.also_in)
        text = _inline(answer, f"\n↪ also in {count} other {'copy' if count == 1 else 'copies'}")
    return text if _utf16_length(text) <= limit else split_message(text, limit)[0]


def _inline(answer: Answer, also_in: str) -> str:
    return f"{excerpt(answer)}\n\n{source_line(answer.article)}{also_in}\n{confidence_line(answer)}"


def format_watches(watches: list[Watch], limit: int) -> str:
    """A chat's watches, numbered as /unwatch takes them."""
    if not watches:
        return "You watch no questions. /watch &lt;question&gt; tells you when a new article answers one."
    lines = [f"{n}. {escape(w.question)}" for n, w in enumerate(watches, start=1)]
    return f"<b>Your watches</b> ({len(watches)} of {limit})\n" + "\n".join(lines)
