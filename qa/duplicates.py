"""Duplicate stories: MinHash over word shingles finds re-published copies of an article at index time.

Each article's signature (datasketch ``MinHash``) and its LSH band keys live in the index database,
written in the same transaction as the article. An article whose estimated Jaccard similarity to
an earlier one is at least ``THRESHOLD`` records that article's original as ``duplicate_of``; the
first copy indexed is the original. Answers then cite one copy and list the others (``also_in``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from datasketch import MinHash

from qa.models import Answer, ArticleMeta, Passage

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

SCHEMA = """
CREATE TABLE IF NOT EXISTS article_minhash (
    article_id TEXT PRIMARY KEY, signature BLOB NOT NULL, duplicate_of TEXT);
CREATE INDEX IF NOT EXISTS article_minhash_duplicate ON article_minhash(duplicate_of);
CREATE TABLE IF NOT EXISTS article_bands (
    band INTEGER NOT NULL, key INTEGER NOT NULL, article_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS article_bands_key ON article_bands(band, key);
CREATE INDEX IF NOT EXISTS article_bands_article ON article_bands(article_id);
"""
_WORD = re.compile(r"\w+", re.UNICODE)
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


def record(conn: sqlite3.Connection, article_id: str, text: str) -> str | None:
    """Store an article's signature; returns the original it duplicates, if any."""
    sig = signature(text)
    keys = band_keys(sig)
    candidates: set[str] = set()
    for band, key in enumerate(keys):
        rows = conn.execute("SELECT article_id FROM article_bands WHERE band = ? AND key = ?", (band, key))
        candidates.update(str(r[0]) for r in rows)
    candidates.discard(article_id)
    best, best_score = None, THRESHOLD
    for other in sorted(candidates):
        row = conn.execute(
            "SELECT signature, coalesce(duplicate_of, article_id) FROM article_minhash WHERE article_id = ?",
            (other,),
        ).fetchone()
        score = similarity(sig, np.frombuffer(row[0], dtype=np.uint32))
        if score >= best_score:
            best, best_score = str(row[1]), score
    conn.execute(
        "INSERT OR REPLACE INTO article_minhash(article_id, signature, duplicate_of) VALUES (?, ?, ?)",
        (article_id, sig.tobytes(), best),
    )
    conn.executemany(
        "INSERT INTO article_bands(band, key, article_id) VALUES (?, ?, ?)",
        [(band, key, article_id) for band, key in enumerate(keys)],
    )
    if best is not None:
        logger.info("article %s duplicates %s (estimated Jaccard %.2f)", article_id, best, best_score)
    return best


def forget(conn: sqlite3.Connection, article_id: str) -> None:
    """Drop an article's signature; its oldest copy becomes the original of the others."""
    conn.execute("DELETE FROM article_minhash WHERE article_id = ?", (article_id,))
    conn.execute("DELETE FROM article_bands WHERE article_id = ?", (article_id,))
    heir = conn.execute(
        "SELECT article_id FROM article_minhash WHERE duplicate_of = ? ORDER BY rowid LIMIT 1", (article_id,)
    ).fetchone()
    if heir is not None:
        conn.execute("UPDATE article_minhash SET duplicate_of = NULL WHERE article_id = ?", (heir[0],))
        conn.execute(
            "UPDATE article_minhash SET duplicate_of = ? WHERE duplicate_of = ?", (heir[0], article_id)
        )


def backfill(conn: sqlite3.Connection) -> bool:
    """Sign the articles of an index written before signatures were kept (once, oldest first);
    True when that changed the index."""
    if conn.execute("SELECT 1 FROM meta WHERE key = 'minhash'").fetchone() is not None:
        return False
    rows = conn.execute(
        "SELECT id, text FROM articles WHERE id NOT IN (SELECT article_id FROM article_minhash) "
        "ORDER BY added, id"
    ).fetchall()
    if rows:
        logger.info("finding duplicate stories among %d indexed articles", len(rows))
    for article_id, text in rows:
        record(conn, str(article_id), str(text))
    conn.execute("INSERT INTO meta(key, value) VALUES ('minhash', '1')")
    return True


def originals(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, str]:
    """Article id → the id of its story's original (itself when it is one or has no signature)."""
    unique = list(dict.fromkeys(ids))
    found = {i: i for i in unique}
    if unique:
        marks = ",".join("?" * len(unique))
        rows = conn.execute(
            f"SELECT article_id, duplicate_of FROM article_minhash "
            f"WHERE article_id IN ({marks}) AND duplicate_of IS NOT NULL",
            unique,
        )
        found.update({str(a): str(d) for a, d in rows})
    return found


def copies(conn: sqlite3.Connection, roots: Sequence[str]) -> dict[str, list[ArticleMeta]]:
    """Every copy of each story (original first, then in index order), by the original's id."""
    unique = list(dict.fromkeys(roots))
    out: dict[str, list[ArticleMeta]] = {r: [] for r in unique}
    if not unique:
        return out
    marks = ",".join("?" * len(unique))
    rows = conn.execute(
        f"SELECT coalesce(m.duplicate_of, m.article_id), a.id, a.title, a.published, a.source, a.url "
        f"FROM article_minhash m JOIN articles a ON a.id = m.article_id "
        f"WHERE m.article_id IN ({marks}) OR m.duplicate_of IN ({marks}) "
        f"ORDER BY m.duplicate_of IS NOT NULL, m.rowid",
        [*unique, *unique],
    )
    for root, *meta in rows:
        out[str(root)].append(ArticleMeta(*meta))
    return out


def _words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower()))


def _same(a: frozenset[str], b: frozenset[str]) -> bool:
    return a == b or len(a & b) >= SAME_SENTENCE * len(a | b)


def one_per_copy(items: Sequence[Item], roots: dict[str, str]) -> list[Item]:
    """Items (answers or passages) without the later ones that repeat an earlier one from another
    copy of the same story (the same text give or take a few words); one article's own similar
    sentences all stay."""
    kept: list[Item] = []
    seen: list[tuple[str, str, frozenset[str]]] = []
    for item in items:
        article = item.article.id
        root = roots.get(article, article)
        words = _words(item.text)
        if any(root == r and article != a and _same(words, w) for r, a, w in seen):
            continue
        seen.append((root, article, words))
        kept.append(item)
    return kept


def with_copies(
    answers: Sequence[Answer], roots: dict[str, str], stories: dict[str, list[ArticleMeta]]
) -> list[Answer]:
    """Answers, one per sentence of a story, each listing the story's other copies as ``also_in``."""
    out = []
    for answer in one_per_copy(answers, roots):
        story = stories.get(roots.get(answer.article.id, answer.article.id), [])
        others = tuple(a for a in story if a.id != answer.article.id)
        out.append(replace(answer, also_in=others) if others else answer)
    return out
