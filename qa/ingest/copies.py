"""Duplicate stories: MinHash over word shingles finds re-published copies of an article at index time.

Each article's signature (datasketch ``MinHash``) and its LSH band keys live in the index database
(``qa.store.signatures``), written in the same transaction as the article. An article whose
estimated Jaccard similarity to an earlier one is at least ``THRESHOLD`` records that article's
original as ``duplicate_of``; the first copy indexed is the original. Answers then cite one copy
and list the others that state the same sentence, figures included (``also_in``).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import numpy.typing as npt

from qa.models import Answer, ArticleMeta, Passage

if TYPE_CHECKING:
    from qa.store import Store

logger = logging.getLogger(__name__)

SHINGLE_WORDS = 5  # words per shingle
PERMUTATIONS = 128
BANDS, ROWS = 32, 4  # LSH bands of hash values: a pair at Jaccard 0.6 shares a band 98.8% of the time
# Estimated Jaccard of the shingle sets from which two articles are one story. `python -m
# bench.duplicates`: copies with a wire header and footer, light edits and a trimmed end score
# 0.38-0.81 (97% >= 0.6; 2% >= 0.8), distinct stories on one topic at most 0.08.
THRESHOLD = 0.6
SAME_SENTENCE = 0.8  # word-set Jaccard from which two answer sentences of one story are the same
SEED = 13

_WORD = re.compile(r"\w+", re.UNICODE)
_FIGURE = re.compile(r"\d+(?:[.,]\d+)*")
_FIGURE_OR_WORD = re.compile(rf"{_FIGURE.pattern}|\w+", re.UNICODE)
Signature = npt.NDArray[np.uint32]
Item = TypeVar("Item", Answer, Passage)


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    """The text's runs of ``size`` consecutive words, lower-cased (the whole text when shorter)."""
    words = _WORD.findall(text.lower())
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def signature(text: str) -> Signature:
    """The MinHash signature of a text's word shingles."""
    # Imported here: datasketch pulls in scipy (about 1 s), which only indexing needs, not every `qa`.
    from datasketch import MinHash

    minhash = MinHash(num_perm=PERMUTATIONS, seed=SEED)
    minhash.update_batch([s.encode("utf-8") for s in shingles(text)])
    return np.asarray(minhash.hashvalues, dtype=np.uint32)


def similarity(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity of the shingle sets behind two signatures."""
    return float(np.mean(a == b))


def band_keys(sig: Signature) -> list[int]:
    """One 63-bit key per LSH band: articles sharing a key are compared."""
    return [
        int.from_bytes(hashlib.blake2b(sig[b * ROWS : (b + 1) * ROWS].tobytes(), digest_size=8).digest()) >> 1
        for b in range(BANDS)
    ]


def _words(text: str) -> frozenset[str]:
    """A sentence's words, lower-cased, and its figures whole ("287,700" one word, as "287700")."""
    return frozenset(w.replace(",", "") for w in _FIGURE_OR_WORD.findall(text.lower()))


def _figures(text: str) -> frozenset[str]:
    """The numbers a text gives, written without thousands separators ("2,000" and "2000" alike)."""
    return frozenset(m.group().replace(",", "") for m in _FIGURE.finditer(text))


def _same(a: frozenset[str], b: frozenset[str]) -> bool:
    return a == b or len(a & b) >= SAME_SENTENCE * len(a | b)


Said = tuple[frozenset[str], frozenset[str]]  # a text's words (``_words``) and figures (``_figures``)


def _said(text: str) -> Said:
    return _words(text), _figures(text)


def _states(sentence: Said, text: Said) -> bool:
    (words, figures), (text_words, text_figures) = sentence, text
    return figures <= text_figures and len(words & text_words) >= SAME_SENTENCE * len(words)


def states(sentence: str, text: str) -> bool:
    """``text`` states ``sentence``: every figure of it and nearly all of its words."""
    return _states(_said(sentence), _said(text))


def one_per_copy(items: Sequence[Item], roots: dict[str, str]) -> list[Item]:
    """Items (answers or passages) without the later ones that repeat an earlier one from another
    copy of the same story (the same text give or take a few words); one article's own similar
    sentences all stay. Sentences with other figures are not repeats (a weekly report's "287,700
    tonnes in the week ended April 2" is not last week's "106,200 tonnes ... March 26")."""
    kept: list[Item] = []
    seen: list[tuple[str, str, frozenset[str], frozenset[str]]] = []
    for item in items:
        article = item.article.id
        root = roots.get(article, article)
        words, figures = _said(item.text)
        if any(root == r and article != a and figures == f and _same(words, w) for r, a, w, f in seen):
            continue
        seen.append((root, article, words, figures))
        kept.append(item)
    return kept


def with_copies(
    answers: Sequence[Answer],
    roots: dict[str, str],
    stories: dict[str, list[ArticleMeta]],
    text_of: Callable[[str], str],
) -> list[Answer]:
    """Answers, one per sentence of a story, each listing as ``also_in`` the story's other copies that
    state its sentence (``text_of``: an article's text, asked once per copy). Copies are found over
    whole articles, so two issues of a templated report (the same words, other figures) can be one
    story; the one that does not state the answer's figures is not cited for them."""
    copies: dict[str, Said] = {}  # each copy's text read into words and figures once, for every answer

    def copy_said(article_id: str) -> Said:
        if article_id not in copies:
            copies[article_id] = _said(text_of(article_id))
        return copies[article_id]

    out = []
    for answer in one_per_copy(answers, roots):
        story = stories.get(roots.get(answer.article.id, answer.article.id), [])
        said = _said(answer.text)
        others = tuple(a for a in story if a.id != answer.article.id and _states(said, copy_said(a.id)))
        out.append(replace(answer, also_in=others) if others else answer)
    return out


def one_per_story(store: Store, answers: list[Answer]) -> list[Answer]:
    """Answers without repeats from copies of one story, each naming the other copies that state it."""
    with store.snapshot() as snap:
        roots = snap.originals([a.article.id for a in answers])
        stories = snap.copies(list(roots.values()))

    def text_of(article_id: str) -> str:
        found = store.document(article_id)
        return "" if found is None else found[1]

    return with_copies(answers, roots, stories, text_of)
