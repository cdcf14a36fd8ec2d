"""Every store backend through the ``Store`` protocol: local, Milvus Lite embedded, a Milvus Lite server."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.answering.retrieval import Retriever, keyword_terms
from qa.config import Settings
from qa.engine import Engine
from qa.ingest.chunking import embedding_text, split_into_chunks
from qa.models import Article, TimeWindow
from qa.store import LocalStore, Store
from tests.conftest import needs_milvus, open_files_under
from tests.embedders import HashEmbedder

BACKENDS = [
    pytest.param("local"),
    pytest.param("milvus-embedded", marks=needs_milvus),
    pytest.param("milvus-server", marks=needs_milvus),
]
EMBEDDER = HashEmbedder()
_names = itertools.count()


@dataclass
class Backend:
    """A store under test, and how to open another client on the same archive."""

    name: str
    connect: Callable[[], Store]
    settings: dict[str, Any]  # what selects this archive in ``Settings``
    opened: list[Any] = field(default_factory=list)

    def open(self) -> Store:
        store = self.connect()
        self.opened.append(store)
        return store


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each backend with a fresh archive (a new collection prefix on the shared server)."""
    name: str = request.param
    if name == "local":
        connect = lambda: LocalStore(tmp_path / "index", EMBEDDER.dimension, EMBEDDER.name)  # noqa: E731
        yield Backend(name, connect, {"store": "local"})
        return
    from qa.store.milvus import MilvusStore

    uri = str(tmp_path / "m.db") if name == "milvus-embedded" else request.getfixturevalue("milvus_server")
    prefix = f"t{next(_names)}"
    made = Backend(
        name,
        lambda: MilvusStore(uri, "", prefix, EMBEDDER.dimension, EMBEDDER.name),
        {"store": "milvus", "milvus_uri": uri, "milvus_collection": prefix},
    )
    yield made
    if made.opened:
        made.opened[0].drop()
    for store in made.opened:
        store.close()
    if name == "milvus-embedded":
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(uri)


def article(doc_id: str, title: str, body: str, published: str | None = None, source: str = "") -> Article:
    return Article(id=doc_id, title=title, text=body, source=source or f"{doc_id}.txt", published=published)


def write(store: Store, *articles: Article, file: str | None = None) -> None:
    """Chunk, embed (test embedder) and store articles, as the indexer does."""
    chunk_lists = split_into_chunks(list(articles))
    with store.writer() as writer:
        for item, chunks in zip(articles, chunk_lists, strict=True):
            texts = [embedding_text(item.title, c.text) for c in chunks]
            shifts = [len(t) - len(c.text) for t, c in zip(texts, chunks, strict=True)]
            spans = [[(a + s, b + s) for a, b in c.sentences] for c, s in zip(chunks, shifts, strict=True)]
            vectors, pooled = EMBEDDER.encode_passages(texts, spans)
            writer.add_article(item, chunks, vectors, file, pooled)


def keyword_ids(store: Store, question: str, window: TimeWindow | None = None) -> set[str]:
    """The ids of the articles whose chunks BM25 finds for a question."""
    with store.snapshot() as snap:
        hits = snap.keyword_search(keyword_terms(question), 20, window)
        return {r.article.id for r in snap.chunk_records([i for i, _ in hits]).values()}


BRIDGE = article(
    "bridge", "River bridge", "The old bridge over the river closed for repairs in March.", "2021-03-02"
)
PLANT = article(
    "plant", "Power plant", "The power plant opened and employs 300 workers.", "2020-01-05T10:00:00"
)
MAYOR = article("mayor", "Mayor", "The mayor visited the bridges of the harbour.")


