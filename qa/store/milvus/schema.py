"""The Milvus collections of one archive, their keys, and the text Milvus's BM25 analyses.

Five collections share a prefix (``QA_MILVUS_COLLECTION``, ``qa`` by default):

    <prefix>_chunks     one row per chunk: dense vector, BM25 over client-stemmed terms, the text
    <prefix>_articles   one row per article: metadata, MinHash signature and bands, its original
    <prefix>_texts      the article's full text in pieces (a VARCHAR holds at most 65,535 bytes)
    <prefix>_files      content hash per indexed file
    <prefix>_meta       the embedding model and dimension the archive was built with

Milvus needs a vector field in every collection: the small ones carry a constant 2-d ``unit``.
Primary keys are deterministic (a hash of the article id and position), so two indexers writing
the same article upsert the same rows and it is stored once.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np

from qa.models import TimeWindow, iso_day
from qa.store.milvus.client import create_collection
from qa.store.packing import pack_vectors, unpack_vectors
from qa.store.vectors import Vectors
from qa.text import stemmer

VARCHAR_MAX = 65_535  # bytes
TEXT_PIECE = 16_000  # characters of article text per row (at most 4 bytes each in UTF-8)
UNIT = [1.0, 0.0]  # the constant vector of the small collections
_TOKEN = re.compile(r"\w+", re.UNICODE)


def names(prefix: str) -> dict[str, str]:
    """The collection names of an archive."""
    return {part: f"{prefix}_{part}" for part in ("chunks", "articles", "texts", "files", "meta")}


def key(*parts: str | int) -> int:
    """A deterministic positive 63-bit primary key for a tuple of parts."""
    raw = "\0".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little") >> 1


def lit(value: str) -> str:
    """A Milvus filter string literal (Milvus Lite has no filter templating)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def day(published: str | None) -> int:
    """An ISO date's day number (``date.toordinal``), -1 when undated or unreadable.

    Comparing day numbers with a window's ``since`` and ``until`` days matches the local backend's
    ISO string comparison for every date that starts with ``YYYY-MM-DD``."""
    found = iso_day(published)
    return -1 if found is None else found.toordinal()


def window_filter(window: TimeWindow | None) -> str:
    """A filter on ``day`` holding ``window.contains`` (undated never matches); "" for no window."""
    if window is None:
        return ""
    clauses = ["day >= 0"]
    if window.since is not None:
        clauses.append(f"day >= {window.since.toordinal()}")
    if window.until is not None:
        clauses.append(f"day < {window.until.toordinal()}")
    return " and ".join(clauses)


def _fold(text: str) -> str:
    """Lower case without diacritics, as FTS5's ``unicode61 remove_diacritics 2`` reads words."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def analysed(text: str) -> list[str]:
    """Porter stems of every word, repeats kept: what BM25 indexes (Milvus Lite cannot stem)."""
    stems: list[str] = stemmer().stemWords(_TOKEN.findall(_fold(text)))
    return stems


def bm25_terms(title: str, body: str) -> str:
    """The text of a chunk's ``terms`` field: the stems of its title and body."""
    return " ".join(analysed(f"{title}\n{body}"))


def bm25_query(terms: Sequence[str]) -> str:
    """Words as the ``terms`` field holds them (analysed as the text was), as one BM25 query."""
    return " ".join(dict.fromkeys(s for w in terms for s in analysed(w)))


def stem_token(stem: str) -> str:
    """A stem from ``qa.text.stem_terms`` as it is spelt in the ``terms`` field."""
    return " ".join(_TOKEN.findall(_fold(stem)))


def pack_b64(vectors: Vectors | None, rows: int) -> str:
    """Sentence vectors as base64 float16 bytes (Milvus has no bytes field); "" when absent."""
    packed = pack_vectors(vectors, rows)
    if packed is None:
        return ""
    text = base64.b64encode(packed).decode("ascii")
    return text if len(text) <= VARCHAR_MAX else ""  # too many sentences: the reader encodes them


def unpack_b64(text: str, rows: int) -> Vectors | None:
    """The rows stored by ``pack_b64``."""
    return unpack_vectors(base64.b64decode(text), rows) if text else None


def signature_text(sig: np.ndarray[Any, np.dtype[np.uint32]]) -> str:
    """A MinHash signature as base64."""
    return base64.b64encode(np.ascontiguousarray(sig, dtype=np.uint32).tobytes()).decode("ascii")


def signature_of(text: str) -> np.ndarray[Any, np.dtype[np.uint32]]:
    """The signature stored by ``signature_text``."""
    return np.frombuffer(base64.b64decode(text), dtype=np.uint32)


def band_tokens(keys: list[int]) -> list[int]:
    """Per-band LSH keys made unique across bands, for one ``array_contains_any`` filter."""
    return [key("band", band, value) for band, value in enumerate(keys)]


def has_place(client: Any, prefix: str) -> bool:
    """True when the articles collection keeps datelines' places; one made before them does not
    (Milvus Lite cannot add a field), and its stories are shown without a place."""
    fields = client.describe_collection(names(prefix)["articles"])["fields"]
    return any(f["name"] == "place" for f in fields)


def create(client: Any, prefix: str, dimension: int) -> None:
    """Create the archive's collections that do not exist yet, with their indexes, and load them."""
    text = "VARCHAR"
    long: dict[str, Any] = {"max_length": VARCHAR_MAX}
    short: dict[str, Any] = {"max_length": 2048}
    unit = ("unit", "FLOAT_VECTOR", {"dim": 2})
    n = names(prefix)
    build = functools.partial(create_collection, client)
    build(
        n["chunks"],
        [
            ("chunk_id", "INT64", {"is_primary": True}),
            ("article_id", text, short),
            ("ordinal", "INT64", {}),
            ("start", "INT64", {}),
            ("end", "INT64", {}),
            ("day", "INT64", {}),
            ("text", text, long),
            ("sentences", text, long),  # JSON offsets
            ("sentence_vectors", text, long),  # base64 float16, as the local blob
            (
                "terms",
                text,
                {
                    **long,
                    "enable_analyzer": True,
                    "enable_match": True,
                    "analyzer_params": {"tokenizer": "standard"},
                },
            ),
            ("sparse", "SPARSE_FLOAT_VECTOR", {}),
            ("dense", "FLOAT_VECTOR", {"dim": dimension}),
        ],
        "dense",
        "COSINE",
    )
    build(
        n["articles"],
        [
            ("article_id", text, {**short, "is_primary": True}),
            ("title", text, long),
            ("published", text, {"max_length": 64}),
            ("day", "INT64", {}),
            ("source", text, short),
            ("url", text, short),
            ("file", text, short),
            ("added", "DOUBLE", {}),
            ("chunks", "INT64", {}),
            ("signature", text, {"max_length": 1024}),
            ("bands", "ARRAY", {"element_type": "INT64", "max_capacity": 256}),
            ("duplicate_of", text, short),  # "" for an original
            ("place", text, short),  # the dateline's place, "" for none
            unit,
        ],
        "unit",
        "L2",
    )
    build(
        n["texts"],
        [
            ("piece_id", "INT64", {"is_primary": True}),
            ("article_id", text, short),
            ("piece", "INT64", {}),
            ("text", text, long),
            unit,
        ],
        "unit",
        "L2",
    )
    build(
        n["files"],
        [("path", text, {**short, "is_primary": True}), ("sha256", text, {"max_length": 64}), unit],
        "unit",
        "L2",
    )
    build(
        n["meta"],
        [("key", text, {"max_length": 64, "is_primary": True}), ("value", text, short), unit],
        "unit",
        "L2",
    )
