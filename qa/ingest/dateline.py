"""Wire datelines ("LONDON, June 1 -", "WASHINGTON (Reuters) -"): the story's place, read off its text.

A dateline is a short run of capitalised place words (a city, then up to two regions: "CINCINNATI,
Ohio"), an optional date ("June 1", "MARCH 19, 1987"), an optional news agency in parentheses, then
a dash. The rules are general (no list of places); where they are unsure they find nothing, since
eating an ordinary first sentence is worse than leaving a dateline in the text.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from qa.models import Article

MAX_DATELINE = 80  # characters before the dash
MAX_PLACE_WORDS = 4  # words in each comma-separated part of the place
MAX_PLACE_PARTS = 3  # a city and up to two regions ("SPRINGFIELD, Ill., USA")

# The first dash: a hyphen (or two) between spaces, or an en or em dash spaced on one side at least
# ("COVID\u201319" is a word, not a dateline).
_DASH = re.compile(r"\s+-{1,2}\s+|\s+[\u2013\u2014]\s*|\s*[\u2013\u2014]\s+")
_AGENCY = re.compile(r"\s*\(\s*([^\W\d_][\w.&' ]{0,29}?)\s*\)\s*$")
_MONTH = (
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)\.?|january|february|march|april|"
    r"june|july|august|september|october|november|december"
)
_DATE = re.compile(rf"^(?:(?:{_MONTH})\s+\d{{1,2}}|\d{{1,2}}\s+(?:{_MONTH}))$", re.IGNORECASE)
_TRAILING_DATE = re.compile(rf"\s+((?:{_MONTH})\s+\d{{1,2}})$", re.IGNORECASE)
_YEAR = re.compile(r"^\d{4}$")
# A place word: letters with inner dots, apostrophes and hyphens ("ST.", "N.Y.", "WINSTON-SALEM").
_WORD = re.compile(r"^[^\W\d_][^\W\d_.'\u2019-]*(?:[.'\u2019-][^\W\d_]*)*\.?$")
_WEEKDAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
# Lower-case words inside a place name ("Rio de Janeiro", "Frankfurt am Main").
_PARTICLES = frozenset(
    "de da do dos das del della di du la le les el al am an der den von van y sur upon on".split()
)
# Capitalised words that open ordinary sentences, never a place: "On Tuesday, March 3 - ...".
_OPENERS = frozenset(
    "a an the on in at by for from to of and but or as since until before after last this "
    "next yesterday today tomorrow i we he she they it you our my his her their its when "
    "while then".split()
)
# Wire labels that open a text in capitals before a dash without being a place.
_LABELS = frozenset(
    "breaking update updated exclusive factbox analysis wrapup corrected correction refile "
    "urgent flash alert newsalert note editors warning advisory opinion comment review "
    "interview preview feature insight timeline highlights live watch video photos graphic "
    "poll sport sports business world news latest rpt repeat end ok".split()
)


@dataclass(frozen=True, slots=True)
class Dateline:
    """A dateline found at the start of a text: its place and where the story itself starts."""

    place: str  # as written: "LONDON", "CINCINNATI, Ohio"
    end: int  # the offset of the story's first character after the dash


def find_dateline(text: str) -> Dateline | None:
    """The dateline that opens ``text``, or None when its opening is not surely one."""
    start = len(text) - len(text.lstrip())
    dash = _DASH.search(text, start, start + MAX_DATELINE + 4)
    if dash is None or "\n" in text[start : dash.start()]:
        return None
    rest = text[dash.end() :]
    head = text[start : dash.start()]
    agency = _AGENCY.search(head)
    if agency:
        head = head[: agency.start()]
    parts = [p.strip() for p in head.split(",")]
    if undivided := _TRAILING_DATE.search(parts[-1]):  # "JOHANNESBURG March 13": no comma before it
        parts[-1:] = [parts[-1][: undivided.start()], undivided.group(1)]
    dated = False
    if parts and _YEAR.match(parts[-1]):
        parts.pop()
        if not parts or not _DATE.match(parts[-1]):
            return None
    if parts and _DATE.match(parts[-1]):
        parts.pop()
        dated = True
    place = _place(parts, dated=dated)
    if place is None or not rest.strip():
        return None
    if not dated and not _starts_sentence(rest):
        return None
    return Dateline(place=place, end=dash.end())


def _place(parts: list[str], *, dated: bool) -> str | None:
    """The place named by ``parts`` when they are one: capitals, or Title Case before a date."""
    if not 1 <= len(parts) <= MAX_PLACE_PARTS or not all(_is_place_part(p) for p in parts):
        return None
    first = parts[0].split()
    if first[0].lower() in _LABELS:
        return None
    if all(_upper(w) for w in first):
        return ", ".join(parts) if sum(ch.isalpha() for ch in parts[0]) >= 3 else None
    # Title Case ("Caracas, March 6 -") only with a date: without one it reads like a sentence.
    if not dated or first[0].lower() in _OPENERS:
        return None
    return ", ".join(parts)


def _is_place_part(part: str) -> bool:
    """True for one to ``MAX_PLACE_WORDS`` capitalised words (particles inside allowed)."""
    words = part.split()
    if not 1 <= len(words) <= MAX_PLACE_WORDS or not all(_WORD.match(w) for w in words):
        return False
    if not (words[0][0].isupper() and words[-1][0].isupper()):
        return False
    for word in words:
        folded = word.lower().rstrip(".")
        if folded in _WEEKDAYS or _DATE.match(f"{folded} 1"):
            return False  # "Tuesday", "March": a time, not a place
        if not word[0].isupper() and folded not in _PARTICLES:
            return False
    return True


def _upper(word: str) -> bool:
    """True for a word in capitals ("LONDON", "N.Y.", "ST.")."""
    letters = [ch for ch in word if ch.isalpha()]
    return bool(letters) and all(ch.isupper() for ch in letters)


def _starts_sentence(text: str) -> bool:
    """True when ``text`` opens like a story: a capital, a figure, a quote or a bracket."""
    first = text.lstrip()[:1]
    return first.isupper() or first.isdigit() or first in "\"'\u201c\u2018<(["


def with_place(article: Article) -> Article:
    """The article with its dateline taken off its text and kept as its place (unchanged without one)."""
    found = find_dateline(article.text)
    if found is None:
        return article
    return dataclasses.replace(article, text=article.text[found.end :], place=found.place)
