"""The store: what the engine needs (``Store`` protocol) and its SQLite + FAISS implementation."""

from qa.store.feed_registry import PageState, WebState
from qa.store.local import LocalStore
from qa.store.protocol import ChunkRecord, DocumentOrder, Snapshot, Store, Writer
from qa.store.sizing import DEFAULT_THRESHOLD, INDEX_TYPES, IndexType
from qa.store.snapshot import LocalSnapshot, StoredArticle
from qa.store.vectors import Ids, VectorIndex, Vectors
from qa.store.writer import LocalWriter

__all__ = [
    "DEFAULT_THRESHOLD",
    "INDEX_TYPES",
    "ChunkRecord",
    "DocumentOrder",
    "Ids",
    "IndexType",
    "LocalSnapshot",
    "LocalStore",
    "LocalWriter",
    "PageState",
    "Snapshot",
    "Store",
    "StoredArticle",
    "VectorIndex",
    "Vectors",
    "WebState",
    "Writer",
]


def _implements(
    store: LocalStore, snapshot: LocalSnapshot, writer: LocalWriter
) -> tuple[Store, Snapshot, Writer]:
    """Never called: mypy checks here that the local classes implement the protocols."""
    return store, snapshot, writer
