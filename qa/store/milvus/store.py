"""``MilvusStore``: an archive kept in Milvus (Milvus Lite embedded, a Lite server, or Milvus)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from qa.errors import ConfigError
from qa.models import DocumentInfo, public_source
from qa.store.milvus import client as milvus
from qa.store.milvus import schema
from qa.store.milvus.schema import UNIT, lit
from qa.store.milvus.snapshot import MilvusSnapshot
from qa.store.milvus.writer import MilvusWriter
from qa.store.protocol import DocumentOrder

logger = logging.getLogger(__name__)

LISTED = ["article_id", "title", "published", "source", "url", "chunks", "file", "duplicate_of", "added"]


class MilvusStore:
    """Opens (or creates) an archive's collections; many clients may read and write at once."""

    def __init__(
        self, uri: str, token: str, prefix: str, dimension: int, model_name: str, client: Any = None
    ) -> None:
        self.uri = uri
        self.prefix = prefix
        self.dimension = dimension
        self.model_name = model_name
        self._client = client if client is not None else milvus.connect(uri, token)
        self._names = schema.names(prefix)
        self._lock = milvus.write_lock(uri, prefix)
        with self._lock:
            schema.create(self._client, prefix, dimension)
            self._check_model()
            self._place = schema.has_place(self._client, prefix)
        self._listed = [*LISTED, "place"] if self._place else LISTED

    @staticmethod
    def recorded_model(client: Any, prefix: str) -> tuple[str, int] | None:
        """``(model, dimension)`` an existing archive was built with, or None when there is none yet."""
        meta = schema.names(prefix)["meta"]
        if not client.has_collection(meta):
            return None
        client.load_collection(meta)
        found = {
            r["key"]: r["value"]
            for r in client.query(meta, ids=["model", "dimension"], output_fields=["key", "value"])
        }
        if "model" not in found or "dimension" not in found:
            return None
        return str(found["model"]), int(found["dimension"])

    def _check_model(self) -> None:
        """Record the model of a new archive; ``ConfigError`` when it was built with another one."""
        meta = self._names["meta"]
        found = {
            r["key"]: r["value"]
            for r in self._client.query(meta, ids=["model", "dimension"], output_fields=["key", "value"])
        }
        if not found:
            self._client.upsert(
                meta,
                [
                    {"key": "model", "value": self.model_name, "unit": UNIT},
                    {"key": "dimension", "value": str(self.dimension), "unit": UNIT},
                ],
            )
        elif found.get("model") != self.model_name:
            raise ConfigError(
                f"the Milvus collections {self.prefix}_* at {self.uri} were built with model "
                f"{found.get('model')!r}, not {self.model_name!r}: use the same QA_MODEL, or another "
                "QA_MILVUS_COLLECTION"
            )

    def close(self) -> None:
        """Close the connection."""
        self._client.close()

    def drop(self) -> None:
        """Delete the archive's collections (everything this store holds)."""
        with self._lock:
            for name in self._names.values():
                self._client.drop_collection(name)

    @contextmanager
    def snapshot(self) -> Iterator[MilvusSnapshot]:
        """A view for one question (Milvus reads the latest committed state; see ``snapshot``)."""
        yield MilvusSnapshot(self._client, self.prefix, self.dimension, self._place)

    @contextmanager
    def writer(self) -> Iterator[MilvusWriter]:
        """Write access for this process; each change is visible to every client as it is made."""
        with self._lock:
            yield MilvusWriter(self._client, self.prefix, self._place)

    # -- listing ---------------------------------------------------------------------------------
    def is_empty(self) -> bool:
        """True before anything was stored."""
        return not self._client.query(
            self._names["articles"], filter="", limit=1, output_fields=["article_id"]
        )

    def stats(self) -> dict[str, int]:
        """Numbers of articles and chunks."""
        return {
            "articles": milvus.count(self._client, self._names["articles"]),
            "chunks": milvus.count(self._client, self._names["chunks"]),
        }

    def documents(
        self, offset: int = 0, limit: int | None = None, search: str = "", order: DocumentOrder = "added"
    ) -> tuple[list[DocumentInfo], int]:
        """A page of stored articles (``search``: in title or source) and how many match in all.

        Milvus can neither sort a query nor match without case, so the listing is read whole and
        paged here: fine for the archives Milvus Lite is for, a scan for large ones."""
        needle = search.strip().casefold()
        found = [
            r
            for r in milvus.rows(self._client, self._names["articles"], "", self._listed)
            if needle in r["title"].casefold() or needle in r["source"].casefold()
        ]
        if order == "date":
            found.sort(key=lambda r: (r["added"], r["article_id"]))
            found.sort(key=lambda r: r["published"], reverse=True)
            found.sort(key=lambda r: not r["published"])
        elif order == "title":
            found.sort(key=lambda r: (r["title"].casefold(), r["article_id"]))
        else:
            found.sort(key=lambda r: (r["added"], r["article_id"]))
        page = found[offset:] if limit is None else found[offset : offset + limit]
        return [_info(r) for r in page], len(found)

    def document(self, doc_id: str) -> tuple[DocumentInfo, str] | None:
        """One article's info and full text, or None."""
        row = self._client.query(self._names["articles"], ids=[doc_id], output_fields=self._listed)
        if not row:
            return None
        pieces = milvus.rows(
            self._client, self._names["texts"], f"article_id == {lit(doc_id)}", ["piece", "text"]
        )
        text = "".join(p["text"] for p in sorted(pieces, key=lambda p: int(p["piece"])))
        return _info(row[0]), text

    def article_ids_from(self, source: str) -> list[str]:
        """Ids of the articles read from a file, named by its source or its full path."""
        where = f"source == {lit(source)} or file == {lit(source)}"
        found = milvus.rows(self._client, self._names["articles"], where, ["article_id", "added"])
        return [r["article_id"] for r in sorted(found, key=lambda r: (r["added"], r["article_id"]))]

    def file_hash(self, path: str) -> str | None:
        """The content hash recorded for a file, or None if never indexed."""
        found = self._client.query(self._names["files"], ids=[path], output_fields=["sha256"])
        return str(found[0]["sha256"]) if found else None

    def files_under(self, folder: str) -> list[str]:
        """Indexed files inside a folder (recursively)."""
        prefix = folder.rstrip("/") + "/"
        # ``like`` has no escape for % and _: match the part before the first, then check here.
        plain = prefix.split("%")[0].split("_")[0]
        found = milvus.rows(self._client, self._names["files"], f"path like {lit(plain + '%')}", ["path"])
        return [r["path"] for r in found if r["path"].startswith(prefix)]


def _info(row: dict[str, Any]) -> DocumentInfo:
    """A DocumentInfo from an articles row."""
    return DocumentInfo(
        row["article_id"],
        row["title"],
        row["published"] or None,
        public_source(row["source"]),
        row["url"] or None,
        int(row["chunks"]),
        duplicate_of=row["duplicate_of"] or None,
        path=row["file"] or None,
        place=row.get("place") or None,
    )
