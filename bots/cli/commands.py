"""The ``qa`` commands ask, index, chat and eval, and serve and telegram (the other front ends)."""

from __future__ import annotations

import errno
import json
import logging
import socket
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from bots.cli.app import (
    EXIT_ERROR,
    EXIT_PARTIAL,
    JsonOption,
    ModeOption,
    RefreshOption,
    SinceOption,
    UntilOption,
    app,
    out,
    settings,
)
from bots.cli.progress_bar import progress_bar
from bots.cli.render import format_by_type, format_table, print_result
from qa.answering.timephrases import parse_day
from qa.config import default_index_dir
from qa.engine import Engine
from qa.errors import ConfigError
from qa.ingest.selection import FileSelection
from qa.models import IndexReport


@app.command()
def ask(
    ctx: typer.Context,
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
            help='The day "yesterday", "last week" or "in March" count from (YYYY-MM-DD; default: today; '
            "a date without a year stays inside the archive's dates).",
        ),
    ] = None,
) -> None:
    """Answer a question with sentences quoted from the archive (the first run indexes seeds/).

    Time in the question: a date ("in March 2005", "on 14 February 2005", "between January and
    March") puts the articles published in it or in the eight weeks after it first; "yesterday", "last
    week", "recently" limit the articles searched; "latest" puts the newest first.
    """
    engine = Engine(settings(ctx))
    # a bad question fails before any loading
    asked = engine.answerer.validate_question(" ".join(question))
    first = parse_day(since, "--since") if since is not None else None
    last = parse_day(until, "--until") if until is not None else None
    day = parse_day(as_of, "--as-of") if as_of is not None else None
    with progress_bar() as progress:
        engine.archive.ensure_index(progress)
    result = engine.ask(asked, top_k=top_k, mode=mode, since=first, until=last, as_of=day)
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
    else:
        print_result(out, result)


@app.command()
def index(
    ctx: typer.Context,
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
    (name one directly to index it). Globs match a file's path below the folder or its name; the
    articles of files an earlier run indexed and the globs now leave out are removed, as a deleted
    file's are (the index holds the folder as chosen).

    Exit status: 0 all indexed, 3 some inputs skipped (each named in a warning), 1 failure.
    """
    from qa.web.fetching import is_url  # the web stack (httpx): indexing's, not asking's

    engine = Engine(settings(ctx))
    urls = [p for p in paths if is_url(p)]
    selection = FileSelection(tuple(include or ()), tuple(exclude or ()))
    with progress_bar() as progress:
        files = [Path(p) for p in paths if not is_url(p)]
        report = engine.index_paths(files, progress, selection, urls=urls)
    stats = engine.stats()
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


@app.command()
def chat(ctx: typer.Context) -> None:
    """Interactive questions with line editing and history; /more, /sources, /help inside."""
    from bots.cli.chat import run_chat

    current = settings(ctx)
    engine = Engine(current)
    with progress_bar() as progress:
        engine.archive.ensure_index(progress)
    # the user's data folder, wherever the index is: ~/.local/share/qa-bot/ holds the default index
    run_chat(engine, out, default_index_dir().parent / "chat_history")


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Bind address. [env: QA_HOST; default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port. [env: QA_PORT; default: 8000]")] = None,
    refresh: RefreshOption = None,
) -> None:
    """Run the HTTP API and web chat page (uvicorn)."""
    from bots.http import serve as serve_http  # imported here: `qa ask` need not load FastAPI

    config = settings(ctx, serving=True, host=host, port=port, refresh=refresh)
    require_free_address(config.host, config.port)  # said at once, not after the index has loaded
    try:
        serve_http(config)
    except SystemExit as exc:
        if exc.code == 3:  # uvicorn's "could not start" (its log line says why); qa's 3 is "partly done"
            raise typer.Exit(EXIT_ERROR) from None
        raise


def require_free_address(host: str, port: int) -> None:
    """Raise ``ConfigError`` naming ``host:port`` when a server cannot listen there (in use, not an
    address of this machine, a port it may not open), trying to bind it the way uvicorn does."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, kind, protocol, _, address in found:
            with socket.socket(family, kind, protocol) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                probe.bind(address)
    except OSError as exc:
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"address {shown} is already in use: choose another --port (QA_PORT)") from None
        raise ConfigError(
            f"cannot listen on {shown}: {exc.strerror} (--host / QA_HOST, --port / QA_PORT)"
        ) from None


@app.command()
def telegram(ctx: typer.Context, refresh: RefreshOption = None) -> None:
    """Run the Telegram bot with long polling (token in QA_TELEGRAM_TOKEN or TELEGRAM_BOT_TOKEN)."""
    from bots.telegram import run_bot

    if logging.getLogger().level == logging.WARNING:  # the default: a server says that it started
        logging.getLogger("bots").setLevel(logging.INFO)
    run_bot(settings(ctx, serving=True, refresh=refresh))


@app.command("eval")
def evaluate(
    ctx: typer.Context,
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
    by_type: Annotated[
        bool, typer.Option("--by-type", help="Also a table by question type (who, when, how much...).")
    ] = False,
    queries: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Ask the questions of this file (queries.jsonl's format) over the folder's docs.jsonl, "
            "in place of its queries.jsonl.",
        ),
    ] = None,
) -> None:
    """Measure retrieval and answers on a benchmark (SQuAD, SciFact format), through `qa ask`'s code path."""
    from qa.eval.evaluate import evaluate_dataset

    config = settings(ctx)
    if reader == "off":
        config = config.model_copy(update={"reader": "off"})
    elif reader == "on" and config.reader == "off":
        config = config.model_copy(update={"reader": "default"})
    engine = Engine(config)
    with progress_bar() as progress:
        metrics = evaluate_dataset(
            engine,
            directory,
            split=split,
            limit=limit,
            mode=mode,
            progress=progress,
            absent=absent,
            queries=queries,
        )
    if as_json:
        sys.stdout.write(json.dumps(metrics) + "\n")
        return
    out.print(format_table(metrics))
    if by_type:
        types = metrics.get("by_type")
        out.print()
        out.print(
            format_by_type(types) if isinstance(types, dict) else "No question of this benchmark has a type."
        )
