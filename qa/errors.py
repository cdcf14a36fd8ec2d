"""The qa error family: every failure a user can cause or meet is a ``QAError``.

Hierarchy::

    QAError                      base; ``str(err)`` is one line a person understands
    ├── QuestionError            the question is empty, blank or too long
    ├── NoIndexError             no index exists and there is nothing to build one from
    ├── IndexBusyError           another process is writing the index
    ├── IndexCorruptError        the index on disk cannot be read
    ├── DocumentError            one document could not be loaded (unreadable, binary, bad JSON)
    │   └── FetchError           a URL could not be fetched (refused, robots.txt, HTTP error, too large)
    │       └── AddressRefusedError  its host is at a loopback, private, link-local, ... address
    ├── DocumentNotFoundError    no indexed document has that id (or source)
    ├── FeedNotFoundError        no registered feed has that URL
    ├── WatchError               a watch cannot be made (limit reached, a bad webhook, "last week")
    ├── WatchNotFoundError       no watch has that id (in that chat)
    ├── ConversationNotFoundError  no conversation has that id (it may have expired)
    ├── FeedbackError            a vote names no answer (no such conversation or answer number)
    ├── ModelError               the embedding model cannot be loaded or fails its checksum
    └── ConfigError              a setting is invalid (a bad token, a bad path)

Adapters map these once: the CLI prints one line and exits non-zero, HTTP answers with a 4xx JSON
error, Telegram replies politely.  Anything else is a bug and propagates.
"""

from __future__ import annotations


class QAError(Exception):
    """Base of every error qa raises on purpose."""


class QuestionError(QAError):
    """The question cannot be asked (empty, blank, too long)."""


class NoIndexError(QAError):
    """There is no index and nothing to build one from."""


class IndexBusyError(QAError):
    """Another process holds the index write lock."""


class IndexCorruptError(QAError):
    """The index on disk cannot be read."""


class DocumentError(QAError):
    """A document could not be loaded; ``path`` names it."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class FetchError(DocumentError):
    """A URL could not be fetched; ``path`` is the URL."""


class AddressRefusedError(FetchError):
    """A fetch was refused before connecting: the host is at an address inside the server's own
    network (loopback, private, link-local, multicast, ...) and QA_FETCH_ALLOW_PRIVATE is off."""


class DocumentNotFoundError(QAError):
    """No indexed document has the given id."""

    def __init__(self, doc_id: str, message: str | None = None) -> None:
        super().__init__(message or f"no document with id {doc_id!r}")
        self.doc_id = doc_id


class FeedNotFoundError(QAError):
    """No registered feed has the given URL."""

    def __init__(self, url: str) -> None:
        super().__init__(f"no feed {url!r} is registered (see `qa feeds list`)")
        self.url = url


class ModelError(QAError):
    """The embedding model cannot be loaded or is not the model it claims to be."""


class ConfigError(QAError):
    """A setting has an invalid value."""


class WatchError(QAError):
    """A watch cannot be made: the chat's limit is reached, the webhook is refused, or its time
    words would never match a new article."""


class WatchNotFoundError(QAError):
    """No watch has the given id (among those the asker may see)."""

    def __init__(self, watch_id: int) -> None:
        super().__init__(f"no watch {watch_id} (see the list of watches)")
        self.watch_id = watch_id


class ConversationNotFoundError(QAError):
    """No conversation has the given id: it was never started, or it expired."""

    def __init__(self, conversation_id: str) -> None:
        super().__init__(f"No conversation {conversation_id!r}; it may have expired. Ask again.")
        self.conversation_id = conversation_id


class FeedbackError(QAError):
    """A vote names no answer: the conversation is unknown or expired, or has no such answer."""
