"""The local store's vectors in segments: small files per write, exact results, merges, old indexes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from qa.models import Article, Chunk
from qa.store import LocalStore
from qa.store.concurrency import READING_CONNECTIONS
from qa.store.segments import MAX_DELTAS, MERGE_RATIO
from qa.store.sizing import IndexType
from qa.store.vectors import VectorIndex
from tests.conftest import open_files_under, open_paths

REPO = Path(__file__).resolve().parent.parent
DIM = 16
MODEL = "test-vectors"
BASE_CHUNKS = 25  # chunks per article of the first write (fewer articles: a faster test)


def open_store(index_dir: Path, index_type: IndexType = "auto") -> LocalStore:
    return LocalStore(index_dir, DIM, MODEL, index_type=index_type)


def vectors_of(number: int, chunks: int) -> np.ndarray:
    """The (normalized, random) vectors of article ``number``'s chunks: the same on every call."""
    rows = np.random.default_rng(number).standard_normal((chunks, DIM)).astype(np.float32)
    out: np.ndarray = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out


def article(number: int, chunks: int, edition: int = 0) -> tuple[Article, list[Chunk], np.ndarray]:
    """Article ``a<number>`` of ``chunks`` one-sentence chunks; an edition gets other vectors."""
    words = np.random.default_rng(number).integers(0, 10**6, (chunks, 6))  # unlike any other article
    sentences = [" ".join(f"w{w}" for w in row) + f" {edition}." for row in words]
    text = " ".join(sentences)
    parts, start = [], 0
    for ordinal, sentence in enumerate(sentences):
        parts.append(
            Chunk(f"a{number}", ordinal, start, start + len(sentence), sentence, ((0, len(sentence)),))
        )
        start += len(sentence) + 1
    found = Article(id=f"a{number}", title=f"Article {number}", text=text, source="test")
    return found, parts, vectors_of(number * 1000 + edition, chunks)


def write(store: LocalStore, numbers: range | list[int], chunks: int = 5, edition: int = 0) -> None:
    """Add (or replace) these articles in one write."""
    with store.writer() as writer:
        for number in numbers:
            found, parts, vectors = article(number, chunks, edition)
            writer.add_article(found, parts, vectors, None)


def connections_to(index_dir: Path) -> int:
    """How many SQLite connections of this process have the index database open (one descriptor each;
    they share the WAL index)."""
    return open_paths().count(index_dir / "meta.sqlite")