def test_store_adds_replaces_and_removes_articles(backend: Backend) -> None:
    """An article replaced loses its old words; one removed is gone, and removing it again is False."""
    store = backend.open()
    assert store.is_empty()
    write(store, BRIDGE, PLANT)
    assert store.stats() == {"articles": 2, "chunks": 2}
    write(store, article("bridge", "River bridge", "The ferry replaced the crossing.", "2021-03-02"))
    assert store.stats() == {"articles": 2, "chunks": 2}
    assert keyword_ids(store, "repairs") == set() and keyword_ids(store, "ferry") == {"bridge"}
    with store.writer() as writer:
        assert writer.remove_article("plant") is True
        assert writer.remove_article("plant") is False
    assert store.stats() == {"articles": 1, "chunks": 1} and store.document("plant") is None


def test_store_keyword_and_dense_search_keep_to_a_time_window(backend: Backend) -> None:
    """BM25 stems (bridges finds bridge) and both searches keep to the window's articles."""
    store = backend.open()
    write(store, BRIDGE, PLANT, MAYOR)
    assert keyword_ids(store, "bridges") == {"bridge", "mayor"}
    in_2021 = TimeWindow(date(2021, 1, 1), date(2022, 1, 1))
    assert keyword_ids(store, "bridges", in_2021) == {"bridge"}
    assert keyword_ids(store, "bridges", TimeWindow(date(2021, 3, 3), None)) == set()
    assert keyword_ids(store, "plant", TimeWindow(None, date(2020, 1, 6))) == {"plant"}
    with store.snapshot() as snap:
        assert snap.has_dates() and snap.vector_count() == 3
        assert snap.newest_day() == date(2021, 3, 2)
        allowed = snap.chunk_ids_in(in_2021)
        assert len(allowed) == 1
        query = EMBEDDER.encode(["power plant workers"])
        scores, ids = snap.dense_search(query, 3)
        best = snap.chunk_records([int(ids[0][0])])[int(ids[0][0])]
        assert best.article.id == "plant" and scores[0][0] > scores[0][1]
        scores, ids = snap.dense_search(query, 3, allowed)
        assert [int(i) for i in ids[0] if i >= 0] == [int(allowed[0])]
        scores, ids = snap.dense_search(query, 3, np.array([int(allowed[0])], dtype=np.int64))
        assert [int(i) for i in ids[0] if i >= 0] == [int(allowed[0])]


def test_store_lists_the_chunks_of_articles(backend: Backend) -> None:
    """``chunk_ids_of`` names every passage of the articles asked for, and only theirs."""
    store = backend.open()
    write(store, BRIDGE, PLANT, MAYOR)
    with store.snapshot() as snap:
        ids = snap.chunk_ids_of(["plant", "mayor", "missing"])
        records = snap.chunk_records([int(i) for i in ids])
        assert sorted(r.article.id for r in records.values()) == ["mayor", "plant"]
        assert len(snap.chunk_ids_of([])) == 0


def test_store_retrieves_through_the_retriever(backend: Backend) -> None:
    """The retriever's hybrid search ranks the article that answers first, inside a window too."""
    store = backend.open()
    write(store, BRIDGE, PLANT, MAYOR)
    retriever = Retriever(EMBEDDER)
    found = retriever.retrieve(store, "How many workers does the power plant employ?", 3)
    assert found.passages[0].article.id == "plant" and found.passages[0].keyword_score == 1.0
    assert found.idf["plant"] > 0
    window = TimeWindow(date(2021, 1, 1), None)
    found = retriever.retrieve(store, "Which bridge closed?", 3, window=window)
    assert [p.article.id for p in found.passages] == ["bridge"]


