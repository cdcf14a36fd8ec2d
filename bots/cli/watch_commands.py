"""``qa watch add|list|remove|check`` and ``qa feedback list|export``: watches and votes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bots.cli.app import JsonOption, app, err, out, settings
from bots.cli.docs import print_records
from bots.cli.render import answer_text
from qa.engine import Engine
from qa.errors import QAError

watch_app = typer.Typer(
    help="Questions asked again whenever articles are added (`qa index`, `qa refresh`, uploads).",
    no_args_is_help=True,
)
feedback_app = typer.Typer(help="The 👍 / 👎 votes cast on answers in Telegram and on the web.")
app.add_typer(watch_app, name="watch")
app.add_typer(feedback_app, name="feedback")
WatchId = Annotated[int, typer.Argument(help="The id shown by `qa watch list`.")]


@watch_app.command("add")
def watch_add(
    ctx: typer.Context,
    question: Annotated[list[str], typer.Argument(help="The question (quotes optional).")],
    webhook: Annotated[
        str | None,
        typer.Option("--webhook", metavar="URL", help="POST each new answer here (by `qa serve`)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Watch a question: each new or changed article is asked it, new answers are kept."""
    watch = Engine(settings(ctx)).watching.add(" ".join(question), webhook=webhook)
    if as_json:
        sys.stdout.write(json.dumps(watch.to_dict(), ensure_ascii=False) + "\n")
    else:
        out.print(f"watching {watch.id}: {watch.question}", markup=False)


@watch_app.command("list")
def watch_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every watch (the chats' too): id, question, where its answers go."""
    watches = Engine(settings(ctx)).watching.listed(everyone=True)
    table = Table("id", "question", "sent to", "since (UTC)", box=None)
    for w in watches:
        target = f"chat {w.chat_id}" if w.chat_id is not None else (w.webhook or "qa watch check")
        table.add_row(str(w.id), w.question, target, w.created)
    print_records(watches, table, as_json, 'No watches yet: `qa watch add "QUESTION"` adds one.')


@watch_app.command("remove")
def watch_remove(ctx: typer.Context, watch_id: WatchId) -> None:
    """Stop a watch; the answers found for it go too."""
    watch = Engine(settings(ctx)).watching.remove(watch_id, everyone=True)
    out.print(f"removed watch {watch.id}: {watch.question}", markup=False)


@watch_app.command("check")
def watch_check(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Print the answers found since the last `qa watch check` (for cron, after `qa refresh`)."""
    from qa.watching import answers_dict  # loaded with the watches below; `qa ask` needs neither

    found = Engine(settings(ctx)).watching.unshown()
    if as_json:
        sys.stdout.write(json.dumps([answers_dict(w, f) for w, f in found], ensure_ascii=False) + "\n")
        return
    if not found:
        out.print("No new answers.")
    for watch, answers in found:
        out.print(f"New answer to: {watch.question} (watch {watch.id})", markup=False)
        for item in answers:
            out.print(answer_text(item.answer, plain=out.color_system is None))


@feedback_app.command("list")
def feedback_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every vote: when, 👍 or 👎, the question and the answer voted on."""
    votes = Engine(settings(ctx)).feedback.votes()
    table = Table("id", "at (UTC)", "vote", "question", "answer", "article", box=None)
    for v in votes:
        mark = "👍" if v.vote == "up" else "👎"
        table.add_row(
            str(v.id), v.at, mark, v.question, v.answer.span_text or v.answer.text, v.answer.article.id
        )
    print_records(votes, table, as_json, "No votes yet.")


@feedback_app.command("export")
def feedback_export(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            help="The queries.jsonl file to write (-: standard output).", dir_okay=False, allow_dash=True
        ),
    ],
) -> None:
    """Write the voted questions as `qa eval` questions: 👍 answers are gold, 👎 ones known wrong."""
    feedback = Engine(settings(ctx)).feedback
    if str(file) == "-":  # the lines alone on stdout, for a pipe; the count goes to stderr
        count = feedback.write_queries(sys.stdout)
        err.print(f"wrote {count} questions to standard output", markup=False)
        return
    try:
        count = feedback.export(file)
    except OSError as exc:
        raise QAError(f"cannot write {file}: {exc}") from None
    out.print(f"wrote {count} questions to {file}", markup=False)
