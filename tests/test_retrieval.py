"""Keyword search: the most common terms of a large archive are left out of BM25's work; the
keyword side runs apart from the dense side (while the question is encoded) with the same result."""

from __future__ import annotations

import pytest

import qa.answering.retrieval as retrieval_module
from qa.answering.retrieval import DEFAULT_WEIGHTS, keyword_scores, keyword_terms, retrieve, stem_terms
from qa.engine import Engine
from qa.store.schema import connect
from qa.text import name_terms


def test_keyword_terms_keep_every_content_word_without_frequencies() -> None:
    assert keyword_terms('In what year did the "Normans" conquer England?') == [
        "year",
        "normans",
        "conquer",
        "england",
    ]


def test_keyword_terms_drop_the_commonest_beyond_the_budget() -> None:
    frequencies = {"year": 900_000, "norman": 200, "conquer": 50, "england": 30_000}
    question = "In what year did the Normans conquer England?"
    assert keyword_terms(question, frequencies, budget=40_000) == ["normans", "conquer", "england"]
    assert keyword_terms(question, frequencies, budget=1_000) == ["normans", "conquer"]
    assert keyword_terms(question, frequencies, budget=10) == ["conquer"]  # the rarest always stays
    assert len(keyword_terms(question, frequencies, budget=10**7)) == 4


def test_keyword_scores_are_bm25_relative_to_the_best_and_feed_retrieve(seed_engine: Engine) -> None:
    question = "Which drones does Azerbaijan use?"
    vector = seed_engine.embedder.encode([question])[0]
    with seed_engine.store.snapshot() as snap:
        _, frequencies = snap.term_frequencies(stem_terms(question))
        keyword = keyword_scores(snap, question, 10, DEFAULT_WEIGHTS, frequencies)
        assert keyword and max(keyword.values()) == 1.0 and min(keyword.values()) > 0
        raw = dict(snap.keyword_search(keyword_terms(question, frequencies), 50))
        assert set(keyword) == set(raw)
        given = retrieve(snap, question, vector, 5, "hybrid", DEFAULT_WEIGHTS, frequencies, keyword)
        computed = retrieve(snap, question, vector, 5, "hybrid", DEFAULT_WEIGHTS, frequencies)
        assert [p.chunk_id for p in given] == [p.chunk_id for p in computed]
        assert [p.keyword_score for p in given] == [p.keyword_score for p in computed]
        assert any(p.keyword_score > 0 for p in given)


@pytest.mark.parametrize("alongside_from", [0, 10**9])
def test_encoding_alongside_bm25_or_before_it_gives_the_same_passages(
    seed_engine: Engine, monkeypatch: pytest.MonkeyPatch, alongside_from: int
) -> None:
    # 0: the question is encoded on a worker thread while BM25 runs (as in a large archive).
    monkeypatch.setattr(retrieval_module, "ENCODE_ALONGSIDE_FROM", alongside_from)
    question = f"When did the war start? ({alongside_from})"
    passages = seed_engine.search(question, k=5)
    vector = seed_engine.embedder.encode([question])[0]
    with seed_engine.store.snapshot() as snap:
        _, frequencies = snap.term_frequencies(stem_terms(question))
        direct = retrieve(snap, question, vector, 5, "hybrid", DEFAULT_WEIGHTS, frequencies)
    assert [p.chunk_id for p in passages] == [p.chunk_id for p in direct]
    assert [round(p.score, 6) for p in passages] == [round(p.score, 6) for p in direct]


def test_index_database_is_read_through_a_memory_map(seed_engine: Engine) -> None:
    conn = connect(seed_engine.settings.index_dir / "meta.sqlite")  # how the store opens it
    assert conn.execute("PRAGMA mmap_size").fetchone()[0] > 0
    conn.close()


def test_name_terms_are_the_capitalised_words_after_the_first() -> None:
    """A question's names: capitalised words other than its first, possessives dropped; none in capitals."""
    assert name_terms("How much did Vodafone offer for Mannesmann's bid in the U.S.?") == [
        "vodafon",
        "mannesmann",
    ]
    assert name_terms("Who supplies Azerbaijan’s drones?") == ["azerbaijan"]
    assert name_terms("what did the adviser say?") == []
    assert name_terms("WHO SUPPLIES THE DRONES?") == []


def test_retrieval_names_the_question_names_no_passage_holds(seed_engine: Engine) -> None:
    """Names the archive never mentions are reported (the calibration weighs them); its own are not."""
    retriever, store = seed_engine.answerer.retriever, seed_engine.store
    assert retriever.retrieve(store, "Who supplies Azerbaijan's drones to Israel?", 5).unseen_names == ()
    found = retriever.retrieve(store, "How much did Vodafone pay for Mannesmann in Azerbaijan?", 5)
    assert found.unseen_names == ("vodafon", "mannesmann")
    assert found.passages  # the other words are still searched
