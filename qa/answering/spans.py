"""The exact answer inside a sentence: what the question asks for (a date, a number, a name...)."""

from __future__ import annotations

import re
from typing import Literal

from qa.text import STOPWORDS

AnswerType = Literal["date", "number", "person", "place", "entity"]

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
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
    (
        re.compile(
            r"\b(when|what (year|date|day|month|time|century|decade)|which (year|date|day|month"
            r"|century)|how long ago)\b",
            re.I,
        ),
        "date",
    ),
    (
        re.compile(
            r"\b(how (many|much|long|old|far|big|large|tall|high|often)|what (percentage|percent"
            r"|number|amount|proportion|share|population)|how much)\b",
            re.I,
        ),
        "number",
    ),
    (
        re.compile(
            r"\b(who|whom|whose|which (person|man|woman|president|leader|company|organi[sz]ation"
            r"|group))\b",
            re.I,
        ),
        "person",
    ),
    (
        re.compile(
            r"\b(where|what (country|city|town|region|state|place|continent)|which (country|city"
            r"|town|region|state|place))\b",
            re.I,
        ),
        "place",
    ),
    (
        re.compile(
            r"\b(what|which) (is the name|was the name|name|company|organi[sz]ation|team|party"
            r"|agency|newspaper|outlet|language)\b",
            re.I,
        ),
        "entity",
    ),
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
        return [
            s
            for s in spans
            if not any(
                d[0] <= s[0] and s[1] <= d[1] and "-" not in sentence[s[0] : s[1]]
                for d in dates
                if _is_year(sentence, d)
            )
        ]
    spans = []
    for match in _NAME.finditer(sentence):
        start, end = match.span()
        end = start + len(sentence[start:end].rstrip("."))
        if _at_sentence_start(sentence, start):
            start = _skip_common_word(sentence, start, end)
        text = sentence[start:end]
        if not text or _DATE.fullmatch(text):
            continue
        spans.append((start, end))
    return spans


# "Who is the president...": the answer is a person. ("Who sells them?" may well be a country.)
_ROLE = re.compile(
    r"\bwho(?:'s| is| was| are| were| will be| has been)\s+(?:the\s+|a\s+|an\s+)?(?:\w+\s+){0,2}?"
    r"(?:president|prime minister|premier|chancellor|leader|king|queen|prince|princess|emperor|pope"
    r"|minister|secretary|spokes(?:man|woman|person)|advis[eo]r|ambassador|governor|mayor|senator"
    r"|ceo|chief|chair(?:man|woman|person)?|founder|owner|director|head|commander|general|author"
    r"|writer|editor|coach|captain|manager|judge|father|mother|wife|husband|son|daughter)s?\b",
    re.IGNORECASE,
)

# Countries (and their people), so that a name can be told to be a place: a "who" question is not
# answered by "Peru", a "where" question is. Short official forms as news writes them.
_COUNTRIES = frozenset(
    """afghanistan albania algeria andorra angola argentina armenia australia austria azerbaijan bahamas
    bahrain bangladesh barbados belarus belgium belize benin bhutan bolivia bosnia botswana brazil brunei
    bulgaria burkina burundi cambodia cameroon canada chad chile china colombia comoros congo croatia
    cuba cyprus czechia denmark djibouti dominica ecuador egypt eritrea estonia eswatini ethiopia fiji
    finland france gabon gambia georgia germany ghana greece grenada guatemala guinea guyana haiti
    honduras hungary iceland india indonesia iran iraq ireland israel italy jamaica japan jordan
    kazakhstan kenya kiribati korea kosovo kuwait kyrgyzstan laos latvia lebanon lesotho liberia libya
    liechtenstein lithuania luxembourg madagascar malawi malaysia maldives mali malta mauritania
    mauritius mexico micronesia moldova monaco mongolia montenegro morocco mozambique myanmar namibia
    nauru nepal netherlands nicaragua niger nigeria norway oman pakistan palau palestine panama paraguay
    peru philippines poland portugal qatar romania russia rwanda samoa senegal serbia seychelles
    singapore slovakia slovenia somalia spain sudan suriname sweden switzerland syria taiwan tajikistan
    tanzania thailand togo tonga tunisia turkey turkmenistan tuvalu uganda ukraine uruguay uzbekistan
    vanuatu vatican venezuela vietnam yemen zambia zimbabwe britain england scotland wales europe asia
    africa america""".split()
)
_MULTIWORD_COUNTRIES = frozenset(
    {"united states", "united kingdom", "soviet union", "south africa", "new zealand", "saudi arabia",
     "north korea", "south korea", "sri lanka", "costa rica", "el salvador", "united arab emirates",
     "czech republic", "ivory coast", "sierra leone", "south sudan", "east timor", "papua new guinea",
     "european union", "great britain", "the united states", "the united kingdom", "the netherlands"}
)  # fmt: skip


