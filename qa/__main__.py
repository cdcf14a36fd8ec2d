"""Run the CLI with ``python -m qa``."""

from qa.cli import main

main()
