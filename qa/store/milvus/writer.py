"""The write side over Milvus: articles, chunks and texts upserted under deterministic keys.

Milvus has no multi-row transactions: each change is visible as soon as it is made (a reader may
see an article's new chunks before its old extra ones are gone), and nothing is rolled back when
the block fails. Writing an article is idempotent, so indexing it again repairs it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from qa.ingest.copies import THRESHOLD, band_keys, signature, similarity
from qa.models import Article, Chunk
from qa.store.milvus import schema
from qa.store.milvus.client import deleted, rows
from qa.store.milvus.schema import UNIT, lit
from qa.store.vectors import Vectors

logger = logging.getLogger(__name__)

ARTICLE_FIELDS = [
    "article_id", "title", "published", "day", "source", "url", "file", "added", "chunks",
    "signature", "bands", "duplicate_of",
]  # fmt: skip
BATCH = 500  # rows per upsert


class MilvusWriter:
    """Changes to one archive in Milvus, made while the process-wide write lock is held."""

    def __init__(self, client: Any, prefix: str, place: bool = True) -> None:
        self._client = client
        self._names = schema.names(prefix)
        self._place = place  # False for an articles collection made before datelines were read

    def _upsert(self, part: str, items: list[dict[str, Any]]) -> None:
        for at in range(0, len(items), BATCH):
            self._client.upsert(self._names[part], items[at : at + BATCH])

    def add_article(
        self,
        article: Article,
        chunks: list[Chunk],
        vectors: Vectors,
        file: str | None,
        sentence_vectors: Sequence[Vectors | None] | None = None,
    ) -> None:
        """Insert (or replace) an article with its chunks, their vectors and their sentences' vectors."""
        self._forget_story(article.id)
        article_day = schema.day(article.published)
        pieces = [
            article.text[at : at + schema.TEXT_PIECE] for at in range(0, len(article.text), schema.TEXT_PIECE)
        ]
        self._upsert(
            "texts",
            [
                {
                    "piece_id": schema.key(article.id, n),
                    "article_id": article.id,
                    "piece": n,
                    "text": t,
                    "unit": UNIT,
                }
                for n, t in enumerate(pieces)
            ],
        )
        self._client.delete(
            self._names["texts"], filter=f"article_id == {lit(article.id)} and piece >= {len(pieces)}"
        )
        dense = np.asarray(vectors, dtype=np.float32)
        self._upsert(
            "chunks",
            [
                {
                    "chunk_id": schema.key(article.id, chunk.ordinal),
                    "article_id": article.id,
                    "ordinal": chunk.ordinal,
                    "start": chunk.start,
                    "end": chunk.end,
                    "day": article_day,
                    "text": chunk.text,
                    "sentences": json.dumps(chunk.sentences),
                    "sentence_vectors": schema.pack_b64(
                        sentence_vectors[number] if sentence_vectors is not None else None,
                        len(chunk.sentences),
                    ),
                    "terms": schema.bm25_terms(article.title, chunk.text),
                    "dense": dense[number].tolist(),
                }
                for number, chunk in enumerate(chunks)
            ],
        )
        stale = f"article_id == {lit(article.id)}"
        if chunks:
            stale += f" and not (ordinal in [{', '.join(str(c.ordinal) for c in chunks)}])"
        self._client.delete(self._names["chunks"], filter=stale)
        sig = signature(article.text)
        keys = band_keys(sig)
        place = {"place": article.place or ""} if self._place else {}
        self._upsert(
            "articles",
            [
                {
                    **place,
                    "article_id": article.id,
                    "title": article.title,
                    "published": article.published or "",
                    "day": article_day,
                    "source": article.source,
                    "url": article.url or "",
                    "file": file or "",
                    "added": time.time(),
                    "chunks": len(chunks),
                    "signature": schema.signature_text(sig),
                    "bands": schema.band_tokens(keys),
                    "duplicate_of": self._original_of(article.id, sig, keys),
                    "unit": UNIT,
                }
            ],
        )

    def _original_of(self, article_id: str, sig: Any, keys: list[int]) -> str:
        """The original an article's text duplicates ("" for none), as ``qa.store.signatures.record``."""
        tokens = ", ".join(str(t) for t in schema.band_tokens(keys))
        found = self._client.query(
            self._names["articles"],
            filter=f"array_contains_any(bands, [{tokens}]) and article_id != {lit(article_id)}",
            output_fields=["article_id", "signature", "duplicate_of"],
        )
        best, best_score = "", THRESHOLD
        for row in sorted(found, key=lambda r: str(r["article_id"])):
            score = similarity(sig, schema.signature_of(row["signature"]))
            if score >= best_score:
                best, best_score = row["duplicate_of"] or row["article_id"], score
        if best:
            logger.info("article %s duplicates %s (estimated Jaccard %.2f)", article_id, best, best_score)
        return str(best)

    def _forget_story(self, article_id: str) -> None:
        """Make the oldest copy of an article the original of the others (before it goes or changes)."""
        fields = [*ARTICLE_FIELDS, "unit", *(["place"] if self._place else [])]
        heirs = self._client.query(
            self._names["articles"], filter=f"duplicate_of == {lit(article_id)}", output_fields=fields
        )
        if not heirs:
            return
        heirs.sort(key=lambda r: (r["added"], r["article_id"]))
        heir = heirs[0]["article_id"]
        for row in heirs:
            row["duplicate_of"] = "" if row["article_id"] == heir else heir
        self._upsert("articles", [{f: row[f] for f in fields} for row in heirs])

    def remove_article(self, article_id: str) -> bool:
        """Remove an article with its chunks and text; False if it was not stored. The hash recorded
        for its file goes too, as in the local store: indexing the file again reads it."""
        where = f"article_id == {lit(article_id)}"
        fields = ["article_id", "file"]
        found = self._client.query(self._names["articles"], filter=where, output_fields=fields)
        for file in {row["file"] for row in found if row["file"]}:
            self._client.delete(self._names["files"], filter=f"path == {lit(file)}")
        existed = bool(found)
        self._forget_story(article_id)
        self._client.delete(self._names["chunks"], filter=where)
        self._client.delete(self._names["texts"], filter=where)
        return deleted(self._client.delete(self._names["articles"], filter=where)) > 0 or existed

    def articles_of_file(self, path: str) -> list[str]:
        """Ids of the articles loaded from a file."""
        found = rows(self._client, self._names["articles"], f"file == {lit(path)}", ["article_id", "added"])
        return [r["article_id"] for r in sorted(found, key=lambda r: (r["added"], r["article_id"]))]

    def set_file(self, path: str, sha256: str) -> None:
        """Record a file's content hash."""
        self._upsert("files", [{"path": path, "sha256": sha256, "unit": UNIT}])

    def forget_file(self, path: str) -> list[str]:
        """Remove a file's record and its articles; returns the removed article ids."""
        removed = [a for a in self.articles_of_file(path) if self.remove_article(a)]
        self._client.delete(self._names["files"], filter=f"path == {lit(path)}")
        return removed
