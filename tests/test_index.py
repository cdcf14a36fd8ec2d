"""Indexing: incremental by content hash, replacement, folder pruning, removal, and crash safety."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.engine import Engine
from qa.errors import DocumentNotFoundError, IndexCorruptError
from qa.ingest.selection import FileSelection
from qa.store import LocalStore
from tests.conftest import SEEDS
from tests.embedders import HashEmbedder


def write(path: Path, title: str, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{title}\n\n{body}\n", encoding="utf-8")
    return path


def embedder_of(engine: Engine) -> HashEmbedder:
    embedder = engine.embedder
    assert isinstance(embedder, HashEmbedder)
    return embedder


def test_unchanged_files_are_not_re_embedded(hash_engine: Engine, tmp_path: Path) -> None:
    """A second run over the same folder embeds nothing and changes nothing."""
    folder = tmp_path / "news"
    write(folder / "a.txt", "Alpha", "The alpha plant opened in March. It employs 300 people.")
    write(folder / "b.txt", "Beta", "The beta bridge closed for repairs.")
    first = hash_engine.index_paths([folder])
    assert len(first.added) == 2 and first.chunks_embedded > 0
    before = embedder_of(hash_engine).encoded
    second = hash_engine.index_paths([folder])
    assert second.added == [] and second.unchanged == 2 and second.chunks_embedded == 0
    assert embedder_of(hash_engine).encoded == before
    assert hash_engine.stats()["articles"] == 2


def test_changed_file_replaces_its_chunks(hash_engine: Engine, tmp_path: Path) -> None:
    """Editing a file replaces its old chunks: the old text is no longer found, the new one is."""
    path = write(tmp_path / "n" / "a.txt", "Alpha", "The old mayor opened the museum.")
    hash_engine.index_paths([path])
    write(path, "Alpha", "The new stadium hosts the final.")
    report = hash_engine.index_paths([path])
    assert len(report.added) == 1
    info, text = hash_engine.document(report.added[0])
    assert "stadium" in text and "museum" not in text
    assert hash_engine.stats() == {"articles": 1, "chunks": info.chunks}
    assert all("museum" not in p.text for p in hash_engine.search("museum mayor", k=5))


def test_a_record_gone_from_a_changed_file_is_reported_removed(hash_engine: Engine, tmp_path: Path) -> None:
    """Deleting one line of a .jsonl removes that article and says so; the others are replaced."""
    path = tmp_path / "feed.jsonl"
    rows = [
        {"id": f"r{n}", "title": f"Story {n}", "text": f"Story number {n} about harbours."} for n in range(3)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    hash_engine.index_paths([path])
    path.write_text("".join(json.dumps(r) + "\n" for r in rows[:2]), encoding="utf-8")
    report = hash_engine.index_paths([path])
    assert report.removed == ["r2"] and sorted(report.added) == ["r0", "r1"]
    assert sorted(d.id for d in hash_engine.documents()) == ["r0", "r1"]


def test_reindexing_a_folder_removes_vanished_files_only(hash_engine: Engine, tmp_path: Path) -> None:
    """Files gone from a re-indexed folder lose their articles; articles from elsewhere stay."""
    folder = tmp_path / "folder"
    keep = write(folder / "keep.txt", "Keep", "Kept story about rivers.")
    gone = write(folder / "gone.txt", "Gone", "Removed story about mountains.")
    other = write(tmp_path / "elsewhere" / "other.txt", "Other", "Another story about lakes.")
    hash_engine.index_paths([folder, other])
    gone.unlink()
    report = hash_engine.index_paths([folder])
    assert len(report.removed) == 1
    titles = sorted(d.title for d in hash_engine.documents())
    assert titles == ["Keep", "Other"]
    assert keep.exists()


def test_remove_document_and_unknown_id(hash_engine: Engine, tmp_path: Path) -> None:
    """`remove_document` drops an article and its passages; an unknown id is a clear error."""
    hash_engine.index_paths([write(tmp_path / "a.txt", "Alpha", "Alpha text about trains.")])
    doc = hash_engine.documents()[0]
    hash_engine.remove_document(doc.id)
    assert hash_engine.stats() == {"articles": 0, "chunks": 0}
    assert hash_engine.search("trains", k=3) == [] or all(
        p.article.id != doc.id for p in hash_engine.search("trains")
    )
    with pytest.raises(DocumentNotFoundError):
        hash_engine.remove_document(doc.id)


def test_bad_files_are_skipped_and_named(hash_engine: Engine, tmp_path: Path) -> None:
    """A folder with bad files: each is skipped with its reason; the good ones are indexed."""
    folder = tmp_path / "mixed"
    write(folder / "good.txt", "Good", "A good article about ferries.")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02\x03" * 100)
    (folder / "image.png").write_bytes(b"\x89PNG")
    report = hash_engine.index_paths([folder, tmp_path / "missing"])
    skipped = {Path(p).name: reason for p, reason in report.skipped}
    assert set(skipped) == {"empty.txt", "binary.txt", "image.png", "missing"}
    assert "binary" in skipped["binary.txt"] and "empty" in skipped["empty.txt"]
    assert len(report.added) == 1 and report.partial


def test_failed_write_leaves_the_previous_index_whole(tmp_path: Path) -> None:
    """An exception in the middle of a write rolls back: the old articles and vectors are intact."""
    settings = Settings(index_dir=tmp_path / "index", seeds_dir=SEEDS)
    engine = Engine(settings, embedder=HashEmbedder())
    engine.index_paths([SEEDS])
    before = engine.stats()
    article = engine.load_upload("extra.txt", b"Extra\n\nAn extra article about ships.")[0][0]
    with pytest.raises(RuntimeError), engine.store.writer() as writer:
        writer.remove_article(engine.documents()[0].id)
        writer.add_article(article, [], HashEmbedder().encode([]), None)
        raise RuntimeError("simulated crash")
    assert engine.stats() == before
    # A fresh process (a new engine) reads the same, whole index.
    reopened = Engine(settings, embedder=HashEmbedder())
    assert reopened.stats() == before
    assert reopened.search("When did the war start?", k=1)[0].article.title.startswith("Israeli regime")


def test_crash_between_vector_file_and_commit_keeps_old_version(tmp_path: Path) -> None:
    """A vectors file written by a run that died before its commit is ignored, then cleaned up."""
    settings = Settings(index_dir=tmp_path / "index", seeds_dir=SEEDS)
    engine = Engine(settings, embedder=HashEmbedder())
    engine.index_paths([SEEDS])
    index_dir = settings.index_dir
    current = sorted(index_dir.glob("vectors-*.faiss"))[-1]
    version = int(current.stem.split("-")[1])
    shutil.copy(current, index_dir / f"vectors-{version + 1}.faiss")  # orphan of a dead run
    (index_dir / f"vectors-{version + 2}.faiss.tmp").write_bytes(b"partial")
    reopened = Engine(settings, embedder=HashEmbedder())
    assert reopened.stats()["articles"] == 1
    assert reopened.search("war", k=1)
    reopened.add_articles(reopened.load_upload("n.txt", b"New\n\nA new article about ports.")[0])
    names = sorted(p.name for p in index_dir.glob("vectors-*"))
    assert names == [f"vectors-{version}.faiss", f"vectors-{version + 1}.faiss"]
    assert isinstance(reopened.store, LocalStore) and reopened.stats()["articles"] == 2


def test_uploads_without_ids_never_collide(hash_engine: Engine) -> None:
    """Two uploads of the same name without ids get ids from their content and both stay indexed."""
    first, _ = hash_engine.load_upload("../../etc/notes.json", b'[{"text": "One story about roads."}]')
    second, _ = hash_engine.load_upload("notes.json", b'[{"text": "Another story about rails."}]')
    assert first[0].id != second[0].id
    assert first[0].source == second[0].source == "upload:notes.json"
    hash_engine.add_articles(first + second)
    assert hash_engine.stats()["articles"] == 2


def test_passages_carry_their_sentence_vectors(hash_engine: Engine, tmp_path: Path) -> None:
    """Each stored passage has one vector per sentence, so a question encodes nothing but itself."""
    write(tmp_path / "n" / "a.txt", "Alpha", "The alpha plant opened in March. It employs 300 people.")
    hash_engine.index_paths([tmp_path / "n"])
    passage = hash_engine.search("How many people work at the alpha plant?", k=1)[0]
    vectors = passage.sentence_vectors
    assert vectors is not None and vectors.shape == (len(passage.sentences), HashEmbedder.dimension)
    for row, (start, end) in zip(vectors, passage.sentences, strict=True):
        expected = HashEmbedder().encode([passage.text[start:end]])[0]
        assert np.allclose(row, expected, atol=2e-3)  # stored as float16
    before = embedder_of(hash_engine).encoded
    assert hash_engine.ask("How many people does the alpha plant employ?").answers
    assert embedder_of(hash_engine).encoded == before + 1  # the question only


def test_passages_without_sentence_vectors_still_answer(tmp_path: Path) -> None:
    """Chunks stored without sentence vectors (an embedder that gives none) still answer: their
    sentences are encoded when the sentence picker needs them, and the answers are the same."""
    settings = Settings(index_dir=tmp_path / "index", seeds_dir=SEEDS, reader="off")
    engine = Engine(settings, embedder=HashEmbedder())
    engine.index_paths([SEEDS])
    question = "When did the war start?"
    expected = [a.text for a in engine.ask(question).answers]
    engine.close()
    with sqlite3.connect(settings.index_dir / "meta.sqlite") as conn:
        conn.execute("UPDATE chunks SET sentence_vectors = NULL")
    old = Engine(settings, embedder=HashEmbedder())
    assert old.search(question, k=1)[0].sentence_vectors is None
    before = embedder_of(old).encoded
    assert [a.text for a in old.ask(question).answers] == expected
    assert embedder_of(old).encoded > before + 1  # sentences encoded on demand
    old.add_articles(old.load_upload("n.txt", b"New\n\nA new article about ports. Ships dock there.")[0])
    assert old.search("ports ships dock", k=1)[0].sentence_vectors is not None


def test_index_from_before_sentence_vectors_is_refused(hash_engine: Engine) -> None:
    """An index of the unreleased schema without the sentence-vector column asks to be built again."""
    hash_engine.add_articles(hash_engine.load_upload("n.txt", b"Ports\n\nShips dock at the port.")[0])
    hash_engine.close()
    with sqlite3.connect(hash_engine.settings.index_dir / "meta.sqlite") as conn:
        conn.execute("ALTER TABLE chunks DROP COLUMN sentence_vectors")
    with pytest.raises(IndexCorruptError, match="build it again"):
        hash_engine.stats()


def vocab_counts(engine: Engine, stems: list[str]) -> tuple[int, dict[str, int]]:
    """What FTS5 itself counts: the reference for the counts writers keep."""
    with sqlite3.connect(engine.settings.index_dir / "meta.sqlite") as conn:
        total = int(conn.execute("SELECT count(*) FROM chunks").fetchone()[0])
        marks = ",".join("?" * len(stems))
        rows = conn.execute(f"SELECT term, doc FROM chunks_vocab WHERE term IN ({marks})", stems)
        return total, {str(t): int(d) for t, d in rows}


def kept_counts(engine: Engine, stems: list[str]) -> tuple[int, dict[str, int]]:
    with engine.store.snapshot() as snap:
        return snap.term_frequencies(stems)


def test_writers_keep_per_term_chunk_counts(hash_engine: Engine, tmp_path: Path) -> None:
    """The counts keyword search reads match FTS5's own through adds, replacements and removals."""
    stems = ["alpha", "plant", "bridg", "repair", "march"]
    write(tmp_path / "n" / "a.txt", "Alpha", "The alpha plant opened in March. It employs 300 people.")
    write(
        tmp_path / "n" / "b.txt", "Beta", "The beta bridge closed for repairs. The bridge reopened in March."
    )
    hash_engine.index_paths([tmp_path / "n"])
    assert kept_counts(hash_engine, stems) == vocab_counts(hash_engine, stems)
    write(tmp_path / "n" / "b.txt", "Beta", "The beta plant closed.")
    hash_engine.index_paths([tmp_path / "n"])
    assert kept_counts(hash_engine, stems) == vocab_counts(hash_engine, stems)
    hash_engine.remove_document(hash_engine.documents()[0].id)
    total, counts = kept_counts(hash_engine, stems)
    assert (total, counts) == vocab_counts(hash_engine, stems) and "alpha" not in counts


