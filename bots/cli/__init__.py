"""The terminal front end: the ``qa`` command (console script ``bots.cli:main``; ``python -m bots.cli``)."""

from __future__ import annotations

# Importing the command modules adds their commands to the app.
from bots.cli import commands, docs, doctor, feed_commands, watch_commands  # noqa: F401
from bots.cli.app import app, reflow_help, run

reflow_help(app)


def main() -> None:
    """Console-script entry point."""
    run()
