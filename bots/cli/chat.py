"""``qa chat``: an interactive prompt with line editing, history, follow-ups, /sources and /more."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from bots.cli.render import print_answers, print_passages, print_result
from qa.answering.conversation import ASK_FIRST, NO_MORE, Conversation, small_talk
from qa.engine import Engine
from qa.errors import QAError

HELP = """Ask a question about the archive; follow-up questions use the conversation.
  /more      the next answers to the last question
  /sources   the passages behind the last answer
  /clear     forget the conversation
  /help      this text
  /quit      leave (so do "quit", "exit" and Ctrl-D)"""


def _lines(history_file: Path) -> Iterator[str]:
    """Lines typed by the user: prompt_toolkit on a terminal, plain stdin otherwise."""
    if sys.stdin.isatty() and sys.stdout.isatty():
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory

        history_file.parent.mkdir(parents=True, exist_ok=True)
        session: PromptSession[str] = PromptSession(history=FileHistory(str(history_file)))
        while True:
            try:
                yield session.prompt("you> ")
            except KeyboardInterrupt:
                continue
            except EOFError:
                return
    else:
        for line in sys.stdin:
            yield line.rstrip("\n")


def run_chat(engine: Engine, console: Console, history_file: Path, page: int = 3) -> None:
    """The chat loop; returns when the user quits."""
    conversation = Conversation()
    stats = engine.stats()
    console.print(f"qa-bot: {stats['articles']} articles, {stats['chunks']} passages. /help for commands.")
    for line in _lines(history_file):
        command = line.strip()
        if not command:
            continue
        if command.startswith("/"):  # "/SOURCES" and "/more please" are /sources and /more
            command = command.split()[0].lower()
        if command in ("/quit", "/exit", "/q") or command.lower() in ("quit", "exit"):
            return
        if command == "/help":
            console.print(HELP)
        elif command == "/clear":
            conversation.clear()
            console.print("Conversation cleared.")
        elif command == "/more":
            paging = conversation.paging
            more = paging.next_page(page) if paging is not None else None
            if more is not None and more.answers:
                print_answers(console, more.answers, first=more.first + 1)
            else:
                console.print(NO_MORE if conversation.last else ASK_FIRST)
        elif command == "/sources":
            last = conversation.last
            if last is None:
                console.print(ASK_FIRST)
            elif not last.passages:  # nothing was searched (no article in the days asked for)
                console.print(f"{last.not_found} So there are no sources.", markup=False)
            else:
                print_passages(console, last.passages[:page])
        elif command.startswith("/"):
            console.print(f"Unknown command {command.split()[0]}; /help lists them.")
        elif (reply := small_talk(command)) is not None:
            console.print(reply)
        else:
            try:
                print_result(console, engine.ask(command, conversation))
            except QAError as exc:
                console.print(f"error: {exc}", style="red", markup=False)
