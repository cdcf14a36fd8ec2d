"""Text helpers shared by chunking, keyword search and answer picking: sentences, words, stopwords."""

from __future__ import annotations

import itertools
import re
import sys
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from qa.errors import QuestionError

if TYPE_CHECKING:
    from spacy.language import Language

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are aren't as at be because been before
    being below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't
    down during each few for from further had hadn't has hasn't have haven't having he he'd he'll he's her
    here here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its
    itself let's me more most mustn't my myself no nor not of off on once only or other ought our ours
    ourselves out over own same shan't she she'd she'll she's should shouldn't so some such than that
    that's the their theirs them themselves then there there's these they they'd they'll they're they've
    this those through to too under until up very was wasn't we we'd we'll we're we've were weren't what
    what's when when's where where's which while who who's whom why why's with won't would wouldn't you
    you'd you'll you're you've your yours yourself yourselves did does do done many much whose
    tell me please name kind type""".split()
)

_WORD = re.compile(r"\w+(?:['’]\w+)?", re.UNICODE)
_TERMINAL_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")


def clean_question(question: str, limit: int) -> str:
    """The question without escape sequences or control characters, spaces collapsed;
    ``QuestionError`` when nothing is left or it is longer than ``limit`` characters."""
    question = _TERMINAL_ESCAPE.sub(" ", question)  # "\x1b[31m" is colour, not words
    cleaned = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in question).strip()
    if not cleaned:
        raise QuestionError("the question is empty")
    if len(cleaned) > limit:
        raise QuestionError(f"the question is too long ({len(cleaned)} characters; the limit is {limit})")
    return " ".join(cleaned.split())


def normalize(text: str) -> str:
    """NFC-normalize and fold typographic apostrophes."""
    return unicodedata.normalize("NFC", text).replace("’", "'")


def words(text: str) -> list[str]:
    """Word tokens, in order, as they appear."""
    return _WORD.findall(normalize(text))


def content_words(text: str) -> list[str]:
    """Words that are not stopwords, in order, without repeats (case-insensitive)."""
    seen: set[str] = set()
    out: list[str] = []
    for word in words(text):
        low = word.lower()
        if low in STOPWORDS or low in seen:
            continue
        seen.add(low)
        out.append(word)
    return out


@lru_cache(maxsize=1)
def sentence_splitter() -> Language:
    """spaCy's tokenizer with its rule-based sentencizer: fast, and abbreviation-aware.

    spaCy's thinc imports torch whenever it is installed, for neural models this never runs; torch
    is hidden from it while spaCy loads (unless something loaded torch already), which spares indexing
    a second and about 300 MB (docs/bench.md)."""
    with _hidden("torch"):
        import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.max_length = 50_000_000
    return nlp


@contextmanager
def _hidden(module: str) -> Iterator[None]:
    """``import module`` fails (ImportError) inside the block, unless it is loaded already."""
    if module in sys.modules:
        yield
        return
    sys.modules[module] = None  # type: ignore[assignment]  # the import system's "not importable"
    try:
        yield
    finally:
        if sys.modules.get(module, "") is None:
            del sys.modules[module]


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character offsets ``(start, end)`` of the sentences of ``text``, whitespace trimmed."""
    return split_sentences_many([text])[0]


_PARAGRAPH = re.compile(r"\S(?:.*?\S)?(?=\s*\n\s*\n|\s*\Z)", re.DOTALL)


def paragraphs(text: str) -> list[tuple[int, int]]:
    """Offsets of the blank-line separated paragraphs of ``text``, whitespace trimmed."""
    return [(m.start(), m.end()) for m in _PARAGRAPH.finditer(text)]


# A line that starts a list item: a bullet, a dash or a number with "." or ")", then a space.
_LIST_ITEM = re.compile(r"\n(?=[ \t]*(?:[-*•‣◦▪–—·]|\d{1,3}[.)])[ \t]+\S)")
# What the sentencizer leaves at a sentence's end that opens the next one: after the final
# punctuation (and any closing quotes or brackets glued to it), a space, then only punctuation
# such as an opening quote or bracket ("... said. \"[Nobody]").
_OPENER_AT_END = re.compile(r"[.!?…][\"'”’»)\]]*(\s+)[^\w\s”’»)\]][^\w\s]*\Z")
# Closing quotes or brackets that start a sentence belong to the one before ("It is over. ” Then").
_CLOSER_AT_START = re.compile(r"\A[\"'”’»)\]]+(?=\s|\Z)")
_MARKER_ONLY = re.compile(r"\A(?:[-*•‣◦▪–—·]|\d{1,3}[.)])\Z")


