"""Watches, the answers found for them and their deliveries, in the index's SQLite beside the feeds.

Each change is one statement or one transaction on a short-lived connection, so any thread or
process may use it; an answer is marked delivered only after it was sent, and at most once.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from qa.models import Answer
from qa.store.schema import DATABASE, WATCH_SCHEMA
from qa.watching.records import Delivery, Found, Watch, answer_from_json, answer_json, iso_time

MAX_TRIES = 4  # a failed delivery is retried after each of the next checks, three times at most
Target = Literal["chat", "webhook"]
_WATCH = "SELECT id, question, chat_id, webhook, created FROM watches"
_FOUND = "SELECT a.id, a.watch_id, a.answer, a.found, a.tries, a.error FROM watch_answers a"
_DELIVERY = (  # a watch's columns, then its answer's: a Delivery
    "SELECT w.id, w.question, w.chat_id, w.webhook, w.created, a.id, a.watch_id, a.answer, a.found, "
    "a.tries, a.error FROM watch_answers a JOIN watches w ON w.id = a.watch_id"
)


@contextmanager
def connect(index_dir: Path) -> Iterator[sqlite3.Connection]:
    """A short-lived autocommit connection to the index database."""
    with closing(sqlite3.connect(index_dir / DATABASE, timeout=60.0, isolation_level=None)) as conn:
        yield conn


def prepare(index_dir: Path) -> Path:
    """Create the watches' and votes' tables in the index database (once); returns the folder."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with connect(index_dir) as conn:
        conn.executescript(WATCH_SCHEMA)
    return index_dir


def _watch(row: tuple[int, str, int | None, str | None, float]) -> Watch:
    return Watch(int(row[0]), row[1], row[2], row[3], iso_time(row[4]))


def _found(row: tuple[int, int, str, float, int, str | None]) -> Found:
    return Found(int(row[0]), int(row[1]), answer_from_json(row[2]), iso_time(row[3]), int(row[4]), row[5])


def _delivery(row: tuple[Any, ...]) -> Delivery:
    return Delivery(_watch(row[:5]), _found(row[5:]))


@dataclass(slots=True)
class Delivered:
    """What a watch was told already: sentences, and the stories and articles they came from."""

    sentences: set[str] = field(default_factory=set)
    stories: set[str] = field(default_factory=set)
    articles: set[str] = field(default_factory=set)

    def knows(self, answer: Answer, story: str) -> bool:
        """True for the same sentence, or a sentence from another copy of a story already answered."""
        if answer.text in self.sentences:
            return True
        return story in self.stories and answer.article.id not in self.articles


