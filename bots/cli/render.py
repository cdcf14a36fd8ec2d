"""Answers as terminal text: the answer span highlighted, the source underneath."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from qa.answering.conversation import NOTHING_NEW
from qa.models import Answer, AnswerSet, ArticleMeta, DocumentInfo, Passage

if TYPE_CHECKING:  # `qa eval`'s module is imported by `qa eval` alone
    from qa.eval.evaluate import Metrics, Report


def shown_date(published: str | None) -> str:
    """``2020-10-04T17:37:06`` as ``2020-10-04 17:37:06``; a date known without its time as the date alone."""
    if not published:
        return ""
    day, _, time = published.partition("T")
    return day if time in ("", "00:00:00", "00:00") else f"{day} {time}"


def source_line(article: ArticleMeta) -> str:
    """``title · place · date · URL-or-file``, a file named relative to the folder it was indexed from (as
    everywhere, on the answer's line and its copies' lines alike); the place is a wire story's dateline."""
    parts = [article.title, *([article.place] if article.place else [])]
    if article.published:
        parts.append(shown_date(article.published))
    parts.append(article.url or article.source)
    return " · ".join(parts)


def keep_end(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters from the left, so the end that tells sources apart stays."""
    return text if len(text) <= width else "…" + text[len(text) - width + 1 :]


def documents_table(documents: list[DocumentInfo], width: int) -> Table:
    """Indexed articles as a table; every field is shown as text, never read as markup.

    Every column keeps its width but the title's, which wraps on a narrow screen (at least 20
    characters a line where the screen allows), and the source's, cut at its start (to 13
    characters). Before the title gets fewer than 20, the date's time goes under its day and the
    source is cut down to 8.
    """
    dated = any(d.published for d in documents)
    copies = any(d.duplicate_of for d in documents)
    others = max(len(d.id) for d in documents) + len("passages")
    if copies:
        others += max(len("duplicate of"), *(len(d.duplicate_of or "") for d in documents))
    gaps = 2 * (3 + dated + copies)  # two spaces between each two of the 4 to 6 columns
    room = width - others - gaps - (19 if dated else 0)  # what the title and source share
    longest = max(len(d.url or d.source) for d in documents)
    source_width = max(13, min(longest, room - max(20, room // 3)))
    split_date = dated and room - source_width < 20
    if split_date:
        room += 9  # "2020-10-04 17:37:06" as "2020-10-04" over "17:37:06"
        source_width = max(13, min(longest, room - max(20, room // 3)))
    source_width = max(8, min(source_width, room - 20))
    sources = [keep_end(d.url or d.source, source_width) for d in documents]
    title_width = max(8, room - max(len(s) for s in sources))
    table = Table(box=None, pad_edge=False)
    names = ["id", "title", *(["date"] if dated else []), "source", "passages"]
    for name in [*names, *(["duplicate of"] if copies else [])]:
        table.add_column(name, no_wrap=True, justify="right" if name == "passages" else "left")
    title = table.columns[1]
    title.no_wrap, title.max_width, title.overflow = False, title_width, "fold"
    if split_date:
        table.columns[2].no_wrap, table.columns[2].width = False, 10  # a fixed width is never squeezed
    for d, source in zip(documents, sources, strict=True):
        cells = [Text(d.id), Text(d.title)]
        if dated:
            cells.append(Text(shown_date(d.published)))
        cells += [Text(source), Text(str(d.chunks))]
        if copies:
            cells.append(Text(d.duplicate_of or ""))
        table.add_row(*cells)
    return table


def answer_text(answer: Answer, number: int | None = None, plain: bool = False) -> Text:
    """One answer: the sentence with its span in bold (``plain``: between « and », for output that
    shows no styles), then its source and score."""
    text = Text()
    if number is not None:
        text.append(f"{number}. ", style="dim")
    if answer.span is not None:
        start, end = answer.span
        span = answer.text[start:end]
        text.append(answer.text[:start])
        text.append(f"«{span}»" if plain else span, style="bold yellow")
        text.append(answer.text[end:])
    else:
        text.append(answer.text)
    text.append(f"\n   — {source_line(answer.article)}", style="cyan")
    text.append(f"  ({answer.confidence}, answer score {answer.score:.2f})", style="dim")
    if answer.also_in:
        for copy in answer.also_in:
            text.append(f"\n   also in: {source_line(copy)}", style="dim cyan")
    return text


def print_answers(console: Console, answers: list[Answer] | tuple[Answer, ...], first: int = 1) -> None:
    """Print answers numbered from ``first``; where the console shows no styles (piped, redirected)
    the answer span is marked «like this»."""
    numbered = len(answers) > 1 or first > 1
    plain = console.color_system is None
    for offset, answer in enumerate(answers):
        console.print(answer_text(answer, first + offset if numbered else None, plain))


def print_result(console: Console, result: AnswerSet) -> None:
    """Print a whole result, or the plain not-found line."""
    if result.nothing_new:
        console.print(NOTHING_NEW)
    elif result.abstained:
        console.print(result.not_found)
    else:
        print_answers(console, result.answers)


def print_passages(console: Console, passages: list[Passage] | tuple[Passage, ...]) -> None:
    """Print the passages behind an answer, with their sources."""
    for number, passage in enumerate(passages, start=1):
        console.print(
            Text(f"[{number}] ", style="dim")
            + Text(source_line(passage.article), style="cyan")
            + Text(f"  (passage match {passage.score:.2f}, not an answer score)", style="dim")
        )
        console.print(Text(passage.text), "")


_LABELS = {
    "questions": "questions", "recall@1": "recall@1", "recall@5": "recall@5",
    "recall@20": "recall@20", "mrr@10": "MRR@10", "answer_hit@1": "answer hit@1",
    "answer_hit@3": "answer hit@3", "answer_chars": "answer length (chars)",
    "exact_match": "exact match", "f1": "F1", "abstain_accuracy": "abstain accuracy",
    "ndcg@10": "nDCG@10", "recall@100": "recall@100", "latency_ms_p50": "latency p50 (ms)",
    "latency_ms_p95": "latency p95 (ms)", "absent_refused": "refused when absent",
}  # fmt: skip


def _shown(value: float | int | None) -> str:
    """A metric as the tables print it: an integer as is, a share without trailing zeros, "-" for none."""
    if value is None:
        return "-"
    return f"{value:d}" if isinstance(value, int) else f"{value:.4f}".rstrip("0").rstrip(".")


def format_table(metrics: Report) -> str:
    """The metrics as a two-column text table; metrics without data (and "by_type") are left out."""
    rows = [(_LABELS.get(k, k), v) for k, v in metrics.items() if isinstance(v, int | float)]
    width = max((len(label) for label, _ in rows), default=6)
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  {'-' * 8}"]
    lines += [f"{label:<{width}}  {_shown(value)}" for label, value in rows]
    return "\n".join(lines)


def format_by_type(by_type: dict[str, Metrics]) -> str:
    """``TYPE_KEYS`` of each question type as a table: one row a type, "-" where it has no data."""
    from qa.eval.evaluate import TYPE_KEYS

    width = max((len(kind) for kind in by_type), default=4)
    labels = [_LABELS.get(k, k) for k in TYPE_KEYS]
    lines = ["  ".join([f"{'type':<{width}}", *labels])]
    lines.append("  ".join(["-" * width, *("-" * len(label) for label in labels)]))
    for kind, metrics in by_type.items():
        cells = [
            f"{_shown(metrics.get(k)):>{len(label)}}" for k, label in zip(TYPE_KEYS, labels, strict=True)
        ]
        lines.append("  ".join([f"{kind:<{width}}", *cells]))
    return "\n".join(lines)
