"""Reliability of indexing and asking through the real CLI: kills, concurrency, hostile input."""

from __future__ import annotations

import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

from qa.config import Settings
from qa.engine import Engine
from qa.runtime.embedding import Embedder
from qa.store.segments import MAX_DELTAS

# Its module-scoped fixtures are built once: under pytest-xdist the whole module runs on one worker.
pytestmark = pytest.mark.xdist_group("reliability-index")

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
SEED_QUESTION = "When did the war start?"
SEED_SENTENCE = "This war initially started on September 27"
CLI_TIMEOUT = 300.0  # one `qa` process, model load included, on a slow shared runner
CORPUS_SIZE = 120
# Three kills per strategy keep CI inside its budget (each kill is a whole `qa` process, model
# load included); QA_TEST_KILLS=60 QA_TEST_SEED=... runs a longer soak of the same test.
KILLS = int(os.environ.get("QA_TEST_KILLS", "9"))
INDEX_FILES = {"meta.sqlite", "meta.sqlite-wal", "meta.sqlite-shm", "write.lock"}


# -- helpers ------------------------------------------------------------------------------------
def qa_env(index_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a `qa` child: this one without QA_ settings, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(HF_HUB_OFFLINE="1", QA_INDEX_DIR=str(index_dir), PYTHONUNBUFFERED="1", **extra)
    return env


def qa_command(*args: str | bytes) -> list[str | bytes]:
    return [sys.executable, "-m", "bots.cli", *args]


def run_qa(
    cwd: Path, index_dir: Path, *args: str | bytes, timeout: float = CLI_TIMEOUT, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run `python -m bots.cli ARGS` to completion (bounded in time), capturing its output."""
    return subprocess.run(
        qa_command(*args),
        cwd=cwd,
        env=qa_env(index_dir, **env),
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        check=False,
    )


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout, result.stdout


def index_files(index_dir: Path) -> set[str]:
    return {p.name for p in index_dir.iterdir()}


def listed_vector_files(index_dir: Path) -> tuple[int, set[str]]:
    """The committed version and the vector files the database lists (current and previous version)."""
    with sqlite3.connect(index_dir / "meta.sqlite") as conn:
        version = int(conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0])
        rows = conn.execute("SELECT seq, kind FROM segments").fetchall()
    return version, {f"vectors-{s}.faiss" if k == "base" else f"vectors-{s}.delta.faiss" for s, k in rows}


def assert_tidy_index_dir(index_dir: Path, *, after_completed_run: bool) -> None:
    """Only the database, the lock and vector files; temporaries and old segments never pile up."""
    names = index_files(index_dir)
    vectors = {n for n in names if n.startswith("vectors-")}
    unexpected = names - INDEX_FILES - vectors
    assert not unexpected, f"unexpected files in the index dir: {unexpected}"
    # The vectors are segment files (a base, small deltas) that the database lists by version; the
    # current and the previous version's files are kept for readers, and those are all a completed
    # run leaves. Right after a kill there may also be the killed write's file (or its .tmp), named
    # for the next version, and the files of one version that a commit had just unlisted, until the
    # next writer removes them.
    version, listed = listed_vector_files(index_dir)
    assert listed <= vectors, f"listed files are missing: {listed - vectors}"
    if after_completed_run:
        assert vectors == listed, vectors - listed
        return
    seq = {n: int(n.removeprefix("vectors-").split(".")[0]) for n in vectors - listed}
    assert len([n for n in seq if seq[n] > version]) <= 1, seq
    assert len(seq) <= 2 + MAX_DELTAS, seq


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    """The real model, loaded once for the in-process consistency checks."""
    return Engine(Settings()).embedder


def open_engine(index_dir: Path, embedder: Embedder) -> Engine:
    """A fresh engine on an index written by other processes (the model is shared)."""
    return Engine(Settings(index_dir=index_dir), embedder=embedder)


# -- a corpus with editions -------------------------------------------------------------------
@dataclass(frozen=True)
class Corpus:
    """Generated seed-format articles; every title and body carries the corpus edition."""

    folder: Path
    size: int

    def write(self, edition: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for n in range(self.size):
            town = f"Harbourtown{n:03d}"
            text = (
                f"{town} harbour report edition {edition}\n\n"
                f"2021-03-{1 + n % 28:02d} 08:00:00\n"
                f"{town} harbour report edition {edition}\n\n"
                f"The harbour of {town} reopened on day {n} after repairs, edition {edition} says. "
                f"Officials in {town} counted {n * 7 + edition} ships outside the breakwater. "
                f"Fishermen of {town} said the storm of edition {edition} had damaged the nets.\n"
            )
            (self.folder / f"report-{n:03d}.txt").write_text(text, encoding="utf-8")

    @staticmethod
    def edition_of(title: str) -> int:
        return int(title.rsplit(" ", 1)[1])


def index_state(index_dir: Path, embedder: Embedder) -> dict[str, int]:
    """Check the index is whole and answers; returns ``{title prefix: edition}`` of the corpus."""
    engine = open_engine(index_dir, embedder)
    try:
        documents = engine.documents()
        stats = engine.stats()
        assert stats["articles"] == len(documents)
        assert stats["chunks"] == sum(d.chunks for d in documents)
        with engine.store.snapshot() as snap:
            assert snap.vector_count() == stats["chunks"], "vectors and passages disagree"
        # Nothing indexed before is lost: the seed article is there and still answers.
        result = engine.ask(SEED_QUESTION)
        assert result.answers and result.answers[0].text.startswith(SEED_SENTENCE)
        editions = {
            d.title.split(" ")[0]: Corpus.edition_of(d.title) for d in documents if "harbour" in d.title
        }
        if editions:
            # Vectors and text of the same version: a corpus article is found by its own words.
            town = random.choice(sorted(editions))
            passages = engine.search(f"harbour of {town} reopened", k=3)
            assert passages[0].article.title.startswith(town), passages[0].article.title
            assert f"edition {editions[town]}" in passages[0].text
        return editions
    finally:
        engine.close()


# -- SIGKILL at random moments ----------------------------------------------------------------
EMBEDDED = "<all embedded>"
_PROGRESS = re.compile(r"embedding: (\d+)/(\d+)")


def embedded(line: str) -> bool:
    """True for the progress line that says every passage is embedded (the write comes next)."""
    match = _PROGRESS.search(line)
    return match is not None and match.group(1) == match.group(2)


class IndexRun:
    """A `qa -v index` child whose output lines are timestamped as they arrive."""

    def __init__(self, cwd: Path, index_dir: Path, folder: Path) -> None:
        self.started = time.monotonic()
        self.events: list[tuple[float, str]] = []
        self.proc = subprocess.Popen(
            qa_command("-v", "index", str(folder)),
            cwd=cwd,
            env=qa_env(index_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # the summary line marks the end of the commit
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.append((time.monotonic() - self.started, line.rstrip("\n")))

    def seen(self, fragment: str) -> float | None:
        """Seconds after the start at which a log line containing ``fragment`` arrived."""
        if fragment == EMBEDDED:
            return next((t for t, line in list(self.events) if embedded(line)), None)
        return next((t for t, line in list(self.events) if fragment in line), None)

    def wait_for(self, fragment: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.seen(fragment) is not None:
                return True
            if self.proc.poll() is not None:
                self._reader.join(5)
                return self.seen(fragment) is not None
            time.sleep(0.01)
        return False

    def kill(self) -> int | None:
        """SIGKILL unless already finished; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait(timeout=30)
        self._close()
        return code

    def finish(self, timeout: float) -> int:
        code = self.proc.wait(timeout=timeout)
        self._close()
        return code

    def _close(self) -> None:
        self._reader.join(5)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.mark.slow
@pytest.mark.timeout(3000)
def test_index_survives_sigkill_at_random_moments(tmp_path: Path, embedder: Embedder) -> None:
    """SIGKILL at KILLS moments, three strategies in turn: the index is always the old or the new one,
    whole, and tidy."""
    rng = random.Random(int(os.environ.get("QA_TEST_SEED", "20240607")))
    index_dir = tmp_path / "index"
    corpus = Corpus(tmp_path / "corpus", CORPUS_SIZE)

    seeded = run_qa(tmp_path, index_dir, "index", str(SEEDS))
    assert seeded.returncode == 0, seeded.stderr
    corpus.write(edition=1)
    first = IndexRun(tmp_path, index_dir, corpus.folder)
    assert first.finish(CLI_TIMEOUT) == 0, first.events
    full_run = time.monotonic() - first.started
    reading_at, embedded_at = first.seen("reading:"), first.seen(EMBEDDED)
    assert reading_at is not None and embedded_at is not None, first.events
    embed_window = max(0.1, embedded_at - reading_at)
    committed_at = first.seen("indexed ") or full_run  # the summary follows the commit
    write_window = max(0.2, committed_at - embedded_at)
    assert index_state(index_dir, embedder) == {f"Harbourtown{n:03d}": 1 for n in range(CORPUS_SIZE)}

    edition = 1  # what the index holds
    corpus.write(edition=2)
    outcomes: list[str] = []
    for kill in range(KILLS):
        run = IndexRun(tmp_path, index_dir, corpus.folder)
        strategy = kill % 3
        if strategy == 0:  # anywhere in the run, model loading included
            time.sleep(rng.uniform(0, full_run))
        elif strategy == 1:  # while reading and embedding
            assert run.wait_for("reading:", CLI_TIMEOUT), run.events
            time.sleep(rng.uniform(0, embed_window))
        else:  # after embedding: during the write and the commit
            assert run.wait_for(EMBEDDED, CLI_TIMEOUT), run.events
            time.sleep(rng.uniform(0, write_window))
        code = run.kill()
        assert code in (0, -9), (code, run.events)
        assert_no_traceback_lines(run.events)
        assert_tidy_index_dir(index_dir, after_completed_run=False)
        editions = index_state(index_dir, embedder)
        assert len(editions) == CORPUS_SIZE, "a corpus article was lost"
        held = set(editions.values())
        assert held in ({edition}, {edition + 1}), f"a mix of editions: {held}"
        new_edition = held.pop()
        outcomes.append(f"{'completed' if code == 0 else 'killed'}->{new_edition}")
        if code == 0:
            assert new_edition == edition + 1
        if new_edition != edition:  # the run committed: give the next one something to do
            edition = new_edition
            corpus.write(edition=edition + 1)
        if kill in (0, KILLS // 2):
            ask = run_qa(tmp_path, index_dir, "ask", "--json", SEED_QUESTION)
            assert ask.returncode == 0, ask.stderr
            answers = json.loads(ask.stdout)["answers"]
            assert answers[0]["text"].startswith(SEED_SENTENCE)
    print("kill outcomes:", ", ".join(outcomes))

    final = run_qa(tmp_path, index_dir, "index", "--json", str(corpus.folder))
    assert final.returncode == 0, final.stderr
    assert index_state(index_dir, embedder) == {
        f"Harbourtown{n:03d}": edition + 1 for n in range(CORPUS_SIZE)
    }
    assert_tidy_index_dir(index_dir, after_completed_run=True)
    ask = run_qa(tmp_path, index_dir, "ask", "--json", SEED_QUESTION)
    assert ask.returncode == 0, ask.stderr
    assert json.loads(ask.stdout)["answers"][0]["text"].startswith(SEED_SENTENCE)


def assert_no_traceback_lines(events: list[tuple[float, str]]) -> None:
    assert not [line for _, line in events if "Traceback" in line], events


# -- two runs at once -------------------------------------------------------------------------
def write_articles(folder: Path, prefix: str, count: int) -> set[str]:
    """``count`` small seed-format articles; returns their titles."""
    folder.mkdir(parents=True, exist_ok=True)
    titles = set()
    for n in range(count):
        title = f"{prefix} bulletin number {n}"
        body = f"The {prefix} council met on day {n} and approved budget line {n * 3}."
        (folder / f"{prefix}-{n:02d}.txt").write_text(f"{title}\n\n{body}\n", encoding="utf-8")
        titles.add(title)
    return titles


@pytest.mark.timeout(1200)
def test_two_index_runs_at_once_both_land(tmp_path: Path, embedder: Embedder) -> None:
    """Two `qa index` started together over different folders: both finish, no update is lost."""
    index_dir = tmp_path / "index"
    north = write_articles(tmp_path / "north", "Northvale", 30)
    south = write_articles(tmp_path / "south", "Southmere", 30)
    with ThreadPoolExecutor(2) as pool:
        runs = list(
            pool.map(
                lambda folder: run_qa(tmp_path, index_dir, "index", str(folder)),
                [tmp_path / "north", tmp_path / "south"],
            )
        )
    for result in runs:
        assert_no_traceback(result)
        assert result.returncode == 0, result.stderr
    engine = open_engine(index_dir, embedder)
    try:
        titles = {d.title for d in engine.documents()}
        assert titles == north | south
        assert engine.stats()["chunks"] == sum(d.chunks for d in engine.documents())
    finally:
        engine.close()
    assert_tidy_index_dir(index_dir, after_completed_run=True)


@pytest.mark.timeout(1200)
def test_second_index_run_stops_with_clear_message_while_locked(tmp_path: Path, embedder: Embedder) -> None:
    """While another writer holds the lock past QA_LOCK_TIMEOUT, `qa index` exits 1, one line."""
    index_dir = tmp_path / "index"
    write_articles(tmp_path / "first", "Eastwick", 3)
    assert run_qa(tmp_path, index_dir, "index", str(tmp_path / "first")).returncode == 0
    write_articles(tmp_path / "second", "Westford", 3)
    with FileLock(str(index_dir / "write.lock"), timeout=5):
        busy = run_qa(tmp_path, index_dir, "index", str(tmp_path / "second"), QA_LOCK_TIMEOUT="1")
    assert busy.returncode == 1, busy.stderr
    assert_no_traceback(busy)
    # Progress lines (shown without a terminal) may come first; the error itself is one line.
    lines = [line for line in busy.stderr.strip().splitlines() if not line.startswith("qa: INFO: ")]
    assert len(lines) == 1, lines
    assert lines[0].startswith("qa: error: another process is writing the index"), lines
    engine = open_engine(index_dir, embedder)
    try:
        assert {d.title.split()[0] for d in engine.documents()} == {"Eastwick"}
    finally:
        engine.close()
    retry = run_qa(tmp_path, index_dir, "index", str(tmp_path / "second"))
    assert retry.returncode == 0, retry.stderr


@pytest.mark.timeout(1200)
def test_second_index_run_waits_for_the_lock(tmp_path: Path, embedder: Embedder) -> None:
    """With a long QA_LOCK_TIMEOUT a run blocked on the lock waits, then completes."""
    index_dir = tmp_path / "index"
    titles = write_articles(tmp_path / "docs", "Lakeside", 5)
    lock = FileLock(str(index_dir / "write.lock"), timeout=5)
    index_dir.mkdir()
    lock.acquire()
    try:
        run = subprocess.Popen(
            qa_command("-v", "index", str(tmp_path / "docs")),
            cwd=tmp_path,
            env=qa_env(index_dir, QA_LOCK_TIMEOUT="600"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # Hold the lock until the child is past embedding (it takes the lock to write).
            assert run.stderr is not None
            for line in run.stderr:
                if embedded(line):
                    break
            time.sleep(2.0)
            assert run.poll() is None, "the run did not wait for the lock"
        finally:
            lock.release()
        _, err = run.communicate(timeout=CLI_TIMEOUT)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, err
    engine = open_engine(index_dir, embedder)
    try:
        assert {d.title for d in engine.documents()} == titles
    finally:
        engine.close()


# -- hostile input folder ----------------------------------------------------------------------
GOOD_PLAIN = "Riverton flood report\n\nThe river in Riverton rose four metres on Monday night.\n"
HTML_PAGE = """<!doctype html>
<html><head><title>Glassworks strike ends</title>
<style>body {{ color: red }} .STYLELEAK {{ display: none }}</style>
<script>var token = "SCRIPTLEAK"; document.write("SCRIPTLEAK");</script>
</head><body>
<script type="text/javascript">alert("SCRIPTLEAK")</script>
<article><h1>Glassworks strike ends</h1>
{paragraphs}
</article>
<noscript>SCRIPTLEAK</noscript>
</body></html>
"""


@dataclass
class Hostile:
    """The hostile folder and what `qa index` must say about it."""

    folder: Path
    good_titles: set[str]
    skipped: dict[str, str]  # file name -> fragment of the reason
    decoded: set[str]  # file names decoded as Latin-1 with a warning


def make_hostile_folder(root: Path) -> Hostile:
    """Every kind of bad file next to good ones."""
    folder = root / "hostile"
    (folder / "nested" / "deeper").mkdir(parents=True)
    good: set[str] = set()
    skipped: dict[str, str] = {}

    (folder / "good.txt").write_text(GOOD_PLAIN, encoding="utf-8")
    good.add("Riverton flood report")
    (folder / "nested" / "deeper" / "good.md").write_text(
        "# Millbrook bridge opens\n\nThe new bridge in Millbrook opened to traffic on Friday.\n",
        encoding="utf-8",
    )
    good.add("Millbrook bridge opens")
    paragraphs = "\n".join(
        f"<p>Workers at the Brandon glassworks voted on day {n} to end the strike after the "
        f"company agreed to raise wages by {n + 3} percent and to reopen the second furnace.</p>"
        for n in range(6)
    )
    (folder / "page.html").write_text(HTML_PAGE.format(paragraphs=paragraphs), encoding="utf-8")
    good.add("Glassworks strike ends")

    latin1 = "Café de Flore reopens\n\nThe café in Genève reopened; the chef Jérôme served crêpes.\n"
    (folder / "latin1.txt").write_bytes(latin1.encode("latin-1"))
    good.add("Café de Flore reopens")
    (folder / "broken-utf8.txt").write_bytes(
        "Quarry accident report\n\nA worker at the quarry was hurt \u2014 ".encode()
        + b"\xff\xfe\xc3\x28 badly, officials said on Tuesday.\n"
    )
    good.add("Quarry accident report")

    lines = [
        json.dumps({"title": "Harbor dredging starts", "text": "Dredging of the harbor began."}),
        '{"title": "broken", "text": "unterminated',
        json.dumps(["not", "an", "object"]),
        json.dumps({"title": "No text here"}),
        "",
        json.dumps({"title": "Orchard harvest record", "text": "The orchard picked a record crop."}),
        "\x00\x01garbage",
        # U+2028 is legal inside a JSON string: it must not split the record.
        json.dumps(
            {"title": "Málaga port news", "text": "Ships\u2028returned to Málaga."},
            ensure_ascii=False,
        ),
    ]
    latin1_line = json.dumps(
        {"title": "Zürich tram news", "text": "Trams in Zürich run."}, ensure_ascii=False
    )
    (folder / "feed.jsonl").write_bytes(
        "\n".join(lines).encode() + b"\n" + latin1_line.encode("latin-1") + b"\r\n"
    )
    good |= {
        "Harbor dredging starts",
        "Orchard harvest record",
        "Málaga port news",
        "Zürich tram news",
    }
    skipped |= {
        "feed.jsonl:2": "invalid JSON",
        "feed.jsonl:3": "expected a JSON object",
        "feed.jsonl:4": "missing or empty 'text'",
        "feed.jsonl:7": "invalid JSON",
    }

    (folder / "empty.txt").write_bytes(b"")
    skipped["empty.txt"] = "empty file"
    (folder / "blank.md").write_text("\n\n   \n", encoding="utf-8")
    skipped["blank.md"] = "empty file"
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 64)
    skipped["binary.txt"] = "binary file"
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(4096))
    skipped["photo.jpg"] = "unsupported file type"
    with (folder / "huge.txt").open("wb") as handle:
        handle.truncate(200 * 1024 * 1024)  # sparse: 200 MB that take no disk
    skipped["huge.txt"] = "too large"

    (folder / "loop").symlink_to(".", target_is_directory=True)  # a folder loop
    (folder / "self.txt").symlink_to("self.txt")  # a file loop
    skipped["self.txt"] = "Too many levels of symbolic links"
    (folder / "dangling.txt").symlink_to(root / "does-not-exist.txt")
    skipped["dangling.txt"] = "No such file or directory"
    os.mkfifo(folder / "pipe.txt")  # reading would block forever
    skipped["pipe.txt"] = "not a regular file"
    (folder / "zeros.txt").symlink_to("/dev/zero")  # reading would never end
    skipped["zeros.txt"] = "not a regular file"
    # Unreadable even for root (tests run as root, where chmod 000 does not stop reads): a
    # regular file whose read fails with EIO.
    (folder / "unreadable.txt").symlink_to("/proc/self/mem")
    skipped["unreadable.txt"] = "Input/output error"
    if os.geteuid() != 0:
        (folder / "private.txt").write_text(GOOD_PLAIN, encoding="utf-8")
        (folder / "private.txt").chmod(0)
        skipped["private.txt"] = "Permission denied"
    return Hostile(folder, good, skipped, {"latin1.txt", "broken-utf8.txt", "feed.jsonl"})


@pytest.mark.timeout(1200)
def test_hostile_folder_is_indexed_partially_with_named_warnings(tmp_path: Path, embedder: Embedder) -> None:
    """Each bad file is skipped or decoded with a warning naming it; good articles land; exit 3."""
    hostile = make_hostile_folder(tmp_path)
    index_dir = tmp_path / "index"
    started = time.monotonic()
    result = run_qa(tmp_path, index_dir, "index", "--json", str(hostile.folder))
    assert_no_traceback(result)
    assert result.returncode == 3, result.stderr
    report = json.loads(result.stdout)
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    for name, reason in hostile.skipped.items():
        matching = [w for w in warnings if f"{name}: skipped" in w]
        assert matching, f"no warning for {name}:\n{result.stderr}"
        assert reason in matching[0], matching
        assert any(s["path"].endswith(name) and reason in s["reason"] for s in report["skipped"]), name
    for name in hostile.decoded:
        assert any(name in w and "decoded as" in w and "Latin-1" in w for w in warnings), name
    assert any("loop: skipped" in w and "symlink loop" in w for w in warnings), result.stderr
    assert report["articles"] == len(hostile.good_titles)
    assert time.monotonic() - started < CLI_TIMEOUT

    engine = open_engine(index_dir, embedder)
    try:
        documents = engine.documents()
        assert {d.title for d in documents} == hostile.good_titles
        texts = {d.title: engine.document(d.id)[1] for d in documents}
        assert "Jérôme served crêpes" in texts["Café de Flore reopens"]
        assert "badly, officials said" in texts["Quarry accident report"]
        assert texts["Málaga port news"] == "Ships\u2028returned to Málaga."
        assert texts["Zürich tram news"] == "Trams in Zürich run."
        page = texts["Glassworks strike ends"]
        assert "glassworks voted" in page
        for leak in ("SCRIPTLEAK", "STYLELEAK", "alert(", "document.write", "color: red"):
            assert leak not in page
            assert not engine.search(leak, k=3) or all(leak not in p.text for p in engine.search(leak, k=3))
    finally:
        engine.close()
    assert_tidy_index_dir(index_dir, after_completed_run=True)


@pytest.mark.timeout(1200)
def test_index_exit_status_full_and_failed(tmp_path: Path) -> None:
    """Exit 0 when every input is indexed, 1 when nothing could be."""
    index_dir = tmp_path / "index"
    write_articles(tmp_path / "clean", "Clearwater", 2)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    (bad / "binary.txt").write_bytes(b"\x00" * 100)
    with ThreadPoolExecutor(2) as pool:
        clean, failed = pool.map(
            lambda folder: run_qa(tmp_path, index_dir, "index", str(folder)),
            [tmp_path / "clean", bad],
        )
    assert clean.returncode == 0, clean.stderr
    assert "skipped" not in clean.stderr
    assert failed.returncode == 1, failed.stderr
    for result in (clean, failed):
        assert_no_traceback(result)


# -- bad questions through the CLI -------------------------------------------------------------
BAD_QUESTIONS: dict[str, str | bytes] = {
    "empty": "",
    "whitespace": " \t\n  \u3000\u00a0",
    "huge": "When did the war start? " * 4167,  # 100,000 characters
    "control": "When\x01 did\x1b[31m the war\x7f start?\x08\r",
    "only-controls": "\x01\x02\x03\x1b\x7f",
    "cyrillic": "Когда началась война?",
    "chinese": "战争是什么时候开始的？",
    "arabic-rtl": "متى بدأت الحرب؟ \u202ewhen did the war start\u202c",
    "emoji": "🔥💣 When did the war start? 🇦🇲🇦🇿 👨‍👩‍👧",
    "invalid-utf8": b"When did the war \xff\xfe start?",
    "zero-width": "\u200b\u200c\u200d\ufeff",
    "combining": "Z\u0351\u0352\u0353a\u0354\u0355l\u0356g\u0357o" * 200,
}


@pytest.fixture(scope="module")
def seeded_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """An index of the seed article, built once for the question tests."""
    index_dir = tmp_path_factory.mktemp("questions") / "index"
    engine = open_engine(index_dir, embedder)
    engine.index_paths([SEEDS])
    engine.close()
    return index_dir


@pytest.fixture(scope="module")
def asked(seeded_index: Path) -> Iterator[dict[str, subprocess.CompletedProcess[str]]]:
    """Every bad question asked through `qa ask`, a few processes at a time."""
    cwd = seeded_index.parent

    def ask(question: str | bytes) -> subprocess.CompletedProcess[str]:
        return run_qa(cwd, seeded_index, "ask", question)

    with ThreadPoolExecutor(3) as pool:
        yield dict(zip(BAD_QUESTIONS, pool.map(ask, BAD_QUESTIONS.values()), strict=True))


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("name", sorted(BAD_QUESTIONS))
def test_bad_question_is_an_answer_or_one_error_line(
    name: str, asked: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    """An answer (exit 0) or one `qa: error:` line (exit 1); never a traceback."""
    result = asked[name]
    assert_no_traceback(result)
    if result.returncode == 0:
        assert result.stdout.strip()
    else:
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("qa: error: "), result.stderr
        assert len(lines[0]) < 300


@pytest.mark.timeout(1800)
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("empty", "empty"),
        ("whitespace", "empty"),
        ("only-controls", "empty"),
        ("zero-width", "empty"),
        ("huge", "too long"),
        ("combining", "too long"),
    ],
)
def test_unaskable_question_is_refused(
    name: str, expected: str, asked: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    """Empty, blank and overlong questions are refused with a reason."""
    result = asked[name]
    assert result.returncode == 1
    assert expected in result.stderr


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("name", ["control", "emoji", "invalid-utf8"])
def test_noisy_question_still_finds_the_answer(
    name: str, asked: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    """Control characters, emoji and bad bytes around a good question do not hide its answer."""
    result = asked[name]
    assert result.returncode == 0, result.stderr
    assert SEED_SENTENCE.replace("September 27", "«September 27»") in result.stdout  # piped: span marked
    assert "\x1b[31m" not in result.stdout
