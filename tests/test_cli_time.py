"""`qa ask --since/--until/--as-of`, also_in and `qa docs` duplicate marks, through real subprocesses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qa.config import Settings
from qa.engine import Engine
from tests.conftest import SEEDS
from tests.test_cli import qa


def test_ask_json_reads_time_and_lists_copies(news_engine: Engine) -> None:
    """`qa ask --json --as-of` answers from the phrase's period (from the day before it to eight weeks
    after it) and lists the story's other copy."""
    done = qa(
        "ask", "--json", "--as-of", "2005-06-15", "How much did the bridge cost in March 2005?",
        index_dir=news_engine.settings.index_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["since"], data["until"]) == ("2005-02-28", "2005-05-26")
    first = data["answers"][0]
    assert {first["article"]["id"], *(a["id"] for a in first["also_in"])} == {
        "bridge-opened",
        "bridge-opened-wire",
    }


def test_ask_text_says_where_else_and_when_nothing_was_found(news_engine: Engine) -> None:
    """On a terminal an answer names the other copies; an empty period is named in the not-found line."""
    index = news_engine.settings.index_dir
    found = qa(
        "ask",
        "--until",
        "2005-03-31",
        "--since",
        "2005-03-01",
        "How much did the bridge cost?",
        index_dir=index,
    )
    assert found.returncode == 0, found.stderr
    assert "40 million" in found.stdout
    assert "also in: Eastport bridge opens · 2005-03-10 09:30:00 · " in found.stdout
    empty = qa("ask", "--as-of", "2005-06-15", "What happened to the bridge last week?", index_dir=index)
    assert (
        empty.stdout.strip()
        == "I couldn't find that in the articles published from 2005-06-06 to 2005-06-12."
    )


def test_ask_names_the_answer_and_its_copies_alike(news_engine: Engine) -> None:
    """The answer's source line and its "also in" line name their file the same way: relative to the
    folder it was indexed from, never the full path."""
    index = news_engine.settings.index_dir
    found = qa("ask", "--as-of", "2005-06-15", "How much did the bridge cost in March 2005?", index_dir=index)
    assert found.returncode == 0, found.stderr
    lines = found.stdout.splitlines()
    source = next(line for line in lines if line.startswith("   — "))
    copy = next(line for line in lines if line.startswith("   also in: "))
    assert " · archive/" in source and " · archive/" in copy, found.stdout
    assert str(index.parent) not in found.stdout


@pytest.mark.parametrize(
    ("option", "value"), [("--since", "2005-13-01"), ("--until", "31/03/2005"), ("--as-of", "today")]
)
def test_ask_bad_date_is_one_error_line(news_engine: Engine, option: str, value: str) -> None:
    """A date that is not YYYY-MM-DD: exit 1 and one `qa: error:` line naming the option."""
    done = qa("ask", option, value, "How much did the bridge cost?", index_dir=news_engine.settings.index_dir)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == f"qa: error: {option} must be a date written YYYY-MM-DD, not '{value}'"


def test_docs_marks_duplicates(news_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """`qa docs` has a "duplicate of" column naming a copy's original; --json has duplicate_of."""
    monkeypatch.setenv("COLUMNS", "250")  # one table row per article
    index = news_engine.settings.index_dir
    listing = qa("docs", index_dir=index)
    assert "duplicate of" in listing.stdout
    rows = {line.split()[0]: line.split() for line in listing.stdout.splitlines()[1:]}
    assert rows["bridge-opened-wire"][-1] == "bridge-opened" and rows["bridge-opened"][-1] == "1"
    marks = {d["id"]: d["duplicate_of"] for d in json.loads(qa("docs", "--json", index_dir=index).stdout)}
    assert marks["bridge-opened-wire"] == "bridge-opened" and marks["council-plan"] is None


def test_docs_keeps_the_title_width_beside_duplicates(seed_engine: Engine, tmp_path: Path) -> None:
    """At 80 columns `qa docs` still holds 20 characters of a title a line with its "duplicate of" column."""
    for folder in ("first", "second"):  # one story twice: the second copy is marked
        shutil.copytree(SEEDS, tmp_path / folder)
    index = tmp_path / "index"
    engine = Engine(Settings(index_dir=index, seeds_dir=None), embedder=seed_engine.embedder)
    engine.index_paths([tmp_path / "first", tmp_path / "second"])
    engine.close()
    listed = qa("docs", index_dir=index, COLUMNS="80")
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()[:-1]
    assert header.split() == ["id", "title", "date", "source", "passages", "duplicate", "of"], listed.stdout
    assert [line[14:34] for line in rows if line[:12].strip()] == ["Israeli regime pours"] * 2, listed.stdout
    assert max(len(line) for line in rows) <= 80
