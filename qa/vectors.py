"""The VectorIndex seam: the one module that imports faiss. Stable int64 ids, exact inner product."""

from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

Ids = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]


class VectorIndex:
    """Normalized vectors under stable ids: add, remove and replace without a rebuild."""

    def __init__(self, dimension: int, index: faiss.Index | None = None) -> None:
        self.dimension = dimension
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: Ids, vectors: Vectors) -> None:
        """Add vectors under the given ids (ids must be new)."""
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))

    def remove(self, ids: Ids) -> int:
        """Remove the vectors with these ids; returns how many were removed."""
        if not len(ids):
            return 0
        return int(self._index.remove_ids(faiss.IDSelectorBatch(ids.astype(np.int64))))

    def search(self, queries: Vectors, k: int) -> tuple[npt.NDArray[np.float32], Ids]:
        """Top ``k`` (scores, ids) per query row; missing slots have id -1."""
        k = max(1, min(k, len(self))) if len(self) else 1
        if not len(self):
            empty_ids = np.full((len(queries), k), -1, dtype=np.int64)
            return np.zeros((len(queries), k), dtype=np.float32), empty_ids
        scores, ids = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, ids

    def reconstruct(self, ids: Ids) -> Vectors:
        """The stored vectors of these ids."""
        return np.vstack([self._index.reconstruct(int(i)) for i in ids]) if len(ids) else np.zeros(
            (0, self.dimension), dtype=np.float32
        )

    def clone(self) -> VectorIndex:
        """An independent copy, so readers keep searching the old one while a writer changes this."""
        return VectorIndex(self.dimension, faiss.clone_index(self._index))

    def save(self, path: Path) -> None:
        """Write atomically: a temporary file, fsync, rename."""
        tmp = path.with_name(path.name + ".tmp")
        faiss.write_index(self._index, str(tmp))
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        """Read an index written by ``save``."""
        index = faiss.read_index(str(path))
        return cls(index.d, index)