def test_store_chunk_records_carry_text_sentences_and_vectors(backend: Backend) -> None:
    """A chunk record holds the chunk's text, sentences, article and sentence vectors; its vector is kept."""
    store = backend.open()
    long = article("long", "Long", " ".join(f"Sentence number {n} talks about topic {n}." for n in range(60)))
    write(store, long, MAYOR, file="/data/news/long.txt")
    chunks = split_into_chunks([long])[0]
    with store.snapshot() as snap:
        total, frequencies = snap.term_frequencies(["topic", "mayor", "harbour", "nowher"])
        assert total == len(chunks) + 1
        assert frequencies == {"topic": len(chunks), "mayor": 1, "harbour": 1}
        _, ids = snap.dense_search(EMBEDDER.encode(["sentence number topic"]), 50)
        records = snap.chunk_records([int(i) for i in ids[0] if i >= 0] + [123456789])
        assert len(records) == len(chunks) + 1
        mine = [r for r in records.values() if r.article.id == "long"]
        assert {r.text for r in mine} == {c.text for c in chunks}
        first = next(r for r in mine if r.text == chunks[0].text)
        assert first.sentences == chunks[0].sentences
        assert first.article.path == "/data/news/long.txt" and first.article.source == "long.txt"
        assert first.sentence_vectors is not None and first.sentence_vectors.shape == (
            len(first.sentences),
            64,
        )
        vectors = snap.chunk_vectors(np.array([first.id], dtype=np.int64))
        expected = EMBEDDER.encode([embedding_text("Long", first.text)])
        assert np.allclose(vectors, expected, atol=1e-5)


@pytest.mark.parametrize("rows", [16_384, 2])
def test_store_counts_term_frequencies(backend: Backend, monkeypatch: pytest.MonkeyPatch, rows: int) -> None:
    """Chunks per stem, read in one query or (more matches than a query returns) counted per stem."""
    if backend.name != "local":
        from qa.store.milvus import snapshot

        monkeypatch.setattr(snapshot, "MATCH_ROWS", rows)
    store = backend.open()
    write(store, BRIDGE, PLANT, MAYOR)
    with store.snapshot() as snap:
        found = snap.term_frequencies(["bridg", "plant", "harbour", "nowher"])
    assert found == (3, {"bridg": 2, "plant": 1, "harbour": 1})


def test_store_lists_documents(backend: Backend) -> None:
    """Listing pages, orders and searches articles; a long article's full text comes back whole."""
    store = backend.open()
    text = "".join(
        f"Paragraph {n} of the long report on the harbour.\n\n" for n in range(1200)
    )  # > 16k chars
    write(store, article("z", "Zebra report", text, "2019-05-01", source="reports/z.txt"), file="/f/z.txt")
    write(store, MAYOR, BRIDGE)
    infos, total = store.documents()
    assert total == 3 and [i.id for i in infos] == ["z", "mayor", "bridge"]
    assert [i.id for i in store.documents(order="title")[0]] == ["mayor", "bridge", "z"]
    assert [i.id for i in store.documents(order="date")[0]] == ["bridge", "z", "mayor"]
    page, total = store.documents(offset=1, limit=1, search="R")
    assert total == 3 and [i.id for i in page] == ["mayor"]
    assert [i.id for i in store.documents(search="reports/")[0]] == ["z"]
    found = store.document("z")
    assert found is not None and found[1] == text and found[0].chunks > 1 and found[0].path == "/f/z.txt"
    assert store.article_ids_from("reports/z.txt") == ["z"] == store.article_ids_from("/f/z.txt")


def test_store_keeps_file_hashes(backend: Backend) -> None:
    """File hashes are recorded, listed by folder, and forgotten with the file's articles."""
    store = backend.open()
    write(store, BRIDGE, file="/news/a_b/x.txt")
    with store.writer() as writer:
        writer.set_file("/news/a_b/x.txt", "1" * 64)
        writer.set_file("/news/aXb/y.txt", "2" * 64)
        writer.set_file("/news/a_b/x.txt", "3" * 64)
        assert writer.articles_of_file("/news/a_b/x.txt") == ["bridge"]
    assert store.file_hash("/news/a_b/x.txt") == "3" * 64 and store.file_hash("/nowhere") is None
    assert store.files_under("/news/a_b") == ["/news/a_b/x.txt"]
    assert set(store.files_under("/news/")) == {"/news/a_b/x.txt", "/news/aXb/y.txt"}
    with store.writer() as writer:
        assert writer.forget_file("/news/a_b/x.txt") == ["bridge"]
    assert store.file_hash("/news/a_b/x.txt") is None and store.is_empty()