def fill(store: LocalStore, count: int) -> None:
    """Articles 0.. of ``BASE_CHUNKS`` chunks each, ``count`` vectors in all, in one write."""
    write(store, range(count // BASE_CHUNKS), chunks=BASE_CHUNKS)


def remove(store: LocalStore, numbers: list[int]) -> None:
    with store.writer() as writer:
        for number in numbers:
            assert writer.remove_article(f"a{number}")


def live_vectors(index_dir: Path, editions: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The truth, from SQLite and the generated vectors: every stored chunk id and its vector."""
    with sqlite3.connect(index_dir / "meta.sqlite") as conn:
        rows = conn.execute("SELECT id, article_id, ordinal FROM chunks ORDER BY id").fetchall()
        counts = dict(conn.execute("SELECT article_id, count(*) FROM chunks GROUP BY article_id").fetchall())
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    vectors = np.stack(
        [
            vectors_of(int(a[1:]) * 1000 + editions.get(int(a[1:]), 0), counts[a])[ordinal]
            for _, a, ordinal in rows
        ]
    )
    return ids, vectors


def assert_exact(store: LocalStore, editions: dict[int, int] | None = None) -> None:
    """Search, search among a subset and vector reads over the segments equal exact answers over
    the live vectors (removed and replaced ones never come back)."""
    ids, vectors = live_vectors(store.index_dir, editions or {})
    queries = vectors_of(999_999, 8)
    truth = np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :10]
    some = ids[:: max(1, len(ids) // 40)]
    with store.snapshot() as snap:
        assert snap.vector_count() == len(ids)
        scores, found = snap.dense_search(queries, 10)
        np.testing.assert_array_equal(found, ids[truth])
        np.testing.assert_allclose(scores, np.take_along_axis(queries @ vectors.T, truth, 1), atol=1e-5)
        np.testing.assert_allclose(snap.chunk_vectors(some), vectors[np.isin(ids, some)], atol=1e-6)
        _, among = snap.dense_search(queries[:1], 5, some)
        exact_among = some[np.argsort(-(vectors[np.isin(ids, some)] @ queries[0]))[:5]]
        np.testing.assert_array_equal(among[0], exact_among)


def segment_files(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.glob("vectors-*"))


def current_files(store: LocalStore) -> list[str]:
    with store.snapshot() as snap:
        return sorted(s.file for s in snap.vectors.segments)


def seq_of(name: str) -> int:
    """The version that wrote a segment file."""
    return int(name.removeprefix("vectors-").split(".")[0])


def fingerprint(path: Path) -> tuple[int, int, int]:
    """Inode, modification time and size: unchanged while nobody rewrites the file."""
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def test_segments_one_article_writes_one_small_file(tmp_path: Path) -> None:
    """Adding an article to a large base writes a small delta file; the base file stays as it is."""
    store = open_store(tmp_path / "index")
    fill(store, 2000)  # one write, one base file
    (base,) = current_files(store)
    before = fingerprint(tmp_path / "index" / base)
    write(store, [1000])
    files = current_files(store)
    assert len(files) == 2 and files[0] == base and files[1].endswith(".delta.faiss")
    assert fingerprint(tmp_path / "index" / base) == before
    assert (tmp_path / "index" / files[1]).stat().st_size < 2_000  # 5 vectors, not 2,005
    assert segment_files(tmp_path / "index") == files
    assert_exact(store)


@pytest.mark.parametrize("index_type", ["flat", "ivf"])
def test_segments_removed_and_replaced_never_come_back(tmp_path: Path, index_type: IndexType) -> None:
    """Removals (as tombstones) and replacements across base and deltas: the store answers as an
    exact search over the live vectors (IVF: removed ids are never returned)."""
    store = open_store(tmp_path / "index", index_type)
    fill(store, 5000)  # enough to train IVF
    write(store, [2000, 2001])
    write(store, [2002])
    remove(store, [3, 4, 2001])  # two from the base, one from a delta
    write(store, [5, 2000], edition=1)  # replaced: base and delta copies die, new vectors in a delta
    with store.writer() as writer:  # added and removed in the same write: never stored
        writer.add_article(*article(2003, 5), None)
        assert writer.remove_article("a2003")
    with store.snapshot() as snap:
        assert snap.vectors.kind == index_type and len(snap.vectors.deltas) == 3
        assert len(snap.vectors.tombstones) == 3 * BASE_CHUNKS + 2 * 5
    if index_type == "flat":
        assert_exact(store, {5: 1, 2000: 1})
        return
    ids, vectors = live_vectors(store.index_dir, {5: 1, 2000: 1})
    dead = [vectors_of(n * 1000, BASE_CHUNKS) for n in (3, 4, 5)]
    dead += [vectors_of(n * 1000, 5) for n in (2000, 2001, 2003)]
    with store.snapshot() as snap:
        assert snap.vector_count() == len(ids)
        _, found = snap.dense_search(np.concatenate(dead), 3)
        assert not set(found.ravel().tolist()) - set(ids.tolist()) - {-1}
        np.testing.assert_allclose(snap.chunk_vectors(ids[-20:]), vectors[-20:], atol=1e-6)
        _, found = snap.dense_search(vectors[-20:], 1)
        assert found[:, 0].tolist() == ids[-20:].tolist()


def test_segments_merge_past_the_threshold(tmp_path: Path) -> None:
    """Deltas and tombstones past MERGE_RATIO of the base fold into one new base, with the same
    answers; the previous version's files stay for readers until the next write."""
    index_dir = tmp_path / "index"
    store = open_store(index_dir)
    fill(store, 2000)
    assert MERGE_RATIO * 2000 == 100
    remove(store, [0])  # 25 tombstones
    for number in range(1000, 1007):  # 7 deltas of 10 vectors: 95 in all, not past 100
        write(store, [number], chunks=10)
    before = current_files(store)
    assert len(before) == 8 < MAX_DELTAS
    assert_exact(store)
    write(store, [1009], chunks=10)  # 105: past it; the write returns, a thread merges
    store.wait_for_merge()
    (merged,) = current_files(store)
    assert merged not in before and not merged.endswith(".delta.faiss")
    with store.snapshot() as snap:
        assert not len(snap.vectors.tombstones) and snap.vector_count() == 2000 - 25 + 80
    assert_exact(store)
    # The user's write was a commit of its own (its delta is in the previous version's files).
    users_write = f"vectors-{seq_of(merged) - 1}.delta.faiss"
    assert segment_files(index_dir) == sorted({*before, users_write, merged})
    write(store, [1010])
    assert segment_files(index_dir) == current_files(store)
    assert_exact(store)


def test_segments_many_deltas_fold_into_one(tmp_path: Path) -> None:
    """More than MAX_DELTAS delta files fold into one delta; the base file is not rewritten."""
    store = open_store(tmp_path / "index")
    fill(store, 1000)  # 50 vectors may wait in deltas
    (base,) = current_files(store)
    before = fingerprint(tmp_path / "index" / base)
    for number in range(1000, 1000 + MAX_DELTAS):
        write(store, [number], chunks=1)
    remove(store, [1003])  # a tombstone of a delta vector: gone with the fold
    assert len(current_files(store)) == 1 + MAX_DELTAS
    write(store, [2000], chunks=1)
    store.wait_for_merge()
    files = current_files(store)
    assert len(files) == 2 and files[0] == base and files[1].endswith(".delta.faiss")
    assert fingerprint(tmp_path / "index" / base) == before
    with store.snapshot() as snap:
        assert not len(snap.vectors.tombstones)
    assert_exact(store)


def test_segments_merge_threads_leave_no_connection_open(tmp_path: Path) -> None:
    """Each merge runs in a thread of its own, with a SQLite connection of its own: closed when the
    merge ends, so a long-running server's open files do not grow with every merge."""
    index_dir = tmp_path / "index"
    store = open_store(index_dir)
    fill(store, 1000)
    counts = []
    for merge in range(4):
        for number in range(MAX_DELTAS + 1):  # one past MAX_DELTAS: the deltas fold into one
            write(store, [10_000 + merge * 100 + number], chunks=1)
        store.wait_for_merge()
        counts.append(open_files_under(index_dir))
    assert counts == [counts[0]] * 4, counts
    store.close()
    assert open_files_under(index_dir) == 0


def test_reading_threads_that_end_leave_no_connection_open(tmp_path: Path) -> None:
    """A server's worker threads come and go: each borrows a connection of the store's pool for a read
    and gives it back, so open files (and the memory each connection maps) do not grow however many
    threads have come and gone, and ``close`` closes them all."""
    index_dir = tmp_path / "index"
    store = open_store(index_dir)
    fill(store, 10)
    counts = []
    for _ in range(8):  # eight threads, one after another
        thread = threading.Thread(target=store.stats)
        thread.start()
        thread.join()
        counts.append(open_files_under(index_dir))
    assert counts[1:] == [counts[1]] * 7, counts
    store.close()
    assert open_files_under(index_dir) == 0


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_readers_share_a_few_connections_and_a_writer_never_waits_for_them(tmp_path: Path) -> None:
    """Each connection maps the index (RSS counts a mapped page once per connection): however many
    threads read at once, the store opens at most ``READING_CONNECTIONS``, a reader beyond them
    waits for one to come back, and a write goes ahead while every one of them is lent."""
    index_dir = tmp_path / "index"
    store = open_store(index_dir)
    fill(store, 10)
    store.close()
    release, holding = threading.Event(), threading.Semaphore(0)
    counted: list[int] = []

    def hold() -> None:
        with store.snapshot() as snap:
            counted.append(snap.vector_count())
            holding.release()
            release.wait()

    holders = [threading.Thread(target=hold) for _ in range(READING_CONNECTIONS)]
    for thread in holders:
        thread.start()
    for _ in holders:
        assert holding.acquire(timeout=30)
    waiter = threading.Thread(target=hold)
    waiter.start()
    time.sleep(0.2)  # room for the waiter to open a connection of its own, were the pool to let it
    assert connections_to(index_dir) == READING_CONNECTIONS
    assert len(counted) == READING_CONNECTIONS
    write(store, [10])  # every reading connection is lent: the writer opens one of its own
    store.wait_for_merge()
    release.set()
    for thread in [*holders, waiter]:
        thread.join(timeout=30)
    # the waiter read once a holder gave its connection back: after the write
    assert counted[:-1] == [counted[0]] * READING_CONNECTIONS and counted[-1] > counted[0], counted
    store.close()
    assert open_files_under(index_dir) == 0


def test_segments_other_store_loads_only_new_files(tmp_path: Path) -> None:
    """A second store on the same directory (another process's view) sees every write and keeps
    the base it loaded instead of reading it again."""
    writer_store = open_store(tmp_path / "index")
    fill(writer_store, 1000)
    reader = open_store(tmp_path / "index")
    with reader.snapshot() as snap:
        base = snap.vectors.base
    write(writer_store, [1000])
    remove(writer_store, [7])
    with reader.snapshot() as snap:
        assert snap.vectors.base is base and len(snap.vectors.deltas) == 1
    assert_exact(reader)


def test_segments_compact_leaves_one_file(tmp_path: Path) -> None:
    """``compact`` folds everything into one base with the same answers."""
    store = open_store(tmp_path / "index")
    fill(store, 1000)
    write(store, [1000, 1001])
    remove(store, [3])
    store.compact()
    assert len(current_files(store)) == 1
    assert_exact(store)
    assert_exact(open_store(tmp_path / "index"))


def test_segments_old_single_file_index_opens_and_is_written(tmp_path: Path) -> None:
    """An index from before segments (one ``vectors-<N>.faiss``, no manifest) reads as a base;
    its next write adds a delta beside it and starts the manifest."""
    index_dir = tmp_path / "index"
    store = open_store(index_dir)
    fill(store, 1000)
    write(store, [1000])
    store.compact()
    (base,) = current_files(store)
    version = seq_of(base)
    with sqlite3.connect(index_dir / "meta.sqlite") as conn:  # as the previous release left it
        conn.execute("DELETE FROM meta WHERE key = 'segments'")
        conn.execute("DROP TABLE segments")
        conn.execute("DROP TABLE tombstones")
    for name in segment_files(index_dir):
        if name != base:
            os.unlink(index_dir / name)
    (index_dir / f"vectors-{version - 1}.faiss").write_bytes((index_dir / base).read_bytes())
    old = open_store(index_dir)
    assert current_files(old) == [base]
    assert_exact(old)
    before = fingerprint(index_dir / base)
    write(old, [1001])
    files = current_files(old)
    assert files[0] == base and len(files) == 2 and fingerprint(index_dir / base) == before
    assert segment_files(index_dir) == files  # the legacy previous version went with the first write
    assert_exact(old)
    assert_exact(open_store(index_dir))


def test_segments_index_written_by_an_earlier_release_since_reads_its_file(tmp_path: Path) -> None:
    """When an earlier release wrote after segments were kept (one ``vectors-<N>.faiss`` of the
    new version, every other file removed), that file is the index, not the stale manifest."""
    index_dir = tmp_path / "index"
    store = open_store(index_dir)
    fill(store, 1000)
    write(store, [1000])
    remove(store, [2])
    with store.snapshot() as snap:
        everything = VectorIndex(DIM, index_type="flat")
        everything.add(*snap.vectors.items())
        version = snap.version
    for name in segment_files(index_dir):
        os.unlink(index_dir / name)
    everything.save(index_dir / f"vectors-{version + 1}.faiss")
    with sqlite3.connect(index_dir / "meta.sqlite") as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'version'", (str(version + 1),))
    old = open_store(index_dir)
    assert current_files(old) == [f"vectors-{version + 1}.faiss"]
    assert_exact(old)
    write(old, [1001])
    assert (
        segment_files(index_dir)
        == current_files(old)
        == sorted([f"vectors-{version + 1}.faiss", f"vectors-{version + 2}.delta.faiss"])
    )
    assert_exact(old)


def test_segments_crash_before_commit_keeps_the_old_version(tmp_path: Path) -> None:
    """Files of a write that died before its commit are never read, and the next writer removes
    them (or replaces them, when it writes the same name)."""
    index_dir = tmp_path / "index"
    store = open_store(index_dir)
    fill(store, 1000)
    write(store, [1000])
    files = current_files(store)
    version = seq_of(files[-1])
    (index_dir / f"vectors-{version + 1}.delta.faiss").write_bytes(b"half a delta")
    (index_dir / f"vectors-{version + 1}.faiss.tmp").write_bytes(b"half a base")
    (index_dir / f"vectors-{version + 2}.faiss").write_bytes(b"a base nobody committed")
    reopened = open_store(index_dir)
    assert current_files(reopened) == files
    assert_exact(reopened)
    write(reopened, [1001])
    assert segment_files(index_dir) == current_files(reopened)
    assert_exact(reopened)
    assert_exact(open_store(index_dir))


CHILD = """
import sys
from pathlib import Path
from tests.test_segments import open_store, remove, write

store = open_store(Path(sys.argv[1]))
number = int(sys.argv[2])
while True:
    print("will add", number, flush=True)
    write(store, [number])
    print("done", flush=True)
    if number % 3 == 0:
        print("will remove", number - 1, flush=True)
        remove(store, [number - 1])
        print("done", flush=True)
    number += 1
"""


def listed_files(index_dir: Path) -> tuple[int, set[str]]:
    """The committed version and the files its manifest (current and previous version) lists."""
    with sqlite3.connect(index_dir / "meta.sqlite") as conn:
        version = int(conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0])
        rows = conn.execute("SELECT seq, kind FROM segments").fetchall()
    return version, {
        f"vectors-{seq}.faiss" if kind == "base" else f"vectors-{seq}.delta.faiss" for seq, kind in rows
    }


def test_segments_survive_sigkill_during_small_writes(tmp_path: Path) -> None:
    """A process adding and removing one article per write (deltas, tombstones, merges) killed at
    random moments: the index holds every committed change and only those, its vectors agree with
    its passages, and leftovers of the killed write are removed by the next writer."""
    index_dir = tmp_path / "index"
    store = open_store(index_dir)
    fill(store, 1000)  # 50 vectors of deltas and tombstones: a merge every few writes
    expected = {f"a{n}" for n in range(1000 // BASE_CHUNKS)}
    rng = np.random.default_rng(16)
    number = 1000
    for _ in range(8):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(index_dir), str(number)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().startswith("will add")  # started: kill it a moment later
        time.sleep(float(rng.uniform(0.0, 1.5)))
        child.send_signal(signal.SIGKILL)
        lines = ["will add " + str(number), *child.communicate()[0].splitlines()]
        in_flight: tuple[str, str] | None = None
        for line in lines:
            if line.startswith("will"):
                _, op, which = line.split()
                in_flight = (op, f"a{which}")
            elif in_flight is not None:
                (expected.add if in_flight[0] == "add" else expected.discard)(in_flight[1])
                in_flight = None
        with sqlite3.connect(index_dir / "meta.sqlite") as conn:
            present = {str(r[0]) for r in conn.execute("SELECT id FROM articles")}
        if in_flight is not None and present != expected:  # the killed write had committed
            (expected.add if in_flight[0] == "add" else expected.discard)(in_flight[1])
        assert present == expected
        assert_exact(open_store(index_dir))
        version, listed = listed_files(index_dir)
        files = set(segment_files(index_dir))
        assert listed <= files
        in_flight_files = [n for n in files - listed if seq_of(n) > version]
        assert len(in_flight_files) <= 1, files - listed  # the killed write's file, or its .tmp
        assert len(files - listed) <= 2 + MAX_DELTAS, files - listed  # and those a commit had unlisted
        number = max(int(a[1:]) for a in expected | {"a1000"}) + 1
    write(store, [number])
    store.wait_for_merge()  # a merge this write started writes its own file (and .tmp) meanwhile
    assert set(segment_files(index_dir)) == listed_files(index_dir)[1]
    assert_exact(store)
