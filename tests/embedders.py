"""A deterministic test embedder (hashed bag of words) for the tests that are about plumbing, not answers."""

from __future__ import annotations

import hashlib
import re

import numpy as np

from qa.runtime.embedding import Progress, Vectors


class HashEmbedder:
    """A tiny deterministic embedder (hashed bag of words) that counts the texts it encodes."""

    name = "test-hash-embedder"
    dimension = 64

    def __init__(self) -> None:
        self.encoded = 0

    def encode(self, texts: list[str], progress: Progress | None = None) -> Vectors:
        self.encoded += len(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
                out[row, int.from_bytes(digest, "little") % self.dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)

    def encode_passages(
        self, texts: list[str], sentences: list[list[tuple[int, int]]], progress: Progress | None = None
    ) -> tuple[Vectors, list[Vectors]]:
        pooled = [
            self.encode([text[a:b] for a, b in spans]) for text, spans in zip(texts, sentences, strict=True)
        ]
        self.encoded -= sum(len(spans) for spans in sentences)  # one pass per passage, as the real model
        return self.encode(texts, progress), pooled
