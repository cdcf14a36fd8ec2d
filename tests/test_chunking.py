"""Chunks: sentence-aligned windows whose offsets point back into the article text."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from qa.ingest.articles import parse_document
from qa.ingest.chunking import split_into_chunks
from qa.models import Article
from qa.text import split_sentences

SEED = Path(__file__).resolve().parents[1] / "seeds" / "000_30a3e569ce88eb0e.txt"


def seed_article() -> Article:
    return parse_document(SEED.read_bytes(), "seeds/" + SEED.name, ".txt")[0][0]


def test_chunk_offsets_point_into_the_article() -> None:
    """Every chunk's text is the article's text at its offsets, and its sentences lie inside it."""
    article = seed_article()
    chunks = split_into_chunks([article])[0]
    assert len(chunks) > 1
    for chunk in chunks:
        assert article.text[chunk.start : chunk.end] == chunk.text
        for start, end in chunk.sentences:
            assert 0 <= start < end <= len(chunk.text)
            assert chunk.text[start:end] == chunk.text[start:end].strip()


def test_chunks_cover_the_article_with_overlap() -> None:
    """Consecutive chunks overlap by a sentence and together cover the whole body."""
    article = seed_article()
    chunks = split_into_chunks([article])[0]
    assert chunks[0].start == 0 and chunks[-1].end == len(article.text)
    for before, after in itertools.pairwise(chunks):
        assert after.start < before.end


def test_sentences_do_not_split_abbreviations_or_cross_paragraphs() -> None:
    """Paragraph breaks end sentences; abbreviations such as "U.S." do not."""
    text = (
        "Officials in the U.S. said on Monday that talks resumed.\n\n"
        "A headline without a stop\n\nMore text here."
    )
    article = Article(id="a", title="t", text=text, source="s")
    sentences = [
        article.text[c.start + s : c.start + e]
        for c in split_into_chunks([article])[0]
        for s, e in c.sentences
    ]
    assert "Officials in the U.S. said on Monday that talks resumed." in sentences
    assert "A headline without a stop" in sentences


def test_a_run_on_sentence_is_split_into_pieces() -> None:
    """A sentence of thousands of characters is cut at spaces so no chunk grows without bound."""
    text = " ".join(["word"] * 3000) + "."
    chunks = split_into_chunks([Article(id="a", title="t", text=text, source="s")])[0]
    assert len(chunks) > 3
    assert max(len(c.text) for c in chunks) <= 1200


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'The council met on Monday. "We will not wait," the mayor said. It rained.',
            ["The council met on Monday.", '"We will not wait," the mayor said.', "It rained."],
        ),
        (
            'The vote passed." The speaker [a farmer] spoke. "[Nobody] knew." Then it ended.',
            ['The vote passed."', "The speaker [a farmer] spoke.", '"[Nobody] knew."', "Then it ended."],
        ),
        (
            "The plan has three parts:\n- Prices rise 5%\n- Wages fall\n1. Rents stay\n2) Taxes go",
            ["The plan has three parts:", "- Prices rise 5%", "- Wages fall", "1. Rents stay", "2) Taxes go"],
        ),
        ("It is over. \u201d Then we left.", ["It is over. \u201d", "Then we left."]),
    ],
)
def test_quotes_brackets_and_list_items_end_on_the_right_side(text: str, expected: list[str]) -> None:
    """An opening quote or bracket starts the next sentence, a closing one ends its own; list items split."""
    assert [text[a:b] for a, b in split_sentences(text)] == expected
