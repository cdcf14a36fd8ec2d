"""qa-bot: extractive question answering over a news archive."""

__version__ = "0.1.0"