class WatchState:
    """The watches of one index directory and what was found and sent for them."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = prepare(index_dir)

    # -- watches ---------------------------------------------------------------------------------
    def add(self, question: str, chat_id: int | None, webhook: str | None, limit: int | None) -> Watch | None:
        """Store a watch; None when ``chat_id`` already keeps ``limit`` watches."""
        with connect(self.index_dir) as conn:
            conn.execute("BEGIN IMMEDIATE")
            kept = conn.execute("SELECT count(*) FROM watches WHERE chat_id IS ?", (chat_id,)).fetchone()[0]
            if limit is not None and kept >= limit:
                conn.execute("ROLLBACK")
                return None
            cursor = conn.execute(
                "INSERT INTO watches(question, chat_id, webhook, created) VALUES (?, ?, ?, ?)",
                (question, chat_id, webhook, time.time()),
            )
            conn.execute("COMMIT")
        found = self.get(int(cursor.lastrowid or 0))
        assert found is not None
        return found

    def get(self, watch_id: int) -> Watch | None:
        """One watch by id."""
        with connect(self.index_dir) as conn:
            row = conn.execute(f"{_WATCH} WHERE id = ?", (watch_id,)).fetchone()
        return None if row is None else _watch(row)

    def listed(self, chat_id: int | None, everyone: bool = False) -> list[Watch]:
        """The watches of a chat (None: those of no chat), or ``everyone``'s, oldest first."""
        where, params = ("1", ()) if everyone else ("chat_id IS ?", (chat_id,))
        with connect(self.index_dir) as conn:
            rows = conn.execute(f"{_WATCH} WHERE {where} ORDER BY id", params).fetchall()
        return [_watch(r) for r in rows]

    def remove(self, watch_id: int) -> bool:
        """Forget a watch and its answers; False when there is none."""
        with connect(self.index_dir) as conn:
            conn.execute("BEGIN IMMEDIATE")
            gone = conn.execute("DELETE FROM watches WHERE id = ?", (watch_id,)).rowcount
            conn.execute("DELETE FROM watch_answers WHERE watch_id = ?", (watch_id,))
            conn.execute("COMMIT")
        return gone > 0

    # -- answers found ---------------------------------------------------------------------------
    def begin_check(self) -> int:
        """Count one more check (an index run, refresh or upload) and return its number."""
        with connect(self.index_dir) as conn:
            conn.execute(
                "INSERT INTO watch_checks(id, checks) VALUES (1, 1) "
                "ON CONFLICT(id) DO UPDATE SET checks = checks + 1"
            )
            return int(conn.execute("SELECT checks FROM watch_checks WHERE id = 1").fetchone()[0])

    def delivered(self, watch_id: int) -> Delivered:
        """What was found for a watch before (sent or not: it is never sent twice)."""
        seen = Delivered()
        with connect(self.index_dir) as conn:
            rows = conn.execute(
                "SELECT sentence, story, article_id FROM watch_answers WHERE watch_id = ?", (watch_id,)
            )
            for sentence, story, article in rows:
                seen.sentences.add(sentence)
                seen.stories.add(story)
                seen.articles.add(article)
        return seen

    def record(self, watch_id: int, answer: Answer, story: str) -> int | None:
        """Keep a new answer for a watch: its id, or None when that sentence was already kept."""
        with connect(self.index_dir) as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO watch_answers(watch_id, found, article_id, story, sentence, answer) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (watch_id, time.time(), answer.article.id, story, answer.text, answer_json(answer)),
            )
            return int(cursor.lastrowid or 0) if cursor.rowcount > 0 else None

    def answers(self, watch_id: int) -> list[Found]:
        """The answers found for a watch, newest first."""
        with connect(self.index_dir) as conn:
            rows = conn.execute(f"{_FOUND} WHERE a.watch_id = ? ORDER BY a.id DESC", (watch_id,)).fetchall()
        return [_found(r) for r in rows]

    def found(self, found_id: int) -> Delivery | None:
        """One answer found, with its watch; None when it (or its watch) is gone."""
        with connect(self.index_dir) as conn:
            row = conn.execute(f"{_DELIVERY} WHERE a.id = ?", (found_id,)).fetchone()
        return None if row is None else _delivery(row)

    # -- deliveries ------------------------------------------------------------------------------
    def pending(self, target: Target) -> list[Delivery]:
        """Answers still to send to their watches' chats (or webhooks): never tried, or failed before
        the last check and tried fewer than ``MAX_TRIES`` times."""
        column = "chat_id" if target == "chat" else "webhook"
        with connect(self.index_dir) as conn:
            checks = conn.execute("SELECT coalesce(max(checks), 0) FROM watch_checks").fetchone()[0]
            rows = conn.execute(
                f"{_DELIVERY} WHERE w.{column} IS NOT NULL AND a.delivered IS NULL AND a.tries < ? "
                f"AND (a.tries = 0 OR a.failed_check < ?) ORDER BY a.id",
                (MAX_TRIES, checks),
            ).fetchall()
        return [_delivery(r) for r in rows]

    def sent(self, found_id: int) -> None:
        """Mark an answer delivered."""
        with connect(self.index_dir) as conn:
            conn.execute(
                "UPDATE watch_answers SET delivered = ?, error = NULL WHERE id = ?", (time.time(), found_id)
            )

    def failed(self, found_id: int, reason: str) -> None:
        """Record a failed delivery: it is tried again after the next check."""
        with connect(self.index_dir) as conn:
            conn.execute(
                "UPDATE watch_answers SET tries = tries + 1, error = ?, "
                "failed_check = (SELECT coalesce(max(checks), 0) FROM watch_checks) WHERE id = ?",
                (reason, found_id),
            )

    def unshown(self, mark: bool = True) -> list[tuple[Watch, list[Found]]]:
        """The answers of the watches of no chat that ``qa watch check`` has not printed yet (now
        marked printed), oldest watch first, each watch's newest answer first."""
        with connect(self.index_dir) as conn:
            conn.execute("BEGIN IMMEDIATE")
            rows = conn.execute(
                f"{_FOUND} JOIN watches w ON w.id = a.watch_id "
                f"WHERE w.chat_id IS NULL AND a.shown IS NULL ORDER BY a.watch_id, a.id DESC"
            ).fetchall()
            if mark and rows:
                conn.executemany(
                    "UPDATE watch_answers SET shown = ? WHERE id = ?", [(time.time(), r[0]) for r in rows]
                )
            conn.execute("COMMIT")
        grouped: dict[int, list[Found]] = {}
        for row in rows:
            grouped.setdefault(int(row[1]), []).append(_found(row))
        watches = {w.id: w for w in self.listed(None)}
        return [(watches[i], found) for i, found in grouped.items() if i in watches]
