"""The Milvus backend (``QA_STORE=milvus``): ``MilvusStore`` over pymilvus, imported only when chosen."""

from qa.store.milvus.client import connect
from qa.store.milvus.snapshot import MilvusSnapshot
from qa.store.milvus.store import MilvusStore
from qa.store.milvus.writer import MilvusWriter
from qa.store.protocol import Snapshot, Store, Writer

__all__ = ["MilvusSnapshot", "MilvusStore", "MilvusWriter", "connect"]


def _implements(
    store: MilvusStore, snapshot: MilvusSnapshot, writer: MilvusWriter
) -> tuple[Store, Snapshot, Writer]:
    """Never called: mypy checks here that the Milvus classes implement the protocols."""
    return store, snapshot, writer
