"""One archive's parts opened on first use (model, reader, index, web), its index's life, documents, feeds."""

from __future__ import annotations

import contextlib
import logging
import shlex
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from qa.answering.reader import Reader
from qa.config import DEFAULT_MODEL, Settings
from qa.errors import DocumentNotFoundError, NoIndexError
from qa.models import DocumentInfo, Feed
from qa.runtime.embedding import (
    Embedder,
    Progress,
    SentenceTransformerEmbedder,
    model_identity,
    pick_device,
    resolve_model,
)
from qa.store import DocumentOrder, LocalStore, Store, WebState

if TYPE_CHECKING:  # indexing, the web and the votes are imported when first used: `qa ask` needs none
    from qa.ingest.indexer import Indexer
    from qa.watching.feedback import Feedback
    from qa.web.sources import WebSources

logger = logging.getLogger(__name__)


class Archive:
    """The model, reader, index and web sources of one archive, loaded once and closed together."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._reader: Reader | None = None
        self._store: Store | None = None
        self._lock = threading.RLock()
        self._web_lock = threading.Lock()  # one run over URLs at a time
        self._warm = False
        self._web: WebSources | None = None
        self._feedback: Feedback | None = None

    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded once per engine: the bundled one on ONNX Runtime, or torch."""
        with self._lock:
            if self._embedder is None:
                settings = self.settings
                if settings.model_runtime() == "onnx" and model_identity(settings.model) == DEFAULT_MODEL:
                    from qa.runtime.onnx_runtime import OnnxEmbedder

                    base, name = resolve_model(settings.model, verify=False)  # its ONNX file is checked
                    self._embedder = OnnxEmbedder(
                        base, name, settings.onnx_dir, settings.batch_size, settings.verify_model
                    )
                else:
                    self._embedder = SentenceTransformerEmbedder(
                        settings.model, settings.device, settings.batch_size, settings.verify_model
                    )
            return self._embedder

    @property
    def reader(self) -> Reader | None:
        """The trained answer reader, loaded once per engine; None when ``QA_READER=off``."""
        with self._lock:
            settings = self.settings
            if self._reader is None and settings.reader != "off":
                runtime = settings.model_runtime()
                # On ONNX Runtime the weights are in the ONNX file, checked on its own.
                base, _ = resolve_model("default", settings.verify_model and runtime == "torch")
                device = pick_device(settings.device) if runtime == "torch" else "cpu"
                self._reader = Reader(
                    settings.reader,
                    base,
                    runtime,
                    device,
                    settings.quantize,
                    settings.onnx_dir,
                    settings.verify_model,
                )
            return self._reader

    @property
    def store(self) -> Store:
        """The index, opened (or created) once per engine: local, or in Milvus (``QA_STORE``)."""
        with self._lock:
            if self._store is None:
                self._store = self._open_milvus() if self.settings.store == "milvus" else self._open_local()
            return self._store

    def _open_milvus(self) -> Store:
        """The archive in Milvus (``QA_MILVUS_URI``): Milvus Lite in a file, or a server."""
        from qa.store.milvus import MilvusStore, connect  # pymilvus takes seconds to import

        settings = self.settings
        uri, prefix = settings.milvus_location(), settings.milvus_collection
        client = connect(uri, settings.milvus_token)
        recorded = MilvusStore.recorded_model(client, prefix)
        if recorded is not None and self._embedder is None and recorded[0] == model_identity(settings.model):
            name, dimension = recorded  # as locally: listing or removing documents needs no model
        else:
            name, dimension = self.embedder.name, self.embedder.dimension
        return MilvusStore(uri, settings.milvus_token, prefix, dimension, name, client)

    def _open_local(self) -> Store:
        """The archive in the index directory (SQLite + FAISS)."""
        settings = self.settings
        recorded = LocalStore.recorded_model(settings.index_dir)
        if recorded is not None and self._embedder is None and recorded[0] == model_identity(settings.model):
            # Listing or removing documents needs no model: open with what the index records.
            name, dimension = recorded
        else:
            name, dimension = self.embedder.name, self.embedder.dimension
        return LocalStore(
            settings.index_dir,
            dimension,
            name,
            settings.lock_timeout,
            settings.index_type,
            settings.index_threshold,
        )

    @property
    def web(self) -> WebSources:
        """Fetching feeds, sitemaps and pages, and the feed registry of this index."""
        with self._lock:
            if self._web is None:
                from qa.web.fetching import Fetcher
                from qa.web.sources import WebSources

                store = self.store
                # The feed registry stays in the index directory, whichever store holds the index.
                self.settings.index_dir.mkdir(parents=True, exist_ok=True)
                self._web = WebSources(
                    Fetcher(self.settings), WebState(self.settings.index_dir), store.file_hash
                )
            return self._web

    @property
    def feedback(self) -> Feedback:
        """The votes cast on answers, kept in the index directory."""
        with self._lock:
            if self._feedback is None:
                from qa.watching.feedback import Feedback

                self.require_index()
                self.store.is_empty()  # the index database exists before the votes' tables join it
                self._feedback = Feedback(self.settings.index_dir)
            return self._feedback

    def close(self) -> None:
        """Release the index and the web connections (the model stays loaded)."""
        with self._lock:
            if self._store is not None:
                self._store.close()
            self._store = None
            if self._web is not None:
                self._web.fetcher.close()
                self._web = None

    def indexer(self) -> Indexer:
        """Writes articles into this archive's index."""
        from qa.ingest.indexer import Indexer

        return Indexer(self)

    def web_lock(self, urls: Sequence[str]) -> AbstractContextManager[object]:
        """Held around a run over URLs (an index, a refresh): one at a time; none without URLs."""
        return self._web_lock if urls else contextlib.nullcontext()

    def _chosen_but_missing(self) -> bool:
        """True when a chosen local index directory holds no index."""
        local = self.settings.store == "local"
        return local and self.settings.index_chosen() and not LocalStore.exists(self.settings.index_dir)

    def require_index(self) -> None:
        """``NoIndexError`` when a chosen index directory holds no index (the default may self-build).

        Milvus collections are created when the store opens: an empty archive there is only warned of."""
        folder = self.settings.index_dir
        if self._chosen_but_missing():
            raise NoIndexError(f"no index in {folder}: build it with `{_index_command(folder)}`")

    def ensure_index(self, progress: Progress | None = None) -> None:
        """Build the index from the bundled seeds when it is empty (only at the default location)."""
        self.require_index()
        chosen = self.settings.index_chosen()
        if not self.store.is_empty() or chosen:
            if not self._warm:
                self._warm = True
                if chosen and self.store.is_empty():  # every article removed: nothing to answer from
                    folder = self.settings.index_dir
                    logger.warning(
                        "the index in %s is empty: add articles with `%s`", folder, _index_command(folder)
                    )
                self.embedder.encode(["warm up"])  # the first question should not pay for lazy setup
            return
        seeds = self.settings.seeds_dir
        if seeds is None or not Path(seeds).is_dir():
            raise NoIndexError(
                f"no index in {self.settings.index_dir} and no seed articles to build one: "
                "run `qa index PATH` first"
            )
        logger.info("no index yet: building one from %s", seeds)
        report = self.indexer().index([Path(seeds)], progress)
        if self.store.is_empty():
            raise NoIndexError(f"no article could be indexed from {seeds} ({len(report.skipped)} skipped)")

    def feeds(self) -> list[Feed]:
        """The feeds and sitemaps ``refresh`` polls."""
        return [] if self.nothing_stored() else self.web.state.feeds()

    def document_page(
        self, offset: int = 0, limit: int | None = None, search: str = "", order: DocumentOrder = "added"
    ) -> tuple[list[DocumentInfo], int]:
        """A page of indexed articles, those whose title or source holds ``search``, and their total."""
        self.require_index()
        if self.nothing_stored():
            return [], 0
        return self.store.documents(offset, limit, search, order)

    def document(self, doc_id: str) -> tuple[DocumentInfo, str]:
        """One article's info and its full text."""
        self.require_index()
        found = None if self.nothing_stored() else self.store.document(doc_id)
        if found is None:
            raise DocumentNotFoundError(doc_id)
        return found

    def find_document(self, ref: str) -> tuple[DocumentInfo, str]:
        """One article by its id, its source as listed, or the path of the file it was read from."""
        self.require_index()
        if self.nothing_stored():
            raise DocumentNotFoundError(ref)
        found = self.store.document(ref)
        if found is not None:
            return found
        ids = self.store.article_ids_from(ref) or self.store.article_ids_from(str(Path(ref).resolve()))
        if len(ids) > 1:
            listed = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
            raise DocumentNotFoundError(
                ref, f"{ref} holds {len(ids)} articles ({listed}): name one by its id"
            )
        return self.document(ids[0]) if ids else self.document(ref)

    def remove_document(self, doc_id: str) -> None:
        """Remove one article from the index."""
        self.require_index()
        with self.store.writer() as writer:
            if not writer.remove_article(doc_id):
                raise DocumentNotFoundError(doc_id)

    def nothing_stored(self) -> bool:
        """True while no local index exists on disk: listing it then needs no model and creates nothing."""
        return self.settings.store == "local" and not LocalStore.exists(self.settings.index_dir)

    def stats(self) -> dict[str, int]:
        """``{"articles": n, "chunks": m}`` (zeros where a chosen index directory holds no index)."""
        if self._chosen_but_missing():
            return {"articles": 0, "chunks": 0}
        return self.store.stats()


def _index_command(folder: Path) -> str:
    """The command that builds the index in ``folder``."""
    return f"qa --index-dir {shlex.quote(str(folder))} index FOLDER"
