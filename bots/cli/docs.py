"""``qa docs`` (list, show, remove) and the JSON-or-table output the listing commands share."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Annotated, Any, Protocol

import typer
from rich.table import Table
from rich.text import Text

from bots.cli.app import JsonOption, docs_app, out, settings
from bots.cli.render import documents_table, shown_date
from qa.engine import Engine
from qa.store import DocumentOrder


@docs_app.callback()
def docs_list(
    ctx: typer.Context,
    as_json: JsonOption = False,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit", min=0, help="Articles to list (0: all). [default: one screen; all with --json]"
        ),
    ] = None,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Articles to pass over first.")] = 0,
    search: Annotated[
        str, typer.Option("--search", metavar="TEXT", help="Only articles whose title or source holds TEXT.")
    ] = "",
    sort: Annotated[
        DocumentOrder, typer.Option("--sort", help="Order: added (oldest first), date (newest first), title.")
    ] = "added",
) -> None:
    """List indexed articles, a screen at a time: id, title, date, source, passages."""
    if ctx.invoked_subcommand is not None:
        return
    engine = Engine(settings(ctx))
    if limit is None:
        limit = 0 if as_json else max(5, out.size.height - 4)
    documents, total = engine.document_page(offset, limit or None, search, sort)
    if as_json:
        sys.stdout.write(json.dumps([d.to_dict() for d in documents], ensure_ascii=False) + "\n")
        return
    if not documents:
        out.print(_empty_listing(total, search), markup=False, highlight=False)
        return
    out.print(documents_table(documents, out.size.width))
    shown_to = offset + len(documents)
    more = f"; --offset {shown_to} for the next" if shown_to < total else ""
    matching = f" matching {search!r}" if search else ""
    out.print(f"{offset + 1}-{shown_to} of {total} articles{matching}{more}", markup=False, style="dim")


# `qa docs list` as well, as `qa feeds list` and `qa watch list` list theirs (the same options).
docs_app.command("list")(docs_list)


class Record(Protocol):
    """Plain data that ``--json`` prints."""

    def to_dict(self) -> dict[str, Any]: ...


def print_records(records: Sequence[Record], table: Table, as_json: bool, empty: str) -> None:
    """Records as one JSON list, or as the table made of them (``empty`` when there are none)."""
    if as_json:
        sys.stdout.write(json.dumps([r.to_dict() for r in records], ensure_ascii=False) + "\n")
    else:
        out.print(table if records else empty)


def _empty_listing(total: int, search: str) -> str:
    if search:
        return f"No article's title or source holds {search!r}."
    if total:
        return f"The index holds {total} articles; none at that offset."
    return "The index is empty: `qa index PATH` adds articles."


@docs_app.command("remove")
def docs_remove(
    ctx: typer.Context, doc_ids: Annotated[list[str], typer.Argument(help="Ids shown by `qa docs`.")]
) -> None:
    """Remove articles from the index."""
    engine = Engine(settings(ctx))
    for doc_id in doc_ids:
        engine.remove_document(doc_id)
        out.print(f"removed {doc_id}")


@docs_app.command("show")
def docs_show(
    ctx: typer.Context,
    ref: Annotated[
        str, typer.Argument(help="An id shown by `qa docs`, a source it lists, or a file's path.")
    ],
) -> None:
    """Print one article's metadata and text."""
    engine = Engine(settings(ctx))
    info, text = engine.find_document(ref)
    parts = (info.place, shown_date(info.published), info.url, info.path or info.source)
    where = "  ".join(p for p in parts if p)
    out.print(Text(f"{info.title}\n{where}\n\n{text}"))