def test_store_finds_duplicate_stories(backend: Backend) -> None:
    """A re-published story points to its original; removing the original promotes the oldest copy."""
    store = backend.open()
    body = " ".join(f"The council met on day {n} to discuss the harbour budget." for n in range(20))
    write(store, article("first", "Budget", body))
    write(store, article("second", "Budget again", body + " Updated."))
    write(store, article("third", "Budget once more", body))
    with store.snapshot() as snap:
        assert snap.originals(["second", "third", "first"]) == {
            "second": "first",
            "third": "first",
            "first": "first",
        }
        assert [m.id for m in snap.copies(["first"])["first"]] == ["first", "second", "third"]
    with store.writer() as writer:
        writer.remove_article("first")
    with store.snapshot() as snap:
        assert snap.originals(["third"]) == {"third": "second"}
        assert [m.id for m in snap.copies(["second"])["second"]] == ["second", "third"]
    assert {i.id: i.duplicate_of for i in store.documents()[0]} == {"second": None, "third": "second"}


def test_store_write_by_one_client_is_seen_by_another(backend: Backend) -> None:
    """Another client (another replica) answers from an article written after it opened."""
    one, two = backend.open(), backend.open()
    write(one, PLANT)
    assert two.stats() == {"articles": 1, "chunks": 1}
    write(two, BRIDGE)
    assert keyword_ids(one, "bridge") == {"bridge"} and one.document("bridge") is not None
    with one.writer() as writer:
        writer.remove_article("plant")
    assert keyword_ids(two, "plant") == set() and two.stats()["articles"] == 1


def test_engine_indexes_a_folder_incrementally_and_answers(backend: Backend, tmp_path: Path) -> None:
    """Through the engine: a folder indexed once, skipped when unchanged, a file's edit replaces it."""
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "a.txt").write_text("Power plant\n\nThe power plant employs 300 workers.\n", encoding="utf-8")
    (folder / "b.txt").write_text("Bridge\n\nThe old bridge closed for repairs.\n", encoding="utf-8")
    settings = Settings(index_dir=tmp_path / "index", reader="off", abstain_threshold=0.0, **backend.settings)
    engine = Engine(settings, embedder=HashEmbedder())
    try:
        assert len(engine.index_paths([folder]).added) == 2
        assert engine.index_paths([folder]).unchanged == 2
        (folder / "b.txt").write_text("Bridge\n\nA ferry replaced the crossing.\n", encoding="utf-8")
        assert len(engine.index_paths([folder]).added) == 1
        assert engine.stats() == {"articles": 2, "chunks": 2}
        answers = engine.ask("How many workers does the power plant employ?").answers
        assert answers and "300 workers" in answers[0].text
        assert all("repairs" not in p.text for p in engine.search("bridge repairs", k=5))
    finally:
        engine.close()


def test_a_removed_article_comes_back_when_its_file_is_reindexed(backend: Backend, tmp_path: Path) -> None:
    """`qa docs remove` then `qa index` of its folder (or the file itself) brings the article back: the
    file is read again, not found unchanged; the folder's other files stay unchanged."""
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "a.txt").write_text("Power plant\n\nThe power plant employs 300 workers.\n", encoding="utf-8")
    (folder / "b.txt").write_text("Bridge\n\nThe old bridge closed for repairs.\n", encoding="utf-8")
    settings = Settings(index_dir=tmp_path / "index", reader="off", **backend.settings)
    engine = Engine(settings, embedder=HashEmbedder())
    try:
        first = engine.index_paths([folder]).added
        engine.remove_document(first[0])
        again = engine.index_paths([folder])
        assert again.added == [first[0]] and again.unchanged == 1
        engine.remove_document(first[1])
        assert engine.index_paths([folder / "b.txt"]).added == [first[1]]
        assert engine.stats() == {"articles": 2, "chunks": 2}
        assert engine.index_paths([folder]).unchanged == 2
    finally:
        engine.close()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_engine_close_releases_every_threads_index_connection(tmp_path: Path) -> None:
    """`Engine.close()` (a server shutting down) closes every SQLite connection that the threads
    reading the index opened, and the engine opens the index again when asked afterwards."""
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "a.txt").write_text("Power plant\n\nThe power plant employs 300 workers.\n", encoding="utf-8")
    index = tmp_path / "index"
    engine = Engine(Settings(index_dir=index, reader="off", abstain_threshold=0.0), embedder=HashEmbedder())
    engine.index_paths([folder])
    with ThreadPoolExecutor(3) as pool:  # three threads read at once, through the store's pool
        list(pool.map(lambda _: engine.ask("How many workers?"), range(6)))
    assert open_files_under(index) > 0
    engine.close()
    assert open_files_under(index) == 0
    assert "300 workers" in engine.ask("How many workers does the power plant employ?").answers[0].text
    engine.close()


