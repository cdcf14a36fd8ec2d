"""The one place that imports pymilvus: connecting, creating collections, reading rows in pages."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qa.errors import ConfigError, IndexBusyError

PAGE = 1000  # rows per query page (real Milvus caps a query's offset + limit at 16,384)
_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


class _WithoutTimestampNotice(logging.Filter):
    """Drops pymilvus's warning, at every listing, that Milvus Lite sent no MVCC timestamp (the
    iterator then uses the client's clock, which is right for Lite)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "mvccTs" not in record.getMessage()


_NOTICE_FILTER = _WithoutTimestampNotice()


def write_lock(uri: str, prefix: str) -> threading.RLock:
    """The process-wide lock held around every write to one archive.

    Milvus Lite's engine has no write lock of its own: two RPCs writing at once (its embedded
    server runs ten workers) can corrupt its write-ahead log."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(f"{uri}\0{prefix}", threading.RLock())


def is_embedded(uri: str) -> bool:
    """True when the URI names a Milvus Lite file rather than a server."""
    return not uri.startswith(("http://", "https://", "tcp://", "unix:"))


def connect(uri: str, token: str) -> Any:
    """A ``MilvusClient`` for a server URL or a Milvus Lite path (created, ``.db`` appended)."""
    try:
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException
    except ImportError:
        raise ConfigError(
            "QA_STORE=milvus needs pymilvus and milvus-lite: pip install 'qa-bot[milvus]'"
        ) from None
    logging.getLogger("pymilvus.client.iterator.query_iterator").addFilter(_NOTICE_FILTER)
    if is_embedded(uri):
        path = Path(uri).expanduser()
        if path.suffix != ".db":
            path = path.with_name(path.name + ".db")
        path.parent.mkdir(parents=True, exist_ok=True)
        uri = str(path)
    try:
        return MilvusClient(uri=uri, token=token, dedicated=True)
    except MilvusException as exc:
        if is_embedded(uri) and (Path(uri) / "LOCK").exists():
            raise IndexBusyError(
                f"the Milvus Lite file {uri} is open in another process: run "
                f"`milvus-lite server --data-dir {uri}` and set QA_MILVUS_URI=http://127.0.0.1:19530"
            ) from exc
        raise ConfigError(f"cannot open Milvus at {uri}: {exc}") from exc


Field = tuple[str, str, dict[str, Any]]  # a field's name, its pymilvus ``DataType`` name, its options


def create_collection(client: Any, name: str, fields: list[Field], vector: str, metric: str) -> None:
    """Create a collection with its vector index (and BM25 over ``terms`` for the chunks), then load
    it; one that exists is only loaded."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient, MilvusException

    if client.has_collection(name):
        client.load_collection(name)
        return
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    for field, kind, options in fields:
        element = (
            {"element_type": getattr(DataType, options["element_type"])} if "element_type" in options else {}
        )
        schema.add_field(field, getattr(DataType, kind), **(options | element))
    index = client.prepare_index_params()
    index.add_index(vector, index_type="FLAT", metric_type=metric)
    if name.endswith("_chunks"):
        schema.add_function(
            Function(
                name="terms_bm25",
                function_type=FunctionType.BM25,
                input_field_names=["terms"],
                output_field_names=["sparse"],
            )
        )
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    try:
        client.create_collection(name, schema=schema, consistency_level="Strong")
    except MilvusException:
        if not client.has_collection(name):
            raise
        # Another client created it this moment: its indexes may not be there yet.
    for attempt in itertools.count():
        try:
            if not client.list_indexes(name):
                client.create_index(name, index, sync=False)  # index_params would poll for seconds
            client.load_collection(name)
            return
        except MilvusException:
            if attempt == 50:
                raise
            time.sleep(0.1)


def rows(client: Any, collection: str, where: str, fields: list[str]) -> Iterator[dict[str, Any]]:
    """Every row matching a filter, in pages."""
    pages = client.query_iterator(collection, batch_size=PAGE, filter=where, output_fields=fields)
    try:
        while batch := pages.next():
            yield from batch
    finally:
        pages.close()


def count(client: Any, collection: str, where: str = "") -> int:
    """How many rows match a filter."""
    found = client.query(collection, filter=where, output_fields=["count(*)"])
    return int(found[0]["count(*)"]) if found else 0


def deleted(result: Any) -> int:
    """How many rows a delete removed (pymilvus returns the keys or a count)."""
    if isinstance(result, dict):
        return int(result.get("delete_count", 0))
    return len(result)
