"""The stores ``bench.scale`` measures: copies of the SQuAD index's real chunks (later copies with
noisy vectors, clustered like real ones), or synthetic articles that need no model."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from bench.common import CACHE, DIMENSION, logger
from qa.config import DEFAULT_MODEL
from qa.models import Article, Chunk
from qa.store import LocalStore

SQUAD_INDEX = CACHE / "squad-index"
NOISE = 0.8
ADD_CHUNKS = 5  # chunks of the article each timed write adds
ADD_REPEATS = 5  # timed writes per size (the median is shown)
SYNTHETIC_CHUNKS = 25  # chunks per article of a synthetic store


Pool = list[tuple[Article, list[Chunk], list[np.ndarray | None]]]


def real_pool() -> tuple[Pool, np.ndarray]:
    """The SQuAD index's articles with their chunks and sentence vectors, and the chunks' vectors
    in the same order."""
    store = LocalStore(SQUAD_INDEX, DIMENSION, DEFAULT_MODEL)
    pool: Pool = []
    vectors = []
    with store.snapshot() as snap:
        for stored in snap.stored_articles():
            if not stored.chunks:
                continue
            a = stored.article
            article = Article(id=a.id, title=a.title, text=a.text, source=a.source)
            pool.append((article, stored.chunks, list(stored.sentence_vectors)))
            vectors.append(stored.vectors)
    return pool, np.concatenate(vectors)


def build_store(index_dir: Path, size: int) -> None:
    """Fill a store with ``size`` chunks copied from the real pool (one write transaction)."""
    pool, real = real_pool()
    rng = np.random.default_rng(size)
    store = LocalStore(index_dir, DIMENSION, DEFAULT_MODEL)
    added, copy, start = 0, 0, time.perf_counter()
    with store.writer() as writer:
        while added < size:
            offset = 0
            for article, chunks, sentence_vectors in pool:
                take = chunks[: size - added]
                if not take:
                    break
                vectors = real[offset : offset + len(take)]
                offset += len(chunks)
                if copy:
                    noisy = vectors + NOISE * rng.standard_normal(vectors.shape) / np.sqrt(DIMENSION)
                    vectors = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)
                new_id = f"{article.id}#{copy}" if copy else article.id
                clone = Article(id=new_id, title=article.title, text=article.text, source=article.source)
                moved = [Chunk(new_id, c.ordinal, c.start, c.end, c.text, c.sentences) for c in take]
                writer.add_article(clone, moved, vectors, None, sentence_vectors[: len(take)])
                added += len(take)
            copy += 1
            logger.info("  %d/%d chunks (%.0f s)", added, size, time.perf_counter() - start)
        logger.info("committing (vector index type decided and trained here)")
    logger.info("built %d chunks in %.0f s", size, time.perf_counter() - start)


def synthetic_article(
    number: int, chunks: int, rng: np.random.Generator
) -> tuple[Article, list[Chunk], np.ndarray]:
    """An article of ``chunks`` one-sentence chunks of random words, with random unit vectors."""
    sentences = [" ".join(f"w{w}" for w in row) + "." for row in rng.integers(0, 50_000, (chunks, 12))]
    article_id = f"synthetic-{number}"
    parts, start = [], 0
    for ordinal, sentence in enumerate(sentences):
        parts.append(
            Chunk(article_id, ordinal, start, start + len(sentence), sentence, ((0, len(sentence)),))
        )
        start += len(sentence) + 1
    text = " ".join(sentences)
    vectors = rng.standard_normal((chunks, DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return Article(id=article_id, title=f"Synthetic {number}", text=text, source="bench"), parts, vectors


def build_synthetic_store(index_dir: Path, size: int) -> None:
    """Fill a store with ``size`` chunks of synthetic articles (one write transaction)."""
    store = LocalStore(index_dir, DIMENSION, DEFAULT_MODEL)
    rng = np.random.default_rng(size)
    start = time.perf_counter()
    with store.writer() as writer:
        for number, first in enumerate(range(0, size, SYNTHETIC_CHUNKS)):
            article, chunks, vectors = synthetic_article(number, min(SYNTHETIC_CHUNKS, size - first), rng)
            writer.add_article(article, chunks, vectors, None)
            if number % 4000 == 0:
                logger.info("  %d/%d chunks (%.0f s)", first, size, time.perf_counter() - start)
        logger.info("committing (vector index type decided and trained here)")
