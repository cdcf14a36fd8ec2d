"""The ``qa`` command line: index, ask, chat, docs, serve, telegram, eval (feeds, refresh: cli_feeds)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from qa import __version__
from qa.config import Settings
from qa.embedding import Progress as ProgressCallback
from qa.engine import Engine
from qa.errors import QAError
from qa.fetching import is_url
from qa.models import IndexReport
from qa.render import documents_table, print_result
from qa.selection import FileSelection
from qa.store import DocumentOrder
from qa.timephrases import parse_day
from qa.types import Mode

logger = logging.getLogger("qa")
app = typer.Typer(
    help="Extractive question answering over a news archive: every answer is quoted from an article.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
docs_app = typer.Typer(help="List, show and remove indexed articles.", invoke_without_command=True)
app.add_typer(docs_app, name="docs")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_ERROR, EXIT_PARTIAL = 1, 3
ModeOption = Annotated[
    Mode | None,
    typer.Option("--mode", help="Retrieval: hybrid (default), dense or bm25. [env: QA_MODE]"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout (logs go to stderr).")]
RefreshOption = Annotated[
    str | None,
    typer.Option(
        "--refresh",
        help="Poll the feeds (see `qa feeds`) this often while running: 30s, 15m, 1h. [env: QA_REFRESH]",
    ),
]
SinceOption = Annotated[
    str | None,
    typer.Option("--since", metavar="DATE", help="Only articles published on or after YYYY-MM-DD."),
]
UntilOption = Annotated[
    str | None,
    typer.Option("--until", metavar="DATE", help="Only articles published on or before YYYY-MM-DD."),
]


class State:
    """Options given before the subcommand."""

    overrides: dict[str, Any] = {}


def settings() -> Settings:
    """Settings from the environment / .env, with command-line options on top."""
    try:
        return Settings(**State.overrides)
    except ValueError as exc:
        err.print(f"qa: error: invalid setting: {exc}")
        raise typer.Exit(EXIT_ERROR) from None


def _version(value: bool) -> None:
    if value:
        out.print(f"qa-bot {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    index_dir: Annotated[
        Path | None,
        typer.Option(
            "--index-dir", help="Index directory. [env: QA_INDEX_DIR; default: ~/.local/share/qa-bot/index]"
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help="Embedding model name or path. [env: QA_MODEL; default: bundled all-MiniLM-L6-v2]"
        ),
    ] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="auto, cpu, cuda... [env: QA_DEVICE]")
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv for debug).")
    ] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Global options; every one also has an environment variable (see README)."""
    State.overrides = {
        k: v for k, v in {"index_dir": index_dir, "model": model, "device": device}.items() if v is not None
    }
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="qa: %(levelname)s: %(message)s", stream=sys.stderr, force=True)
    for noisy in ("httpx", "faiss", "sentence_transformers", "transformers", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


@contextmanager
def progress_bar() -> Iterator[ProgressCallback]:
    """A progress callback: a bar on a terminal, log lines elsewhere."""
    if err.is_terminal:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        ) as bar:
            tasks: dict[str, Any] = {}

            def update(done: int, total: int, description: str) -> None:
                if description not in tasks:
                    tasks[description] = bar.add_task(description, total=total)
                bar.update(tasks[description], completed=done, total=total)

            yield update
    else:
        last: dict[str, int] = {}

        def log(done: int, total: int, description: str) -> None:
            step = max(1, total // 10)
            if done == total or done - last.get(description, 0) >= step:
                last[description] = done
                logger.info("%s: %d/%d", description, done, total)

        yield log


def fail(exc: QAError) -> typer.Exit:
    """One line on stderr, non-zero exit."""
    err.print(f"qa: error: {exc}", markup=False)
    return typer.Exit(EXIT_ERROR)


@app.command()
def ask(
    question: Annotated[list[str], typer.Argument(help="The question (quotes optional).")],
    as_json: JsonOption = False,
    top_k: Annotated[
        int | None,
        typer.Option("--top-k", "-k", min=1, max=50, help="Answers to show. [env: QA_TOP_K; default: 3]"),
    ] = None,
    mode: ModeOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="DATE",
            help='The day "yesterday", "last week" or "in March" count from (YYYY-MM-DD; default: today).',
        ),
    ] = None,
) -> None:
    """Answer a question with sentences quoted from the archive (the first run indexes seeds/).

    Time in the question limits the articles searched: "in March 2005", "on 14 February 2005",
    "between January and March", "yesterday", "last week", "recently"; "latest" puts the newest first.
    """
    engine = Engine(settings())
    try:
        asked = engine.validate_question(" ".join(question))  # a bad question fails before any loading
        first = parse_day(since, "--since") if since is not None else None
        last = parse_day(until, "--until") if until is not None else None
        day = parse_day(as_of, "--as-of") if as_of is not None else None
        with progress_bar() as progress:
            engine.ensure_index(progress)
        result = engine.ask(asked, top_k=top_k, mode=mode, since=first, until=last, as_of=day)
    except QAError as exc:
        raise fail(exc) from None
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
    else:
        print_result(out, result)