def test_an_index_without_term_counts_gets_them_on_next_write(hash_engine: Engine, tmp_path: Path) -> None:
    write(tmp_path / "n" / "a.txt", "Alpha", "The alpha plant opened in March.")
    hash_engine.index_paths([tmp_path / "n"])
    with sqlite3.connect(hash_engine.settings.index_dir / "meta.sqlite") as conn:
        conn.execute("DELETE FROM meta WHERE key = 'chunks'")
        conn.execute("DELETE FROM terms")
    stems = ["alpha", "plant", "ship"]
    assert kept_counts(hash_engine, stems) == vocab_counts(hash_engine, stems)  # counted by FTS5
    hash_engine.add_articles(hash_engine.load_upload("s.txt", b"Ships\n\nShips dock at the plant.")[0])
    assert kept_counts(hash_engine, stems) == vocab_counts(hash_engine, stems)
    with sqlite3.connect(hash_engine.settings.index_dir / "meta.sqlite") as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'chunks'").fetchone() == ("2",)


def _archive_with_extras(folder: Path) -> None:
    """Articles beside the files a downloaded dataset carries with it."""
    for name in ("news/001.txt", "news/002.txt", "drafts/003.txt", "notes/004.md"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(f"Article {name}\n\nThe harbour of {name} opened on Friday.\n")
    for name in ("README.TXT", "LICENSE", "news/CHANGELOG.md", "Copying", "NOTICE.txt", ".hidden.txt"):
        (folder / name).write_text("About this dataset\n\nThe articles are from a news site.\n")


def test_files_that_are_not_articles_are_left_out_once(
    hash_engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """README, LICENSE, COPYING, CHANGELOG, NOTICE and hidden files are left out, in one log line."""
    _archive_with_extras(tmp_path)
    with caplog.at_level(logging.WARNING, logger="qa"):
        report = hash_engine.index_paths([tmp_path])
    titles = sorted(d.title for d in hash_engine.documents())
    assert titles == [
        f"Article {n}" for n in ("drafts/003.txt", "news/001.txt", "news/002.txt", "notes/004.md")
    ]
    assert not report.partial
    lines = [r.getMessage() for r in caplog.records if "not articles" in r.getMessage()]
    assert len(lines) == 1 and "README.TXT" in lines[0] and "5 file(s)" in lines[0], lines
    named = hash_engine.index_paths([tmp_path / "README.TXT"])  # named directly: read
    assert len(named.added) == 1


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        ((), ("drafts",), ["news/001.txt", "news/002.txt", "notes/004.md"]),
        ((), ("*.md", "news/002.txt"), ["drafts/003.txt", "news/001.txt"]),
        (("*.md",), (), ["notes/004.md"]),
        (("news/*",), ("002.txt",), ["news/001.txt"]),
    ],
)
def test_include_and_exclude_globs_choose_the_files(
    hash_engine: Engine,
    tmp_path: Path,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    expected: list[str],
) -> None:
    """--include keeps matching files only, --exclude drops files or folders; dropped ones leave the index."""
    _archive_with_extras(tmp_path)
    hash_engine.index_paths([tmp_path])
    hash_engine.index_paths([tmp_path], selection=FileSelection(include, exclude))
    assert sorted(d.title for d in hash_engine.documents()) == [f"Article {n}" for n in expected]