def test_engine_lists_and_removes_without_loading_the_model(backend: Backend, tmp_path: Path) -> None:
    """An archive that records its model is listed and changed without loading it (``qa docs``)."""
    settings = Settings(index_dir=tmp_path / "index", reader="off", **backend.settings)
    writer = Engine(settings, embedder=HashEmbedder())
    writer.add_articles([BRIDGE, PLANT])
    writer.close()
    # No such sentence-transformers model exists: loading it would fail.
    engine = Engine(settings.model_copy(update={"model": EMBEDDER.name}))
    try:
        assert engine.document_page()[1] == 2
        engine.remove_document("plant")
        assert engine.stats() == {"articles": 1, "chunks": 1}
    finally:
        engine.close()


WRITER = """
import sys
from qa.store.milvus import MilvusStore
from tests.test_store_backends import EMBEDDER, article, write

store = MilvusStore(sys.argv[1], "", sys.argv[2], EMBEDDER.dimension, EMBEDDER.name)
for n in range(5):
    write(store, article(f"a{n}", f"Story {n}", f"Story number {n} is about the harbour. " * (n + 1)))
store.close()
"""


@pytest.mark.slow
@needs_milvus
def test_two_writer_processes_store_every_article_once(milvus_server: str) -> None:
    """Two processes writing the same articles at once to one server leave each article once."""
    from qa.store.milvus import MilvusStore

    prefix = f"t{next(_names)}"
    command = [sys.executable, "-c", WRITER, milvus_server, prefix]
    repo = Path(__file__).resolve().parents[1]
    writers = [subprocess.Popen(command, cwd=repo, stderr=subprocess.PIPE) for _ in range(2)]
    errors = [process.communicate(timeout=300)[1].decode() for process in writers]
    assert [process.returncode for process in writers] == [0, 0], errors
    store = MilvusStore(milvus_server, "", prefix, EMBEDDER.dimension, EMBEDDER.name)
    try:
        infos, total = store.documents()
        assert total == 5 and sorted(i.id for i in infos) == [f"a{n}" for n in range(5)]
        assert store.stats()["chunks"] == sum(i.chunks for i in infos)
    finally:
        store.drop()
        store.close()


def test_store_keeps_a_wire_story_s_place(backend: Backend) -> None:
    """The place of a dateline comes back with the story's passages, its copies and its listing."""
    store = backend.open()
    wire = Article("wire", "Banks meet", "Banks met in the City.", "wire.txt", "1987-06-01", place="LONDON")
    write(store, wire, BRIDGE)
    with store.snapshot() as snap:
        records = snap.chunk_records([i for i, _ in snap.keyword_search(keyword_terms("banks"), 5)])
        assert {r.article.id: r.article.place for r in records.values()} == {"wire": "LONDON"}
        assert [a.place for a in snap.copies(["wire"])["wire"]] == ["LONDON"]
    found = store.document("wire")
    assert found is not None and found[0].place == "LONDON"
    assert {d.id: d.place for d in store.documents()[0]} == {"wire": "LONDON", "bridge": None}