@app.command()
def index(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Files and folders (.txt .md .html .jsonl .json, the seed format), and http(s) URLs "
            "of RSS or Atom feeds, XML sitemaps and article pages.",
            show_default=False,
        ),
    ],
    as_json: JsonOption = False,
    include: Annotated[
        list[str] | None,
        typer.Option(
            "--include", metavar="GLOB", help="In folders, index only files matching GLOB (repeatable)."
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude", metavar="GLOB", help="In folders, leave out files matching GLOB (repeatable)."
        ),
    ] = None,
) -> None:
    """Add articles incrementally: unchanged files are skipped, changed ones replaced, vanished ones removed.

    URLs are fetched politely (robots.txt, QA_FETCH_DELAY between requests to a host).
    In folders, hidden files and README, LICENSE, COPYING, CHANGELOG and NOTICE files are left out
    (name one directly to index it). Globs match a file's path below the folder or its name.
    Exit status: 0 all indexed, 3 some inputs skipped (each named in a warning), 1 failure.
    """
    engine = Engine(settings())
    urls = [p for p in paths if is_url(p)]
    selection = FileSelection(tuple(include or ()), tuple(exclude or ()))
    try:
        with progress_bar() as progress:
            files = [Path(p) for p in paths if not is_url(p)]
            report = engine.index_paths(files, progress, selection, urls=urls)
        stats = engine.stats()
    except QAError as exc:
        raise fail(exc) from None
    finish_report(report, stats, as_json)


def finish_report(report: IndexReport, stats: dict[str, int], as_json: bool) -> None:
    """Print what an indexing run did (one line, or JSON) and exit 3 or 1 when inputs were skipped."""
    if as_json:
        sys.stdout.write(json.dumps(_report_dict(report, stats)) + "\n")
    else:
        out.print(
            f"indexed {len(report.added)} articles ({report.chunks_embedded} passages embedded), "
            f"{report.unchanged} unchanged, {len(report.removed)} removed, "
            f"{len(report.skipped)} skipped; "
            f"the index holds {stats['articles']} articles, {stats['chunks']} passages"
        )
    if report.partial:
        raise typer.Exit(EXIT_PARTIAL if report.added or report.unchanged else EXIT_ERROR)


def _report_dict(report: IndexReport, stats: dict[str, int]) -> dict[str, Any]:
    return {
        "added": report.added,
        "unchanged": report.unchanged,
        "removed": report.removed,
        "skipped": [{"path": p, "reason": r} for p, r in report.skipped],
        "chunks_embedded": report.chunks_embedded,
        "left_out": [{"path": p, "reason": r} for p, r in report.left_out],
        **stats,
    }


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
    engine = Engine(settings())
    if limit is None:
        limit = 0 if as_json else max(5, out.size.height - 4)
    try:
        documents, total = engine.document_page(offset, limit or None, search, sort)
    except QAError as exc:
        raise fail(exc) from None
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
def docs_remove(doc_ids: Annotated[list[str], typer.Argument(help="Ids shown by `qa docs`.")]) -> None:
    """Remove articles from the index."""
    engine = Engine(settings())
    try:
        for doc_id in doc_ids:
            engine.remove_document(doc_id)
            out.print(f"removed {doc_id}")
    except QAError as exc:
        raise fail(exc) from None


