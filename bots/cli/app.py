"""The ``qa`` Typer app: its global options, the settings they make (through the context), how errors end."""

from __future__ import annotations

import inspect
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import AliasChoices, ValidationError
from pydantic_core import ErrorDetails
from rich.console import Console
from typer.core import TyperOption

from qa import __version__
from qa.config import Settings, env_file_problems
from qa.errors import QAError
from qa.models import Mode

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
EXIT_ERROR, EXIT_PARTIAL, EXIT_INTERRUPTED = 1, 3, 130  # 130: Ctrl-C (128 + SIGINT)


app = typer.Typer(
    help="Extractive question answering over a news archive: every answer is quoted from an article.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
docs_app = typer.Typer(help="List, show and remove indexed articles.", invoke_without_command=True)
app.add_typer(docs_app, name="docs")

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


def settings(ctx: typer.Context, serving: bool = False, **options: Any) -> Settings:
    """Settings from the environment / .env, with the global options (kept in the context) and the
    command's ``options`` on top. The operator's own commands fetch any address; a server
    (``serving``) only public ones unless QA_FETCH_ALLOW_PRIVATE."""
    operator = {} if serving else {"fetch_allow_private": True}
    given = {k: v for k, v in options.items() if v is not None}
    try:
        return Settings(**(operator | (ctx.obj or {}) | given))
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            named = f" {field} ({_setting_names(ctx, field)})" if field in Settings.model_fields else "s"
            err.print(f"qa: error: invalid setting{named}: {_requirement(error)}", markup=False)
        raise typer.Exit(EXIT_ERROR) from None
    except ValueError as exc:  # one pydantic-settings could not even read (an unparsable .env value)
        err.print(f"qa: error: invalid settings: {exc}", markup=False)
        raise typer.Exit(EXIT_ERROR) from None


# What a value must be, by pydantic's error type, for the settings' kinds of fields
_REQUIREMENTS = {
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "literal_error": "must be {expected}",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "bool_parsing": "must be true or false (1 or 0)",
}


def _requirement(error: ErrorDetails) -> str:
    """What the setting must be, in words: ``must be at most 65535``."""
    shape = _REQUIREMENTS.get(error["type"])
    if shape is None:  # a validator's own message, or pydantic's "Input should be ..."
        message = error["msg"].removeprefix("Value error, ")
        return "must be" + message.removeprefix("Input should be") if message.startswith("Input") else message
    limits = {k: f"{v:g}" if isinstance(v, float) else v for k, v in error.get("ctx", {}).items()}
    return shape.format(**limits)


def _setting_names(ctx: typer.Context, field: str) -> str:
    """``--port / QA_PORT``: the command's or the global option and the environment variables that
    set ``field``."""
    commands = (ctx.command, ctx.find_root().command)  # the global options are the root's
    options = [
        o.opts[0] for c in commands for o in c.params if isinstance(o, TyperOption) and o.name == field
    ]
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        variables = [str(name) for name in alias.choices if name != field]
    else:
        variables = [f"{Settings.model_config.get('env_prefix', '')}{field}".upper()]
    return " / ".join(dict.fromkeys([*options, *variables]))


def reflow_help(typer_app: typer.Typer) -> None:
    """Each command's help as paragraphs, not as its docstring's lines: Typer keeps the line breaks of
    every paragraph after the first, so a terminal narrower or wider than the source wrapped them at
    the source's width and again at its own (ragged lines). A blank line in the docstring stays one."""
    for command in typer_app.registered_commands:
        text = inspect.cleandoc(command.help or (command.callback.__doc__ if command.callback else "") or "")
        command.help = "\n\n".join(" ".join(paragraph.split()) for paragraph in text.split("\n\n"))
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            reflow_help(group.typer_instance)


def run() -> None:
    """Run the ``qa`` app: a ``QAError`` from any command ends it here, with one line on stderr and
    exit status 1 (every command alike; anything unexpected propagates)."""
    try:
        app(prog_name="qa")  # also under `python -m bots.cli`
    except QAError as exc:
        err.print(f"qa: error: {exc}", markup=False)
        raise SystemExit(EXIT_ERROR) from None
    except SystemExit as exc:  # Typer ends a Ctrl-C with 130, silently
        if exc.code == EXIT_INTERRUPTED:  # a write is one transaction: none is left half done
            err.print("qa: interrupted (the index is as its last finished write left it)", markup=False)
        raise


def _version(value: bool) -> None:
    if value:
        out.print(f"qa-bot {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
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
    """Global options; every one also has an environment variable (docs/configuration.md)."""
    options = {"index_dir": index_dir, "model": model, "device": device}
    ctx.obj = {k: v for k, v in options.items() if v is not None}  # the settings of every command
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="qa: %(levelname)s: %(message)s", stream=sys.stderr, force=True)
    logging.getLogger("qa.progress").setLevel(level if quiet else min(level, logging.INFO))  # unless -q
    for noisy in ("httpx", "faiss", "sentence_transformers", "transformers", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    for problem in env_file_problems():  # a typo there would be ignored without a word
        logging.getLogger("qa").warning("%s", problem)