def is_country(name: str) -> bool:
    """True for a country, a continent or its people's adjective ("Peru", "Canadian", "the US")."""
    key = " ".join(name.lower().replace("’", "'").split())
    if key in _MULTIWORD_COUNTRIES or key in {"us", "u.s", "u.s.", "uk", "u.k", "eu", "usa"}:
        return True
    if key in _COUNTRIES:
        return True
    # Demonyms: Canadian(s), Iraqi, Turkish, Chinese...
    for suffix in ("ians", "ian", "ans", "an", "is", "i", "ish", "ese"):
        if key.endswith(suffix) and len(key) - len(suffix) >= 3:
            stem = key[: -len(suffix)]
            if any(c.startswith(stem) for c in _COUNTRIES if len(stem) >= 4):
                return True
    return False


# Capitalised only because they open the sentence: never the start of a name ("Right now", "These ...").
_COMMON_STARTERS = STOPWORDS | frozenset(
    """according across additionally afterwards again ago almost already although among another around
    because before besides both currently despite during earlier either eventually even every finally first
    following furthermore here however indeed initially instead last later like meanwhile moreover most
    much nearly never nevertheless new next now often one originally others perhaps previously recently
    right second several since so still subsequently such then there therefore though thus today together
    traditionally unlike usually what whatever when whereas whether while yesterday yet""".split()
)


def _at_sentence_start(sentence: str, start: int) -> bool:
    return not sentence[:start].strip(" \t\n\"'“‘(")


def _skip_common_word(sentence: str, start: int, end: int) -> int:
    """Where a sentence-initial match really starts: past a capitalised common word and joiners."""
    match = re.match(r"[\w’'-]+", sentence[start:end])
    if match is None or match.group(0).lower() not in _COMMON_STARTERS:
        return start
    rest = re.match(
        r"(?:\s+(?:of|de|the|and|for|von|van|al|bin|-)\b)*\s*", sentence[start + match.end() : end]
    )
    return start + match.end() + (rest.end() if rest else 0)


def _is_year(sentence: str, span: tuple[int, int]) -> bool:
    return bool(re.fullmatch(r"(?:1[0-9]|20)\d{2}", sentence[span[0] : span[1]]))


def _overlaps_question(span_text: str, question_words: set[str]) -> bool:
    """True when most of the span's words are already in the question (it names, not answers)."""
    tokens = [t.lower().strip("’'") for t in re.findall(r"[\w’'-]+", span_text)]
    known = sum(1 for t in tokens if t in question_words or t.rstrip("is").rstrip("n") in question_words)
    return bool(tokens) and known * 2 >= len(tokens)


def _head(span_text: str, kind: AnswerType) -> str:
    """The part of a span that must be new: a number's figure, a name's words."""
    return span_text.split(maxsplit=1)[0] if kind in ("number", "date") and span_text.split() else span_text


def find_span(question: str, sentence: str, kind: AnswerType | None = None) -> tuple[int, int] | None:
    """The answer span inside ``sentence``: a candidate of the asked-for kind that the question does
    not already name, nearest to where the question's words occur; None when nothing fits."""
    kind = kind or question_type(question)
    if kind is None:
        return None
    question_words = {w.lower() for w in re.findall(r"[\w’'-]+", question)}
    spans = [
        s
        for s in candidate_spans(sentence, kind)
        if not _overlaps_question(_head(sentence[s[0] : s[1]], kind), question_words)
    ]
    if kind == "person" and _ROLE.search(question):  # a country is not who the president is
        spans = [s for s in spans if not is_country(sentence[s[0] : s[1]])]
    if not spans:
        return None
    long_words = {w for w in question_words if len(w) > 3}
    anchors = [
        m.span()
        for m in re.finditer(r"[\w’'-]+", sentence)
        if len(m.group(0)) > 3 and _related(m.group(0).lower(), long_words)
    ]
    if not anchors:
        return spans[0]

    def closeness(span: tuple[int, int]) -> tuple[int, int]:
        """Question words within a few words of the span (more is better), then the nearest one's gap."""
        gaps = [max(a[0] - span[1], span[0] - a[1], 0) for a in anchors]
        return (-sum(1 for g in gaps if g <= _NEAR), min(gaps))

    return min(spans, key=closeness)


_NEAR = 30  # characters: a name and its apposition ("Jane Doe, the company's chief executive")


def _related(word: str, question_words: set[str]) -> bool:
    """The word is a question word or shares its stem ("Canadian" ~ "canada")."""
    return word in question_words or any(word.startswith(q) or q.startswith(word) for q in question_words)