@docs_app.command("show")
def docs_show(
    ref: Annotated[
        str, typer.Argument(help="An id shown by `qa docs`, a source it lists, or a file's path.")
    ],
) -> None:
    """Print one article's metadata and text."""
    engine = Engine(settings())
    try:
        info, text = engine.find_document(ref)
    except QAError as exc:
        raise fail(exc) from None
    where = "  ".join(p for p in (info.published, info.url, info.path or info.source) if p)
    out.print(Text(f"{info.title}\n{where}\n\n{text}"))


@app.command()
def chat() -> None:
    """Interactive questions with line editing and history; /more, /sources, /help inside."""
    from qa.chat import run_chat

    current = settings()
    engine = Engine(current)
    try:
        with progress_bar() as progress:
            engine.ensure_index(progress)
        run_chat(engine, out, current.index_dir.parent / "chat_history")
    except QAError as exc:
        raise fail(exc) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address. [env: QA_HOST; default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port. [env: QA_PORT; default: 8000]")] = None,
    refresh: RefreshOption = None,
) -> None:
    """Run the HTTP API and web chat page (uvicorn)."""
    from bots.http import serve as serve_http  # the CLI is the one place that launches front ends

    options = {"host": host, "port": port, "refresh": refresh}
    State.overrides |= {k: v for k, v in options.items() if v is not None}
    try:
        serve_http(settings())
    except QAError as exc:
        raise fail(exc) from None


@app.command()
def telegram(refresh: RefreshOption = None) -> None:
    """Run the Telegram bot with long polling (token in QA_TELEGRAM_TOKEN or TELEGRAM_BOT_TOKEN)."""
    from bots.telegram import run_bot

    if refresh is not None:
        State.overrides["refresh"] = refresh
    if logging.getLogger().level == logging.WARNING:  # the default: a server says that it started
        logging.getLogger("bots").setLevel(logging.INFO)
    try:
        run_bot(settings())
    except QAError as exc:
        raise fail(exc) from None


@app.command("eval")
def evaluate(
    directory: Annotated[Path, typer.Argument(help="A folder with docs.jsonl and queries.jsonl.")],
    split: Annotated[Literal["dev", "test", "all"], typer.Option(help="Which questions.")] = "dev",
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many questions.")] = None,
    as_json: JsonOption = False,
    mode: ModeOption = None,
    absent: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Leave this share of the articles out of the index (by a stable hash of the article id) "
            "and count how often their questions are refused. Use an empty --index-dir.",
        ),
    ] = None,
    reader: Annotated[
        Literal["on", "off"] | None,
        typer.Option(help="on: the trained reader; off: the sentence picker. [env: QA_READER]"),
    ] = None,
) -> None:
    """Measure retrieval and answers on a benchmark (SQuAD, SciFact format), through `qa ask`'s code path."""
    from qa.evaluate import evaluate_dataset, format_table

    config = settings()
    if reader == "off":
        config = config.model_copy(update={"reader": "off"})
    elif reader == "on" and config.reader == "off":
        config = config.model_copy(update={"reader": "default"})
    engine = Engine(config)
    try:
        with progress_bar() as progress:
            metrics = evaluate_dataset(
                engine, directory, split=split, limit=limit, mode=mode, progress=progress, absent=absent
            )
    except QAError as exc:
        raise fail(exc) from None
    if as_json:
        sys.stdout.write(json.dumps(metrics) + "\n")
    else:
        out.print(format_table(metrics))


from qa import cli_feeds  # noqa: E402, F401  (adds `qa feeds` and `qa refresh` to the app)


def main() -> None:
    """Console-script entry point."""
    app()
