"""VectorIndex: index type switching, remove and replace, save/load, recall of IVF vs exact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.store.sizing import MIN_TRAIN, IndexType, nlist_for
from qa.store.vectors import VectorIndex

DIM = 32


def clustered(count: int, seed: int, centers: int = 64) -> np.ndarray:
    """Normalized vectors around random centres, like sentence embeddings of a few topics."""
    rng = np.random.default_rng(seed)
    middles = np.random.default_rng(0).standard_normal((centers, DIM)).astype(np.float32)
    points = middles[rng.integers(0, centers, count)] + 0.6 * rng.standard_normal((count, DIM))
    out: np.ndarray = (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)
    return out


def filled(index_type: IndexType, count: int, threshold: int = 50_000) -> VectorIndex:
    """An index of ``count`` clustered vectors with ids 1000.., saved once so its type is settled."""
    index = VectorIndex(DIM, index_type=index_type, threshold=threshold)
    index.add(np.arange(1000, 1000 + count, dtype=np.int64), clustered(count, seed=1))
    if index.needs_rebuild():
        index.rebuild()
    return index


KINDS: list[tuple[IndexType, str]] = [("flat", "flat"), ("ivf", "ivf"), ("ivf-sq8", "ivf-sq8")]


def test_vectors_auto_type_follows_size(tmp_path: Path) -> None:
    """Auto is exact below the threshold, IVF above it after a save, and exact again when it shrinks."""
    threshold = MIN_TRAIN + 1000
    index = VectorIndex(DIM, threshold=threshold)
    index.add(np.arange(threshold - 1, dtype=np.int64), clustered(threshold - 1, seed=2))
    index.save(tmp_path / "a.faiss")
    assert index.kind == "flat"
    index.add(np.array([10**6, 10**6 + 1], dtype=np.int64), clustered(2, seed=3))
    assert index.kind == "flat"  # the rebuild waits for the save, off the query path
    index.save(tmp_path / "b.faiss")
    assert str(index.kind) == "ivf"
    assert VectorIndex.load(tmp_path / "b.faiss").kind == "ivf"
    index.remove(np.arange(0, 2000, dtype=np.int64))
    index.save(tmp_path / "c.faiss")
    assert str(index.kind) == "flat"
    assert len(index) == threshold + 1 - 2000


@pytest.mark.parametrize(("index_type", "kind"), KINDS)
def test_vectors_explicit_type_is_kept(index_type: IndexType, kind: str) -> None:
    """An explicit type wins over the threshold once there are enough vectors to train."""
    assert filled(index_type, MIN_TRAIN - 1, threshold=10).kind == "flat"
    assert filled(index_type, MIN_TRAIN + 100, threshold=10**9).kind == kind


def test_vectors_ivf_retrains_when_size_changes_fourfold() -> None:
    """IVF lists sized for 5k vectors are retrained once the index holds 25k."""
    index = filled("ivf", 5000)
    assert not index.needs_rebuild()
    index.add(np.arange(10**6, 10**6 + 20_000, dtype=np.int64), clustered(20_000, seed=4))
    assert index.needs_rebuild()
    index.rebuild()
    assert index.kind == "ivf" and not index.needs_rebuild()
    assert len(index) == 25_000


@pytest.mark.parametrize(("index_type", "kind"), KINDS)
def test_vectors_remove_and_replace(index_type: IndexType, kind: str) -> None:
    """Removed ids are never returned; re-added ids return their new vectors."""
    index = filled(index_type, 6000)
    assert index.kind == kind
    vectors = clustered(6000, seed=1)
    gone = np.arange(1000, 1100, dtype=np.int64)
    assert index.remove(gone) == 100
    assert len(index) == 5900
    _, ids = index.search(vectors[:100], 10)
    assert not set(ids.ravel()) & set(gone.tolist())
    fresh = clustered(50, seed=9)
    index.add(gone[:50], fresh)
    scores, ids = index.search(fresh, 1)
    assert ids[:, 0].tolist() == gone[:50].tolist()
    np.testing.assert_allclose(index.reconstruct(gone[:50]), fresh, atol=0.05)
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=0.05)


@pytest.mark.parametrize(("index_type", "kind"), KINDS)
def test_vectors_save_load_round_trip(tmp_path: Path, index_type: IndexType, kind: str) -> None:
    """A loaded index has the same type, size, search results and vectors."""
    index = filled(index_type, 6000)
    path = tmp_path / "vectors.faiss"
    index.save(path)
    loaded = VectorIndex.load(path, index_type=index_type)
    assert (loaded.kind, len(loaded), loaded.nprobe) == (kind, 6000, index.nprobe)
    queries = clustered(20, seed=5)
    np.testing.assert_array_equal(loaded.search(queries, 10)[1], index.search(queries, 10)[1])
    some = np.array([1000, 3000, 6999], dtype=np.int64)
    np.testing.assert_array_equal(loaded.reconstruct(some), index.reconstruct(some))
    assert not path.with_name("vectors.faiss.tmp").exists()


@pytest.mark.parametrize(("index_type", "kind"), KINDS)
def test_vectors_clone_is_independent(index_type: IndexType, kind: str) -> None:
    """Changing a clone leaves the original untouched."""
    index = filled(index_type, 5000)
    copy = index.clone()
    copy.remove(np.arange(1000, 3000, dtype=np.int64))
    assert (len(index), len(copy), copy.kind) == (5000, 3000, kind)


@pytest.mark.parametrize("index_type", ["ivf", "ivf-sq8"])
def test_vectors_approximate_recall_at_10(index_type: IndexType) -> None:
    """The default nprobe finds at least 95% of the exact top 10."""
    exact, approximate = filled("flat", 30_000), filled(index_type, 30_000)
    assert approximate.nprobe < nlist_for(30_000)
    queries = clustered(200, seed=7)
    _, truth = exact.search(queries, 10)
    _, found = approximate.search(queries, 10)
    recall = np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=True)])
    assert recall >= 0.95


def test_vectors_empty_and_unknown_type() -> None:
    """An empty index answers -1 ids; an unknown type is refused."""
    scores, ids = VectorIndex(DIM).search(clustered(2, seed=8), 5)
    assert ids.tolist() == [[-1], [-1]] and scores.shape == (2, 1)
    with pytest.raises(ValueError, match="unknown index type"):
        VectorIndex(DIM, index_type="hnsw")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("index_type", "allowed_count"), [("flat", 300), ("flat", 24_000), ("ivf", 300), ("ivf", 24_000)]
)
def test_vectors_search_among_returns_only_allowed_ids(index_type: IndexType, allowed_count: int) -> None:
    """Search within a subset (a date window): the best allowed ids, exact for a few, by selector for many."""
    index = filled(index_type, 30_000)
    rng = np.random.default_rng(7)
    allowed = np.sort(rng.choice(np.arange(1000, 31_000), allowed_count, replace=False)).astype(np.int64)
    query = clustered(1, seed=9)
    scores, ids = index.search_among(query, 10, allowed)
    assert set(ids[0].tolist()) <= set(allowed.tolist()) and len(ids[0]) == 10
    exact = np.argsort(-(index.reconstruct(allowed) @ query.ravel()))[:10]
    overlap = len(set(ids[0].tolist()) & set(allowed[exact].tolist()))
    assert overlap >= (10 if index_type == "flat" else 8)
    assert list(scores[0]) == sorted(scores[0], reverse=True)
