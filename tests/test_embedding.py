"""Sentence vectors in their passage's context ("late chunking"), with the real model."""

from __future__ import annotations

import numpy as np

from qa.engine import Engine
from qa.runtime.embedding import PassageEmbedder, pool_sentences


def test_pool_sentences_averages_the_tokens_inside_each_sentence() -> None:
    tokens = np.array([[9, 9], [1, 0], [3, 0], [0, 2], [9, 9]], dtype=np.float32)  # [CLS] a b c [SEP]
    offsets = [(0, 0), (0, 3), (4, 7), (9, 12), (0, 0)]
    pooled = pool_sentences(tokens, offsets, [(0, 7), (9, 12), (20, 30)])
    assert np.allclose(pooled[0], [1, 0])  # mean of (1,0) and (3,0), normalized
    assert np.allclose(pooled[1], [0, 1])
    whole = tokens.mean(axis=0)  # cut off by the length limit: the passage's own mean
    assert np.allclose(pooled[2], whole / np.linalg.norm(whole))
    assert pool_sentences(tokens, offsets, []).shape == (0, 2)


def test_the_real_model_gives_each_sentence_a_vector_close_to_its_own(seed_engine: Engine) -> None:
    """One forward pass per passage: its vector is the plain encoding, and each sentence's pooled
    vector is nearest to that sentence encoded alone."""
    embedder = seed_engine.embedder
    assert isinstance(embedder, PassageEmbedder)
    text = (
        "Harbour news\nThe ferry to the island was cancelled on Monday because of the storm. "
        "The city council approved a new budget for schools. Football fans celebrated the late winning goal."
    )
    starts = [text.index("The ferry"), text.index("The city"), text.index("Football")]
    spans = [(starts[0], starts[1] - 1), (starts[1], starts[2] - 1), (starts[2], len(text))]
    passages, pooled = embedder.encode_passages([text], [spans])
    assert np.allclose(passages[0], embedder.encode([text])[0], atol=1e-4)
    assert pooled[0].shape == (3, embedder.dimension)
    assert np.allclose(np.linalg.norm(pooled[0], axis=1), 1.0, atol=1e-5)
    alone = embedder.encode([text[a:b] for a, b in spans])
    similarity = pooled[0] @ alone.T
    assert list(similarity.argmax(axis=1)) == [0, 1, 2]
