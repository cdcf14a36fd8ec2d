"""The VectorIndex seam: the one module that imports faiss. Stable int64 ids, inner product.

Below a threshold of vectors the search is exact (``IndexIDMap2(IndexFlatIP)``); above it an IVF
index (``IndexIVFFlat``, or ``IndexIVFScalarQuantizer`` with 8-bit codes for very large archives;
``sizing`` decides) with a trained coarse quantizer and a hash-table direct map, so ids stay stable,
vectors can be removed and every vector can be read back. When the size crosses a boundary the
index rebuilds itself from its own vectors, in ``save`` (once per write), never on the query path.

faiss is imported where it is first used, so that commands that only list the archive (``qa docs``,
``qa feeds``) never load it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from qa.store import sizing
from qa.store.sizing import IndexType, Kind

if TYPE_CHECKING:
    import faiss

logger = logging.getLogger(__name__)

Ids = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]
EXACT_AMONG = 20_000  # search_among scores this many allowed vectors directly
_SMALL_BATCH = 20  # faiss switches to BLAS at 20 queries; below that one thread is faster


class IdMask:
    """A fixed set of ids that searches pass over (vectors removed from a file that stays as it is)."""

    def __init__(self, ids: Ids) -> None:
        import faiss

        self.ids = np.ascontiguousarray(ids, dtype=np.int64)
        self._batch = faiss.IDSelectorBatch(len(self.ids), faiss.swig_ptr(self.ids))
        self.selector = faiss.IDSelectorNot(self._batch)  # holds a pointer to ``_batch``

    def __len__(self) -> int:
        return len(self.ids)


class VectorIndex:
    """Normalized vectors under stable ids: add, remove and replace; the index type follows the size."""

    def __init__(
        self,
        dimension: int,
        index: faiss.Index | None = None,
        index_type: IndexType = "auto",
        threshold: int = sizing.DEFAULT_THRESHOLD,
    ) -> None:
        import faiss

        if index_type not in sizing.INDEX_TYPES:
            raise ValueError(f"unknown index type {index_type!r}; use one of {', '.join(sizing.INDEX_TYPES)}")
        self.dimension = dimension
        self.index_type: IndexType = index_type
        self.threshold = threshold
        self._index: faiss.Index = index if index is not None else _new_flat(dimension)
        if isinstance(self._index, faiss.IndexIVF):
            self._index.nprobe = sizing.nprobe_for(self._index.nlist)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def kind(self) -> Kind:
        """What the index is now: ``flat``, ``ivf`` or ``ivf-sq8``."""
        import faiss

        if isinstance(self._index, faiss.IndexIVFScalarQuantizer):
            return "ivf-sq8"
        return "ivf" if isinstance(self._index, faiss.IndexIVF) else "flat"

    @property
    def nprobe(self) -> int:
        """IVF lists searched per query (0 for exact search)."""
        import faiss

        return int(self._index.nprobe) if isinstance(self._index, faiss.IndexIVF) else 0

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        import faiss

        if isinstance(self._index, faiss.IndexIVF):
            self._index.nprobe = max(1, min(int(value), int(self._index.nlist)))

    def add(self, ids: Ids, vectors: Vectors) -> None:
        """Add vectors under the given ids (ids must be new)."""
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))

    def remove(self, ids: Ids) -> int:
        """Remove the vectors with these ids; returns how many were removed."""
        import faiss

        if not len(ids):
            return 0
        wanted = np.ascontiguousarray(ids, dtype=np.int64)
        selector: faiss.IDSelector
        if isinstance(self._index, faiss.IndexIVF):  # the hash-table direct map takes an id array
            selector = faiss.IDSelectorArray(len(wanted), faiss.swig_ptr(wanted))
        else:
            selector = faiss.IDSelectorBatch(len(wanted), faiss.swig_ptr(wanted))
        return int(self._index.remove_ids(selector))

    def search(
        self, queries: Vectors, k: int, skip: IdMask | None = None
    ) -> tuple[npt.NDArray[np.float32], Ids]:
        """Top ``k`` (scores, ids) per query row, passing over the ids in ``skip``; missing slots
        have id -1."""
        import faiss

        k = max(1, min(k, len(self))) if len(self) else 1
        if not len(self):
            empty_ids = np.full((len(queries), k), -1, dtype=np.int64)
            return np.zeros((len(queries), k), dtype=np.float32), empty_ids
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        params = self._params(skip.selector) if skip is not None and len(skip) else None
        if len(queries) >= _SMALL_BATCH:
            scores, ids = self._index.search(queries, k, params=params)
            return scores, ids
        # OpenMP teams cost more than they save for a few queries, above all on a busy machine
        # (10x slower on 2 shared cores). The setting is per thread in libgomp: restore it.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            scores, ids = self._index.search(queries, k, params=params)
        finally:
            faiss.omp_set_num_threads(threads)
        return scores, ids

    def _params(self, selector: faiss.IDSelector) -> faiss.SearchParameters:
        """Search parameters with an id selector (the caller keeps ``selector`` alive)."""
        import faiss

        params: faiss.SearchParameters
        if isinstance(self._index, faiss.IndexIVF):
            params = faiss.SearchParametersIVF()
            params.nprobe = self.nprobe
        else:
            params = faiss.SearchParameters()
        params.sel = selector
        return params

    def search_among(self, query: Vectors, k: int, allowed: Ids) -> tuple[npt.NDArray[np.float32], Ids]:
        """Top ``k`` (scores, ids) for one query row among the ``allowed`` ids only (a date window).

        A few thousand allowed vectors are scored exactly; more go through FAISS with an id selector
        (which IVF applies inside the lists it probes)."""
        import faiss

        allowed = np.ascontiguousarray(allowed, dtype=np.int64)
        if not len(allowed) or not len(self):
            return np.zeros((1, 0), dtype=np.float32), np.zeros((1, 0), dtype=np.int64)
        if len(allowed) <= EXACT_AMONG:
            scores = self.reconstruct(allowed) @ np.ascontiguousarray(query, dtype=np.float32).ravel()
            order = np.argsort(-scores)[:k]
            return scores[order].reshape(1, -1), allowed[order].reshape(1, -1)
        selector = faiss.IDSelectorBatch(len(allowed), faiss.swig_ptr(allowed))
        params = self._params(selector)  # ``selector`` stays referenced here until the search returns
        queries = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        scores, ids = self._index.search(queries, min(k, len(allowed)), params=params)
        return scores, ids

    def reconstruct(self, ids: Ids) -> Vectors:
        """The stored vectors of these ids (approximate for ``ivf-sq8``)."""
        if not len(ids):
            return np.zeros((0, self.dimension), dtype=np.float32)
        out: Vectors = self._index.reconstruct_batch(np.ascontiguousarray(ids, dtype=np.int64))
        return out

    def ids(self) -> Ids:
        """Every stored id (for a flat index in the order stored, else in no particular order)."""
        import faiss

        index = self._index
        if isinstance(index, faiss.IndexIVF):
            invlists = index.invlists
            assert invlists is not None
            parts = [
                faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
                for i in range(index.nlist)
                if invlists.list_size(i)
            ]
            return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        assert isinstance(index, faiss.IndexIDMap2)
        ids: Ids = faiss.vector_to_array(index.id_map).astype(np.int64)
        return ids

    def items(self) -> tuple[Ids, Vectors]:
        """Every stored id and its vector (in no particular order)."""
        import faiss

        ids, index = self.ids(), self._index
        if not isinstance(index, faiss.IndexIDMap2) or not len(ids):
            return ids, self.reconstruct(ids)
        flat = index.index
        assert flat is not None
        vectors: Vectors = flat.reconstruct_n(0, len(ids))
        return ids, vectors

    def wanted_kind(self) -> Kind:
        """The type the size calls for under this index's policy."""
        return sizing.wanted_kind(self.index_type, self.threshold, len(self), self.kind)

    def needs_rebuild(self) -> bool:
        """True when the type is wrong for the size, or the IVF lists were sized for another size."""
        import faiss

        wanted = self.wanted_kind()
        if wanted != self.kind:
            return True
        if isinstance(self._index, faiss.IndexIVF):
            ratio = sizing.nlist_for(len(self)) / int(self._index.nlist)
            return not 0.5 <= ratio <= 2.0  # lists 4x too many or too few vectors: retrain
        return False

    def rebuild(self) -> None:
        """Rebuild (and train) the index from its own vectors as ``wanted_kind`` says."""
        kind = self.wanted_kind()
        ids, vectors = self.items()
        index = _new_flat(self.dimension) if kind == "flat" else _train_ivf(vectors, kind)
        index.add_with_ids(vectors, ids)
        logger.info("vector index rebuilt: %s -> %s, %d vectors", self.kind, kind, len(ids))
        self._index = index

    def clone(self) -> VectorIndex:
        """An independent copy, so readers keep searching the old one while a writer changes this."""
        import faiss

        return VectorIndex(self.dimension, faiss.clone_index(self._index), self.index_type, self.threshold)

    def save(self, path: Path) -> None:
        """Rebuild first if the size calls for another type; then write atomically (tmp, fsync, rename)."""
        import faiss

        if self.needs_rebuild():
            self.rebuild()
        tmp = path.with_name(path.name + ".tmp")
        faiss.write_index(self._index, str(tmp))
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(
        cls, path: Path, index_type: IndexType = "auto", threshold: int = sizing.DEFAULT_THRESHOLD
    ) -> VectorIndex:
        """Read an index written by ``save`` (its type changes, if needed, at the next ``save``)."""
        import faiss

        index = faiss.read_index(str(path))
        return cls(index.d, index, index_type, threshold)


def _new_flat(dimension: int) -> faiss.Index:
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


def _train_ivf(vectors: Vectors, kind: Kind) -> faiss.IndexIVF:
    """An empty IVF index whose coarse quantizer is trained on a sample of ``vectors``."""
    import faiss

    count, dimension = vectors.shape
    nlist = sizing.nlist_for(count)
    quantizer = faiss.IndexFlatIP(dimension)
    index: faiss.IndexIVF
    if kind == "ivf-sq8":
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dimension, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
    else:
        index = faiss.IndexIVFFlat(quantizer, dimension, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = 10
    index.cp.max_points_per_centroid = sizing.TRAIN_POINTS_PER_LIST
    index.cp.seed = 1234
    sample = vectors
    if count > sizing.TRAIN_POINTS_PER_LIST * nlist:
        rows = np.random.default_rng(1234).choice(count, sizing.TRAIN_POINTS_PER_LIST * nlist, replace=False)
        sample = vectors[np.sort(rows)]
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    index.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]
    index.nprobe = sizing.nprobe_for(nlist)
    return index
