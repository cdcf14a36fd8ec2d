"""Answers as terminal text: the answer span highlighted, the source underneath."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from qa.models import Answer, AnswerSet, ArticleMeta, Passage


def source_line(article: ArticleMeta) -> str:
    """``title · date · file-or-URL``."""
    parts = [article.title]
    if article.published:
        parts.append(article.published.replace("T", " "))
    parts.append(article.url or article.source)
    return " · ".join(parts)


def answer_text(answer: Answer, number: int | None = None) -> Text:
    """One answer: the sentence with its span in bold, then its source and score."""
    text = Text()
    if number is not None:
        text.append(f"{number}. ", style="dim")
    if answer.span is not None:
        start, end = answer.span
        text.append(answer.text[:start])
        text.append(answer.text[start:end], style="bold yellow")
        text.append(answer.text[end:])
    else:
        text.append(answer.text)
    text.append(f"\n   — {source_line(answer.article)}", style="cyan")
    text.append(f"  (score {answer.score:.2f})", style="dim")
    if answer.also_in:
        for copy in answer.also_in:
            text.append(f"\n   also in: {source_line(copy)}", style="dim cyan")
    return text


def print_answers(console: Console, answers: list[Answer] | tuple[Answer, ...], first: int = 1) -> None:
    """Print answers numbered from ``first``."""
    numbered = len(answers) > 1 or first > 1
    for offset, answer in enumerate(answers):
        console.print(answer_text(answer, first + offset if numbered else None))


def print_result(console: Console, result: AnswerSet) -> None:
    """Print a whole result, or the plain not-found line."""
    if result.abstained:
        console.print(result.not_found)
    else:
        print_answers(console, result.answers)


def print_passages(console: Console, passages: list[Passage] | tuple[Passage, ...]) -> None:
    """Print the passages behind an answer, with their sources."""
    for number, passage in enumerate(passages, start=1):
        console.print(
            Text(f"[{number}] ", style="dim")
            + Text(source_line(passage.article), style="cyan")
            + Text(f"  (score {passage.score:.2f})", style="dim")
        )
        console.print(Text(passage.text), "")
