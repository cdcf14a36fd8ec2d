"""A local store's concurrency: a pool of connections, one writer at a time, one background merge."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

from qa.errors import IndexBusyError
from qa.store import schema

if TYPE_CHECKING:
    from filelock import FileLock

P = ParamSpec("P")
T = TypeVar("T")

# Connections reading a database at once. Each maps it (RSS counts its pages once per connection),
# and reading is CPU-bound: one a core, never one a waiting question.
READING_CONNECTIONS = max(2, min(os.cpu_count() or 2, 8))


class ConnectionPool:
    """Connections to one database, each lent to one thread at a time and shared by all of them.

    Each connection maps the database into memory, and resident memory (RSS) counts a mapped page
    once per connection that maps it: a connection per thread grew a server answering eight
    questions at once by eight maps of the index. The pool opens at most ``size`` connections; a
    thread that asks while all are lent waits for one to come back. A thread that already holds
    one gets the same one again, so nested blocks never wait on themselves and see one transaction."""

    def __init__(self, path: Path, size: int = READING_CONNECTIONS) -> None:
        self._path = path
        self._size = max(1, size)
        self._idle: list[sqlite3.Connection] = []
        self._lent: dict[int, sqlite3.Connection] = {}  # by the ident of the thread holding it
        self._opened = 0  # idle, lent and being opened
        self._closed: set[int] = set()  # ids of lent connections that close_all() closes on return
        self._changed = threading.Condition()

    @contextmanager
    def connection(self, writing: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection for the block: this thread's own if it holds one already. A writer (one at
        a time, under the write lock) never waits for readers: it may open one beyond ``size``,
        closed when it comes back."""
        holder = threading.get_ident()
        with self._changed:
            held = self._lent.get(holder)
        if held is not None:
            yield held
            return
        conn = self._take(holder, writing)
        try:
            yield conn
        finally:
            self._give_back(holder, conn)

    def read(
        self, read: Callable[Concatenate[sqlite3.Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``read(conn, *args, **kwargs)`` with a connection of the pool."""
        with self.connection() as conn:
            return read(conn, *args, **kwargs)

    def _take(self, holder: int, writing: bool) -> sqlite3.Connection:
        """An idle connection, or a new one while fewer than ``size`` are open, lent to ``holder``."""
        with self._changed:
            while not writing and not self._idle and self._opened >= self._size:
                self._changed.wait()
            if self._idle:
                self._lent[holder] = self._idle.pop()
                return self._lent[holder]
            self._opened += 1
        try:
            conn = schema.connect(self._path)
        except BaseException:
            with self._changed:
                self._opened -= 1
                self._changed.notify()
            raise
        with self._changed:
            self._lent[holder] = conn
        return conn

    def _give_back(self, holder: int, conn: sqlite3.Connection) -> None:
        # a block that ended inside a transaction must not pin its read snapshot for the next one
        usable = True
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                usable = False
        with self._changed:
            del self._lent[holder]
            closed = id(conn) in self._closed
            self._closed.discard(id(conn))
            if closed or not usable or self._opened > self._size:
                self._opened -= 1
                conn.close()
            else:
                self._idle.append(conn)
            self._changed.notify()

    def close_all(self) -> None:
        """Close every idle connection now and each lent one when it comes back; the pool opens new
        ones when asked afterwards."""
        with self._changed:
            idle, self._idle = self._idle, []
            self._opened -= len(idle)
            self._closed.update(id(conn) for conn in self._lent.values())
            self._changed.notify_all()
        for conn in idle:
            conn.close()


class BackgroundRun:
    """Runs ``target`` in a thread of its own, one run at a time; the process waits for it at exit."""

    def __init__(self, target: Callable[[], None], name: str) -> None:
        self._target = target
        self._name = name
        self._thread: threading.Thread | None = None  # the run, while one is going
        self._starting = threading.Lock()

    def start(self) -> None:
        """Start a run unless one is going."""
        with self._starting:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._target, name=self._name, daemon=False)
            self._thread.start()

    def wait(self) -> None:
        """Return once no run is going."""
        thread = self._thread
        if thread is not None:
            thread.join()


class WriteLock:
    """One writer at a time: a lock for this process's threads and a file lock for other processes."""

    def __init__(self, index_dir: Path, timeout: float) -> None:
        self._index_dir = index_dir
        self._timeout = timeout
        self._threads = threading.Lock()
        self._file: FileLock | None = None  # made by the first write: a reading process never needs it

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold both locks for the block; ``IndexBusyError`` when another process keeps the file lock
        longer than the timeout."""
        from filelock import FileLock, Timeout

        with self._threads:
            if self._file is None:
                self._file = FileLock(str(self._index_dir / "write.lock"), thread_local=False)
            try:
                self._file.acquire(timeout=self._timeout)
            except Timeout:
                raise IndexBusyError(
                    f"another process is writing the index in {self._index_dir} "
                    f"(waited {self._timeout:.0f}s); try again when it has finished"
                ) from None
            try:
                yield
            finally:
                self._file.release()