def blocks_of(text: str) -> list[tuple[int, int]]:
    """Offsets of the parts no sentence crosses: paragraphs, and each list item inside one."""
    out: list[tuple[int, int]] = []
    for start, end in paragraphs(text):
        cuts = [start] + [start + m.start() for m in _LIST_ITEM.finditer(text, start, end)] + [end]
        for a, b in itertools.pairwise(cuts):
            piece = text[a:b]
            lead = len(piece) - len(piece.lstrip())
            if piece.strip():
                out.append((a + lead, a + len(piece.rstrip())))
    return out


def mend_boundaries(text: str, sentences: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sentence offsets with quotes and brackets on the side of the sentence they belong to.

    An opening quote or bracket left at a sentence's end moves to the next sentence, a closing one
    at a sentence's start moves to the previous, and a lone list marker joins its item.
    """
    spans = [list(s) for s in sentences]
    for i in range(len(spans) - 1):
        start, end = spans[i]
        opener = _OPENER_AT_END.search(text, start, end)
        if opener is not None:
            spans[i][1] = opener.start(1)
            spans[i + 1][0] = opener.end(1)
    for i in range(1, len(spans)):
        start, end = spans[i]
        closer = _CLOSER_AT_START.match(text, start, end)
        if closer is not None:
            spans[i - 1][1] = closer.end()
            rest = text[closer.end() : end]
            spans[i][0] = closer.end() + len(rest) - len(rest.lstrip())
    merged: list[list[int]] = []
    for span in spans:
        if span[1] <= span[0]:
            continue
        if merged and _MARKER_ONLY.match(text[merged[-1][0] : merged[-1][1]]):
            merged[-1][1] = span[1]
        else:
            merged.append(span)
    return [(a, b) for a, b in merged]


def split_sentences_many(texts: list[str]) -> list[list[tuple[int, int]]]:
    """Sentence offsets for many texts at once; a paragraph break or a list item starts a sentence."""
    blocks: list[tuple[int, int, int]] = []  # (text index, start, end)
    for index, text in enumerate(texts):
        blocks.extend((index, start, end) for start, end in blocks_of(text))
    result: list[list[tuple[int, int]]] = [[] for _ in texts]
    pieces = (texts[i][s:e] for i, s, e in blocks)
    for (index, offset, _), doc in zip(blocks, sentence_splitter().pipe(pieces, batch_size=256), strict=True):
        found: list[tuple[int, int]] = []
        for sent in doc.sents:
            raw = sent.text
            stripped = raw.strip()
            if stripped:
                start = offset + sent.start_char + (len(raw) - len(raw.lstrip()))
                found.append((start, start + len(stripped)))
        result[index].extend(mend_boundaries(texts[index], found) if len(found) > 1 else found)
    return result


@lru_cache(maxsize=1)
def stemmer() -> Any:
    """The Porter stemmer (PyStemmer), as SQLite's FTS5 ``porter`` tokenizer stems."""
    import Stemmer

    return Stemmer.Stemmer("porter")


def stem_terms(text: str) -> list[str]:
    """Lower-cased Porter stems of the content words, each once, in order of appearance."""
    terms = [w.lower() for w in words(text) if w.lower() not in STOPWORDS]
    stems: list[str] = stemmer().stemWords(terms)
    return list(dict.fromkeys(stems))


_POSSESSIVE = re.compile(r"['’]s$", re.IGNORECASE)


def name_terms(text: str) -> list[str]:
    """Stems of the names a question gives: its words written with a capital, other than the first
    word and single letters, a possessive ``'s`` dropped; none when the whole text is in capitals."""
    if text.upper() == text:
        return []
    tokens = [_POSSESSIVE.sub("", w) for w in words(text)[1:]]
    return stem_terms(" ".join(w for w in tokens if len(w) > 1 and w[0].isupper()))
