"""The index database: its tables, its schema version, and opening or initialising it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from qa.errors import ConfigError, IndexCorruptError

DATABASE = "meta.sqlite"
MMAP_BYTES = 2**31  # SQLite reads the index database through a memory map up to this size

SCHEMA_VERSION = "1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, published TEXT, source TEXT NOT NULL, url TEXT,
    text TEXT NOT NULL, file TEXT, added REAL NOT NULL, place TEXT);
CREATE INDEX IF NOT EXISTS articles_file ON articles(file);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, article_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, sentences TEXT NOT NULL, sentence_vectors BLOB);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    title, body, tokenize='porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_vocab USING fts5vocab(chunks_fts, 'row');
CREATE TABLE IF NOT EXISTS terms (term TEXT PRIMARY KEY, chunks INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS article_minhash (
    article_id TEXT PRIMARY KEY, signature BLOB NOT NULL, duplicate_of TEXT);
CREATE INDEX IF NOT EXISTS article_minhash_duplicate ON article_minhash(duplicate_of);
CREATE TABLE IF NOT EXISTS article_bands (
    band INTEGER NOT NULL, key INTEGER NOT NULL, article_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS article_bands_key ON article_bands(band, key);
CREATE INDEX IF NOT EXISTS article_bands_article ON article_bands(article_id);
CREATE TABLE IF NOT EXISTS segments (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, dropped INTEGER);
CREATE TABLE IF NOT EXISTS tombstones (id INTEGER PRIMARY KEY);
"""
# The web's tables, created when the feed registry is first opened (``feeds.WebState``).
FEEDS_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY, kind TEXT NOT NULL, title TEXT, added REAL NOT NULL, polled REAL, error TEXT);
CREATE TABLE IF NOT EXISTS web_pages (
    url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, stamp TEXT, fetched REAL NOT NULL);
"""
# Watches and votes, created when they are first opened (``qa.watching``): beside the feeds.
WATCH_SCHEMA = """
CREATE TABLE IF NOT EXISTS watches (
    id INTEGER PRIMARY KEY AUTOINCREMENT, question TEXT NOT NULL, chat_id INTEGER, webhook TEXT,
    created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS watches_chat ON watches(chat_id);
CREATE TABLE IF NOT EXISTS watch_answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT, watch_id INTEGER NOT NULL, found REAL NOT NULL,
    article_id TEXT NOT NULL, story TEXT NOT NULL, sentence TEXT NOT NULL, answer TEXT NOT NULL,
    delivered REAL, tries INTEGER NOT NULL DEFAULT 0, error TEXT, failed_check INTEGER, shown REAL,
    UNIQUE(watch_id, sentence));
CREATE TABLE IF NOT EXISTS watch_checks (id INTEGER PRIMARY KEY CHECK (id = 1), checks INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, channel TEXT NOT NULL,
    conversation TEXT NOT NULL, question TEXT NOT NULL, number INTEGER NOT NULL, vote TEXT NOT NULL,
    comment TEXT, article_id TEXT NOT NULL, answer TEXT NOT NULL);
"""


def exists(index_dir: Path) -> bool:
    """True when ``index_dir`` holds an index (of any age or size)."""
    return (index_dir / DATABASE).is_file()


def connect(path: Path) -> sqlite3.Connection:
    """A connection for one thread of the store (autocommit, WAL, memory-mapped reads)."""
    try:
        conn = sqlite3.connect(path, timeout=60.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        # Reads go through a memory map instead of copying each page into SQLite's cache:
        # BM25's posting lists and the chunk rows of a large archive are read several
        # times faster (SQLite caps the map at its compile-time limit, 2 GiB by default).
        conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    except sqlite3.DatabaseError as exc:
        raise IndexCorruptError(f"cannot open index database {path}: {exc}") from exc
    return conn


def initialise(conn: sqlite3.Connection, index_dir: Path, model_name: str, dimension: int) -> None:
    """Create the tables a new index needs; ``ConfigError`` when it was built with another model."""
    path = index_dir / DATABASE
    try:
        conn.executescript(SCHEMA)
    except sqlite3.DatabaseError as exc:
        raise IndexCorruptError(f"index database {path} is unreadable: {exc}") from exc
    columns = {r[1] for r in conn.execute("PRAGMA table_info(chunks)")}
    if "sentence_vectors" not in columns:  # written by a development version that was never released
        raise IndexCorruptError(f"the index in {index_dir} predates sentence vectors: build it again")
    add_place_column(conn)
    row = conn.execute("SELECT value FROM meta WHERE key='model'").fetchone()
    if row is None:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)",
            [
                ("schema", SCHEMA_VERSION),
                ("model", model_name),
                ("dimension", str(dimension)),
                ("version", "0"),
                ("chunks", "0"),  # kept by writers, with the terms table
                ("minhash", "1"),  # every article has its duplicate-story signature
                ("segments", "0"),  # version 0's vectors are listed in the segments table (manifest.py)
            ],
        )
        conn.execute("COMMIT")
    elif row[0] != model_name:
        raise ConfigError(
            f"the index in {index_dir} was built with model {row[0]!r}, not {model_name!r}: "
            "use the same QA_MODEL, or another QA_INDEX_DIR"
        )


def add_place_column(conn: sqlite3.Connection) -> None:
    """Give an index made before datelines were read its ``articles.place`` column (NULL: no place)."""
    if "place" in {r[1] for r in conn.execute("PRAGMA table_info(articles)")}:
        return
    try:
        conn.execute("ALTER TABLE articles ADD COLUMN place TEXT")
    except sqlite3.OperationalError:
        # Another process opening the same old index added it first.
        if "place" not in {r[1] for r in conn.execute("PRAGMA table_info(articles)")}:
            raise


def committed_version(conn: sqlite3.Connection) -> int:
    """The version of the last committed write (0 before the first)."""
    row = conn.execute("SELECT value FROM meta WHERE key='version'").fetchone()
    return int(row[0]) if row else 0


def set_version(conn: sqlite3.Connection, version: int) -> None:
    """Record ``version`` as committed (inside the writer's transaction)."""
    conn.execute("UPDATE meta SET value = ? WHERE key = 'version'", (str(version),))


def recorded_model(index_dir: Path) -> tuple[str, int] | None:
    """``(model, dimension)`` an existing index was built with, or None when there is none yet."""
    path = index_dir / DATABASE
    if not path.exists():
        return None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60.0) as conn:
            rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('model', 'dimension')"))
    except sqlite3.DatabaseError:
        return None
    if "model" not in rows or "dimension" not in rows:
        return None
    return str(rows["model"]), int(rows["dimension"])
