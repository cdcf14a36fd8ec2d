"""The read side over Milvus: dense and BM25 search, chunk records, dates and duplicate stories.

Milvus has no snapshots: every call reads the committed state of the moment (collections are
created with Strong consistency), so a write another client made is seen by the next question.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from qa.models import ArticleMeta, TimeWindow, public_source
from qa.store.milvus import schema
from qa.store.milvus.client import count, rows
from qa.store.milvus.schema import lit
from qa.store.protocol import ChunkRecord
from qa.store.vectors import Ids, Vectors

META_FIELDS = ["article_id", "title", "published", "source", "url", "file"]
ID_BATCH = 1000  # ids per ``in [...]`` filter
MATCH_ROWS = 16_384  # rows one query may return (real Milvus caps a query's offset + limit there)


def article_meta(row: dict[str, Any]) -> ArticleMeta:
    """The ArticleMeta of an articles row."""
    return ArticleMeta(
        row["article_id"],
        row["title"],
        row["published"] or None,
        public_source(row["source"]),
        row["url"] or None,
        row["file"] or None,
        row.get("place") or None,
    )


def articles_in(client: Any, collection: str, ids: Sequence[str], fields: list[str]) -> list[dict[str, Any]]:
    """The articles rows of these ids."""
    unique = list(dict.fromkeys(ids))
    found: list[dict[str, Any]] = []
    for at in range(0, len(unique), ID_BATCH):
        where = f"article_id in [{', '.join(lit(i) for i in unique[at : at + ID_BATCH])}]"
        found.extend(client.query(collection, filter=where, output_fields=fields))
    return found


class MilvusSnapshot:
    """What one question reads from Milvus."""

    def __init__(self, client: Any, prefix: str, dimension: int, place: bool = True) -> None:
        self._client = client
        self._meta_fields = [*META_FIELDS, "place"] if place else META_FIELDS
        self._names = schema.names(prefix)
        self._dimension = dimension
        self._windows: list[tuple[Ids, TimeWindow]] = []  # what chunk_ids_in answered

    # -- vectors ---------------------------------------------------------------------------------
    def vector_count(self) -> int:
        """Number of stored chunk vectors."""
        return count(self._client, self._names["chunks"])

    def dense_search(
        self, query: Vectors, k: int, allowed: Ids | None = None
    ) -> tuple[npt.NDArray[np.float32], Ids]:
        """Top ``k`` (cosine, id) for one query row; ``allowed`` ids become a filter (a window's
        ids from ``chunk_ids_in`` become the window's day filter, however many they are)."""
        where = "" if allowed is None else self._allowed_filter(allowed)
        found: list[Any] = []
        if where != "false":
            found = self._client.search(
                self._names["chunks"],
                data=[np.asarray(query, dtype=np.float32).ravel().tolist()],
                anns_field="dense",
                limit=k,
                filter=where,
                search_params={"metric_type": "COSINE"},
                output_fields=["chunk_id"],
            )[0]
        scores = np.full((1, k), -np.inf, dtype=np.float32)
        ids = np.full((1, k), -1, dtype=np.int64)
        for rank, hit in enumerate(found[:k]):
            scores[0, rank], ids[0, rank] = float(hit["distance"]), int(hit["chunk_id"])
        return scores, ids

    def _allowed_filter(self, allowed: Ids) -> str:
        for ids, window in self._windows:
            if ids is allowed:
                return schema.window_filter(window)
        if len(allowed) == 0:
            return "false"
        return f"chunk_id in [{', '.join(str(int(i)) for i in allowed)}]"

    def chunk_vectors(self, ids: Ids) -> Vectors:
        """The stored vectors of these chunk ids (zeros for ids no longer stored)."""
        wanted = [int(i) for i in ids]
        out = np.zeros((len(wanted), self._dimension), dtype=np.float32)
        found: dict[int, list[float]] = {}
        for at in range(0, len(wanted), ID_BATCH):
            for row in self._client.get(
                self._names["chunks"], ids=wanted[at : at + ID_BATCH], output_fields=["chunk_id", "dense"]
            ):
                found[int(row["chunk_id"])] = row["dense"]
        for number, chunk_id in enumerate(wanted):
            if chunk_id in found:
                out[number] = found[chunk_id]
        return out

    # -- keywords --------------------------------------------------------------------------------
    def keyword_search(
        self, terms: Sequence[str], k: int, window: TimeWindow | None = None
    ) -> list[tuple[int, float]]:
        """BM25 ``(chunk id, score)`` best first, for any of ``terms``, only from articles published
        inside ``window``."""
        query = schema.bm25_query(terms)
        if not query:
            return []
        found = self._client.search(
            self._names["chunks"],
            data=[query],
            anns_field="sparse",
            limit=k,
            filter=schema.window_filter(window),
            search_params={"metric_type": "BM25"},
            output_fields=["chunk_id"],
        )[0]
        # Milvus Lite answers -BM25, Milvus +BM25.
        hits = [(int(hit["chunk_id"]), abs(float(hit["distance"]))) for hit in found]
        return sorted((h for h in hits if h[1] > 0), key=lambda h: -h[1])

    def term_frequencies(self, stems: list[str]) -> tuple[int, dict[str, int]]:
        """Number of chunks and, per stemmed term, how many chunks hold it.

        One query reads the terms of every chunk holding any of the stems, counted here: Milvus Lite
        matches text by scanning every row (about a second each at 4,000 chunks), so a count per
        stem made a question cost seconds. Where more chunks match than one query returns (common
        words in a large archive), each stem is counted on its own (Milvus's text index)."""
        chunks = self._names["chunks"]
        total = count(self._client, chunks)
        tokens = {stem: schema.stem_token(stem).split() for stem in dict.fromkeys(stems)}
        tokens = {stem: words for stem, words in tokens.items() if words}
        wanted = " ".join(sorted({w for words in tokens.values() for w in words}))
        if not wanted:
            return total, {}
        found = self._client.query(
            chunks, filter=f"text_match(terms, {lit(wanted)})", output_fields=["terms"], limit=MATCH_ROWS
        )
        held: Counter[str] = Counter()
        if len(found) < MATCH_ROWS:
            for row in found:
                words = set(row["terms"].split())
                held.update(stem for stem, mine in tokens.items() if not words.isdisjoint(mine))
        else:
            for stem, mine in tokens.items():
                held[stem] = count(self._client, chunks, f"text_match(terms, {lit(' '.join(mine))})")
        return total, {stem: n for stem, n in held.items() if n}

    # -- chunks and articles ---------------------------------------------------------------------
    def chunk_records(self, ids: list[int]) -> dict[int, ChunkRecord]:
        """Stored chunks by id (ids no longer stored are absent)."""
        if not ids:
            return {}
        chunk_rows = self._client.get(
            self._names["chunks"],
            ids=[int(i) for i in ids],
            output_fields=["chunk_id", "article_id", "text", "sentences", "sentence_vectors"],
        )
        metas = {
            r["article_id"]: article_meta(r)
            for r in articles_in(
                self._client,
                self._names["articles"],
                [r["article_id"] for r in chunk_rows],
                self._meta_fields,
            )
        }
        out: dict[int, ChunkRecord] = {}
        for row in chunk_rows:
            if row["article_id"] not in metas:
                continue  # an article being written or removed this moment
            spans = tuple((int(s[0]), int(s[1])) for s in json.loads(row["sentences"]))
            out[int(row["chunk_id"])] = ChunkRecord(
                id=int(row["chunk_id"]),
                text=row["text"],
                sentences=spans,
                article=metas[row["article_id"]],
                sentence_vectors=schema.unpack_b64(row["sentence_vectors"], len(spans)),
            )
        return out

    # -- time ------------------------------------------------------------------------------------
    def has_dates(self) -> bool:
        """True when at least one stored article has a publication date."""
        return bool(
            self._client.query(self._names["articles"], filter="day >= 0", limit=1, output_fields=["day"])
        )

    def newest_day(self) -> date | None:
        """The publication day of the newest dated article (None when no article has a date).

        Milvus cannot sort or aggregate a query: every dated article's day is read (a scan, asked
        only by questions that name a date)."""
        days = [int(r["day"]) for r in rows(self._client, self._names["articles"], "day >= 0", ["day"])]
        return date.fromordinal(max(days)) if days else None

    def chunk_ids_in(self, window: TimeWindow) -> Ids:
        """The ids of every chunk from an article published inside the window."""
        where = schema.window_filter(window)
        ids = np.array(
            [int(r["chunk_id"]) for r in rows(self._client, self._names["chunks"], where, ["chunk_id"])],
            dtype=np.int64,
        )
        self._windows.append((ids, window))
        return ids

    def chunk_ids_of(self, article_ids: Sequence[str]) -> Ids:
        """The ids of every chunk of these articles."""
        unique = list(dict.fromkeys(article_ids))
        found: list[int] = []
        for at in range(0, len(unique), ID_BATCH):
            where = f"article_id in [{', '.join(lit(i) for i in unique[at : at + ID_BATCH])}]"
            found.extend(
                int(r["chunk_id"]) for r in rows(self._client, self._names["chunks"], where, ["chunk_id"])
            )
        return np.array(sorted(found), dtype=np.int64)

    # -- duplicate stories -----------------------------------------------------------------------
    def originals(self, ids: Sequence[str]) -> dict[str, str]:
        """Article id → the id of its story's original (itself when it is one)."""
        found = {i: i for i in dict.fromkeys(ids)}
        for row in articles_in(
            self._client, self._names["articles"], list(found), ["article_id", "duplicate_of"]
        ):
            if row["duplicate_of"]:
                found[row["article_id"]] = row["duplicate_of"]
        return found

    def copies(self, roots: Sequence[str]) -> dict[str, list[ArticleMeta]]:
        """Every copy of each story (original first, then in the order added), by the original's id."""
        unique = list(dict.fromkeys(roots))
        out: dict[str, list[ArticleMeta]] = {r: [] for r in unique}
        if not unique:
            return out
        listed = ", ".join(lit(r) for r in unique)
        found = self._client.query(
            self._names["articles"],
            filter=f"article_id in [{listed}] or duplicate_of in [{listed}]",
            output_fields=[*self._meta_fields, "duplicate_of", "added"],
        )
        found.sort(key=lambda r: (r["duplicate_of"] != "", r["added"], r["article_id"]))
        for row in found:
            root = row["duplicate_of"] or row["article_id"]
            if root in out:
                out[root].append(article_meta(row))
        return out
