"""The exact answer inside a sentence: what the question asks for (a date, a number, a name...)."""

from __future__ import annotations

import re
from typing import Literal

AnswerType = Literal["date", "number", "person", "place", "entity"]

_MONTH = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
_DATE = re.compile(
    rf"\b(?:{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?"
    rf"|{_MONTH}\s+\d{{4}}|(?:early|mid|late)[- ]\d{{4}}s?|\d{{4}}s|\d{{4}}-\d{{2}}-\d{{2}}"
    rf"|(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)|(?:1[0-9]|20)\d{{2}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)\s+century)\b"
)
_NOT_UNIT = r"(?!(?:of|the|and|in|to|a|an|on|at|for|from|by|with|was|were|is|are|had|has)\b)"
_NUMBER = re.compile(
    r"(?:[$€£¥]\s?)?\b\d[\d,]*(?:\.\d+)?(?:\s?%|\s?percent\b|\s?per cent\b"
    r"|(?:\s+(?:million|billion|trillion|thousand|hundred)\b)?(?:\s+" + _NOT_UNIT + r"[a-z]+\b)?)"
    r"|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"sixty|seventy|eighty|ninety|hundreds?|thousands?|dozens?|several)\b(?:\s+" + _NOT_UNIT + r"[a-z]+\b)?",
    re.IGNORECASE,
)
_NAME = re.compile(
    r"\b(?:[A-Z][\w’'-]*\.?)(?:\s+(?:of|de|the|and|for|von|van|al|bin|-)?\s*[A-Z][\w’'-]*)*(?:\s+(?:\d+))?"
)
_QUESTION_TYPES: list[tuple[re.Pattern[str], AnswerType]] = [
    (re.compile(r"\b(when|what (year|date|day|month|time|century|decade)|which (year|date|day|month|century)|how long ago)\b", re.I), "date"),
    (re.compile(r"\b(how (many|much|long|old|far|big|large|tall|high|often)|what (percentage|percent|number|amount|proportion|share|population)|how much)\b", re.I), "number"),
    (re.compile(r"\b(who|whom|whose|which (person|man|woman|president|leader|company|organi[sz]ation|group|country supplies))\b", re.I), "person"),
    (re.compile(r"\b(where|what (country|city|town|region|state|place|continent)|which (country|city|town|region|state|place))\b", re.I), "place"),
    (re.compile(r"\b(what|which) (is the name|was the name|name|company|organi[sz]ation|team|party|agency|newspaper|outlet|language)\b", re.I), "entity"),
]


def question_type(question: str) -> AnswerType | None:
    """The kind of answer the question asks for, or None when it is open (why, how, what...)."""
    for pattern, kind in _QUESTION_TYPES:
        if pattern.search(question):
            return kind
    return None


def candidate_spans(sentence: str, kind: AnswerType) -> list[tuple[int, int]]:
    """Spans in ``sentence`` that could be an answer of the given kind."""
    if kind == "date":
        return [m.span() for m in _DATE.finditer(sentence)]
    if kind == "number":
        spans = [m.span() for m in _NUMBER.finditer(sentence)]
        dates = [m.span() for m in _DATE.finditer(sentence)]
        return [s for s in spans if not any(d[0] <= s[0] and s[1] <= d[1] and "-" not in sentence[s[0]:s[1]] for d in dates if _is_year(sentence, d))]
    spans = []
    for match in _NAME.finditer(sentence):
        start, end = match.span()
        text = sentence[start:end].rstrip(".")
        end = start + len(text)
        if start == 0 and " " not in text and text.lower() in _SENTENCE_STARTERS:
            continue
        if _DATE.fullmatch(text):
            continue
        spans.append((start, end))
    return spans


_SENTENCE_STARTERS = frozenset("the a an this that these those it he she they we i in on at as if but and or so".split())


def _is_year(sentence: str, span: tuple[int, int]) -> bool:
    return bool(re.fullmatch(r"(?:1[0-9]|20)\d{2}", sentence[span[0]:span[1]]))


def _overlaps_question(span_text: str, question_words: set[str]) -> bool:
    """True when most of the span's words are already in the question (it names, not answers)."""
    tokens = [t.lower().strip("’'") for t in re.findall(r"[\w’'-]+", span_text)]
    known = sum(1 for t in tokens if t in question_words or t.rstrip("is").rstrip("n") in question_words)
    return bool(tokens) and known * 2 >= len(tokens)


def _head(span_text: str, kind: AnswerType) -> str:
    """The part of a span that must be new: a number's figure, a name's words."""
    return span_text.split()[0] if kind in ("number", "date") and span_text.split() else span_text


def find_span(question: str, sentence: str, kind: AnswerType | None = None) -> tuple[int, int] | None:
    """The answer span inside ``sentence``: a candidate of the asked-for kind that the question does
    not already name, nearest to where the question's words occur; None when nothing fits."""
    kind = kind or question_type(question)
    if kind is None:
        return None
    question_words = {w.lower() for w in re.findall(r"[\w’'-]+", question)}
    spans = [
        s for s in candidate_spans(sentence, kind)
        if not _overlaps_question(_head(sentence[s[0] : s[1]], kind), question_words)
    ]
    if not spans:
        return None
    anchors = [m.start() for m in re.finditer(r"[\w’'-]+", sentence) if m.group(0).lower() in question_words and len(m.group(0)) > 3]
    if not anchors:
        return spans[0]
    return min(spans, key=lambda s: min(abs(s[0] - a) for a in anchors))
