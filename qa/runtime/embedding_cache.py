"""An ``Embedder`` that remembers recent texts' vectors (questions, sentences of old indexes)."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from qa.runtime.embedding import Embedder, Progress, Vectors

TEXT_CACHE_SIZE = 20_000  # question and sentence vectors kept (about 1.5 KB each)


class CachingEmbedder:
    """The ``Embedder`` protocol over another embedder, each distinct text encoded once.

    Overlapping chunks repeat sentences within a question, and popular questions and passages
    repeat across questions: a bounded LRU cache keeps both off the encoder."""

    def __init__(self, embedder: Embedder, size: int = TEXT_CACHE_SIZE) -> None:
        self.embedder = embedder
        self.size = size
        self._lock = threading.Lock()
        self._vectors: OrderedDict[str, Vectors] = OrderedDict()

    @property
    def name(self) -> str:
        return self.embedder.name

    @property
    def dimension(self) -> int:
        return self.embedder.dimension

    def encode(self, texts: list[str], progress: Progress | None = None) -> Vectors:
        """One vector per text; only the texts not in the cache reach the encoder, in one batch."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            encoded = self.embedder.encode(missing, progress)
            with self._lock:
                for text, row in zip(missing, encoded, strict=True):
                    self._vectors[text] = row
                while len(self._vectors) > self.size:
                    self._vectors.popitem(last=False)
        with self._lock:
            rows = []
            for text in texts:
                row = self._vectors.get(text)
                if row is None:  # evicted by a concurrent question in between: encode again
                    row = self.embedder.encode([text])[0]
                else:
                    self._vectors.move_to_end(text)
                rows.append(row)
        return np.vstack(rows)
