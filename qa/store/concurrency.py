"""A local store's concurrency: a connection per thread, one writer at a time, one background merge."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from qa.errors import IndexBusyError
from qa.store import schema

if TYPE_CHECKING:
    from filelock import FileLock


class ThreadConnections:
    """One connection to a database per live thread, all closed together.

    A server's worker threads come and go (a pool lets idle ones end): the connection of a thread
    that has ended is closed when another thread opens one, so the process holds at most one per live
    thread. Each maps the database into memory, so one left behind per ended thread grew a busy
    server by the database's size every few bursts."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.local()
        # every thread's connection with its thread, for close_all() and to close an ended one's
        self._opened: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._opening = threading.Lock()

    def get(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = schema.connect(self._path)
            self._local.conn = conn
            with self._opening:
                ended = [c for thread, c in self._opened if not thread.is_alive()]
                self._opened = [(t, c) for t, c in self._opened if t.is_alive()]
                self._opened.append((threading.current_thread(), conn))
            for old in ended:
                old.close()
        return conn

    def close_all(self) -> None:
        """Close every thread's connection; a later ``get`` opens a new one."""
        with self._opening:
            opened, self._opened = self._opened, []
            self._local = threading.local()
        for _, conn in opened:
            conn.close()

    def close_this_thread(self) -> None:
        """Close this thread's connection (a thread that ends must not leave one behind)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            return
        with self._opening:
            self._opened = [(t, c) for t, c in self._opened if c is not conn]
        self._local.conn = None
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
