"""Run the ``qa`` command with ``python -m bots.cli``."""

from bots.cli import main

main()
