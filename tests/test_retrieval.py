"""Keyword search on a large archive: the most common terms are left out of BM25's work."""

from __future__ import annotations

from qa.retrieval import fts_query


def test_fts_query_keeps_every_term_without_frequencies() -> None:
    assert fts_query('In what year did the "Normans" conquer England?') == (
        '"year" OR "normans" OR "conquer" OR "england"'
    )


def test_fts_query_drops_the_commonest_terms_beyond_the_budget() -> None:
    frequencies = {"year": 900_000, "norman": 200, "conquer": 50, "england": 30_000}
    question = "In what year did the Normans conquer England?"
    assert fts_query(question, frequencies, budget=40_000) == '"normans" OR "conquer" OR "england"'
    assert fts_query(question, frequencies, budget=1_000) == '"normans" OR "conquer"'
    assert fts_query(question, frequencies, budget=10) == '"conquer"'  # the rarest always stays
    assert fts_query(question, frequencies, budget=10**7).count(" OR ") == 3
