"""Split articles into overlapping, sentence-aligned chunks with offsets into the article text."""

from __future__ import annotations

from qa.models import Article, Chunk
from qa.text import split_sentences_many

MAX_CHUNK_CHARS = 600
MAX_CHUNK_SENTENCES = 4
OVERLAP_SENTENCES = 1
MAX_SENTENCE_CHARS = 1000


def split_long_sentence(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Break a run-on "sentence" longer than ``limit`` at whitespace into pieces of at most ``limit``."""
    pieces: list[tuple[int, int]] = []
    while end - start > limit:
        cut = text.rfind(" ", start + limit // 2, start + limit)
        if cut <= start:
            cut = start + limit
        pieces.append((start, cut))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        pieces.append((start, end))
    return pieces


def windows(
    sentences: list[tuple[int, int]],
    max_chars: int = MAX_CHUNK_CHARS,
    max_sentences: int = MAX_CHUNK_SENTENCES,
    overlap: int = OVERLAP_SENTENCES,
) -> list[tuple[int, int]]:
    """Index ranges ``[first, last)`` of consecutive sentences forming each chunk."""
    ranges: list[tuple[int, int]] = []
    first = 0
    while first < len(sentences):
        last = first + 1
        while (
            last < len(sentences)
            and last - first < max_sentences
            and sentences[last][1] - sentences[first][0] <= max_chars
        ):
            last += 1
        ranges.append((first, last))
        if last >= len(sentences):
            break
        first = max(first + 1, last - overlap)
    return ranges


def chunk_article(article: Article, sentences: list[tuple[int, int]]) -> list[Chunk]:
    """Chunks of one article, given its sentence offsets."""
    pieces: list[tuple[int, int]] = []
    for start, end in sentences:
        pieces.extend(split_long_sentence(article.text, start, end, MAX_SENTENCE_CHARS))
    chunks: list[Chunk] = []
    for ordinal, (first, last) in enumerate(windows(pieces)):
        start, end = pieces[first][0], pieces[last - 1][1]
        chunks.append(
            Chunk(
                article_id=article.id,
                ordinal=ordinal,
                start=start,
                end=end,
                text=article.text[start:end],
                sentences=tuple((s - start, e - start) for s, e in pieces[first:last]),
            )
        )
    return chunks


def split_into_chunks(articles: list[Article]) -> list[list[Chunk]]:
    """Chunks for each article, sentence splitting batched across all of them."""
    all_sentences = split_sentences_many([a.text for a in articles])
    return [chunk_article(a, s) for a, s in zip(articles, all_sentences, strict=True)]


def embedding_text(title: str, chunk_text: str) -> str:
    """What is embedded for a chunk: the title gives the passage its context."""
    return f"{title}\n{chunk_text}" if title else chunk_text
