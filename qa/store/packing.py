"""Sentence vectors on disk: float16 bytes, one row per sentence of a chunk."""

from __future__ import annotations

import numpy as np

from qa.store.vectors import Vectors


def pack_vectors(vectors: Vectors | None, rows: int) -> bytes | None:
    """Sentence vectors as float16 bytes (half the space; cosines move by about 1e-3); None when
    absent or not ``rows`` rows."""
    if vectors is None or vectors.shape[0] != rows:
        return None
    return np.ascontiguousarray(vectors, dtype=np.float16).tobytes()


def unpack_vectors(blob: bytes | None, rows: int) -> Vectors | None:
    """The float32 rows stored by ``pack_vectors``; None when absent or not ``rows`` rows."""
    if not blob or rows == 0 or len(blob) % (2 * rows):
        return None
    return np.frombuffer(blob, dtype=np.float16).reshape(rows, -1).astype(np.float32)
