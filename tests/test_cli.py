"""The `qa` command line through real subprocesses: JSON on stdout only, help, errors, exit codes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa.engine import Engine
from tests.news import write_benchmark
from tests.web_site import BRIDGE, FERRY, Site, publish, rss


def qa(
    *args: str,
    index_dir: Path | None,
    stdin: str | None = None,
    timeout: float = 240,
    **extra_env: str,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m bots.cli`` on ``index_dir`` (None: the default location, under ``XDG_DATA_HOME``)."""
    env = {k: v for k, v in os.environ.items() if k != "QA_INDEX_DIR"}
    env.update(HF_HUB_OFFLINE="1", **extra_env)
    if index_dir is not None:
        env["QA_INDEX_DIR"] = str(index_dir)
    return subprocess.run(
        [sys.executable, "-m", "bots.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def test_ask_json_prints_only_the_answer_object(seed_index_dir: Path) -> None:
    """`qa ask --json` writes one JSON object to stdout; logs stay on stderr."""
    done = qa("ask", "--json", "When did the war start?", index_dir=seed_index_dir)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["question"] == "When did the war start?"
    first = data["answers"][0]
    assert first["text"].startswith("This war initially started on September 27")
    assert first["article"]["source"] == "seeds/000_30a3e569ce88eb0e.txt"


def test_piped_ask_marks_the_answer_span(seed_index_dir: Path) -> None:
    """Piped, where no highlight shows, `qa ask` marks the answer span in the text itself."""
    done = qa("ask", "When did the war start?", index_dir=seed_index_dir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("This war initially started on «September 27» when"), done.stdout


def test_first_ask_builds_the_default_index_from_seeds(tmp_path: Path) -> None:
    """With no index at the default location, `qa ask` builds one from the seeds; later runs reuse it."""
    done = qa("ask", "When did the war start?", index_dir=None, XDG_DATA_HOME=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "September 27" in done.stdout and "seeds/000_30a3e569ce88eb0e.txt" in done.stdout
    assert (tmp_path / "qa-bot" / "index" / "meta.sqlite").exists()
    again = qa("docs", "--json", index_dir=None, XDG_DATA_HOME=str(tmp_path))
    assert [d["chunks"] > 0 for d in json.loads(again.stdout)] == [True]


@pytest.mark.parametrize(
    "command",
    [
        ["ask", "What share of the company does the bank hold?"],
        ["chat"],
        ["docs"],
        ["docs", "show", "1ae005b486a4"],
        ["serve", "--port", "0"],
        ["telegram"],
    ],
)
@pytest.mark.parametrize("how", ["option", "env"])
def test_chosen_index_dir_without_an_index_stops(tmp_path: Path, command: list[str], how: str) -> None:
    """A chosen index directory with no index: one line naming it and `qa index`, exit 1, nothing created."""
    missing = tmp_path / "does" / "not" / "exist"
    if how == "option":
        done = qa(
            "--index-dir",
            str(missing),
            *command,
            index_dir=None,
            XDG_DATA_HOME=str(tmp_path / "xdg"),
            stdin="",
            timeout=60,
            QA_TELEGRAM_TOKEN="123:abc",
        )
    else:
        done = qa(
            *command,
            index_dir=missing,
            XDG_DATA_HOME=str(tmp_path / "xdg"),
            stdin="",
            timeout=60,
            QA_TELEGRAM_TOKEN="123:abc",
        )
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qa: error: no index in"), done.stderr
    assert str(missing) in lines[0] and "index FOLDER" in lines[0]
    assert not missing.exists() and not (tmp_path / "xdg").exists()


def test_only_qa_index_creates_a_chosen_index_dir(tmp_path: Path) -> None:
    """`qa index` creates a chosen directory; emptied, it is said to be empty and never seeded."""
    chosen = tmp_path / "chosen"
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "ferry.txt").write_text("Ferry service resumes\n\nThe ferry to the island resumed on Friday.\n")
    assert qa("index", str(folder), index_dir=chosen).returncode == 0
    assert json.loads(qa("docs", "--json", index_dir=chosen).stdout)[0]["title"] == "Ferry service resumes"
    (folder / "ferry.txt").unlink()
    assert qa("index", str(folder), index_dir=chosen).returncode == 0  # removes the vanished file
    done = qa("ask", "When did the war start?", index_dir=chosen)
    assert done.returncode == 0 and "couldn't find that in the archive" in done.stdout
    assert "is empty" in done.stderr and "index FOLDER" in done.stderr
    assert json.loads(qa("docs", "--json", index_dir=chosen).stdout) == []


@pytest.mark.parametrize("given", ["missing", "broken"])
def test_failed_first_index_run_leaves_no_index(tmp_path: Path, given: str) -> None:
    """A first `qa index` that indexes nothing exits 1 and leaves nothing: `qa ask` then says there
    is no index instead of answering from an empty one."""
    chosen = tmp_path / "chosen"
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "broken.jsonl").write_text("{not json\n")
    path = folder if given == "broken" else tmp_path / "nonexistent"
    done = qa("--index-dir", str(chosen), "index", str(path), index_dir=None)
    assert done.returncode == 1 and "skipped" in done.stderr, done.stderr
    assert not chosen.exists()
    asked = qa("--index-dir", str(chosen), "ask", "When did the war start?", index_dir=None)
    assert asked.returncode == 1 and asked.stdout == ""
    assert asked.stderr.startswith(f"qa: error: no index in {chosen}"), asked.stderr


def test_not_found_is_said_plainly(seed_index_dir: Path) -> None:
    """An unanswerable question prints the not-found line (and [] answers in JSON)."""
    done = qa("ask", "What is the boiling point of mercury?", index_dir=seed_index_dir)
    assert done.returncode == 0 and "couldn't find that in the archive" in done.stdout
    data = json.loads(
        qa("ask", "--json", "What is the boiling point of mercury?", index_dir=seed_index_dir).stdout
    )
    assert data["answers"] == []


def test_eval_on_a_news_folder_reports_by_type(tmp_path: Path) -> None:
    """`qa eval` on a news folder (unanswerable questions without documents) prints JSON with "by_type",
    and `--by-type` adds a table of the question types."""
    folder = write_benchmark(tmp_path / "news")
    done = qa("eval", str(folder), "--json", "--reader", "off", index_dir=tmp_path / "index")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["questions"] == 3 and report["recall@1"] is not None
    assert set(report["by_type"]) == {"who", "how many", "unanswerable"}
    table = qa("eval", str(folder), "--by-type", "--reader", "off", index_dir=tmp_path / "index")
    assert table.returncode == 0, table.stderr
    assert re.search(r"^unanswerable\s+1\s+-\s+-\s+[01]", table.stdout, re.MULTILINE), table.stdout


def test_eval_asks_a_question_file_of_ones_own(tmp_path: Path) -> None:
    """`qa eval DIR --queries FILE` asks FILE's questions over DIR's articles (a question with neither
    answers nor documents counts as unanswerable); a missing FILE is one error line."""
    folder = write_benchmark(tmp_path / "news")
    own = tmp_path / "mine.jsonl"
    own.write_text(
        json.dumps({"question": "Who won the 2030 World Cup?", "split": "dev"}) + "\n", encoding="utf-8"
    )
    done = qa(
        "eval", str(folder), "--queries", str(own), "--json", "--reader", "off", index_dir=tmp_path / "i"
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["questions"] == 1 and report["abstain_accuracy"] is not None and report["recall@1"] is None
    missing = qa("eval", str(folder), "--queries", str(tmp_path / "none.jsonl"), index_dir=tmp_path / "i")
    assert missing.returncode == 1 and missing.stderr.startswith("qa: error: --queries"), missing.stderr


@pytest.mark.parametrize("question", ["", "   ", "x" * 5000])
def test_bad_question_is_one_error_line(seed_index_dir: Path, question: str) -> None:
    """Empty or too-long questions: exit 1 and a single `qa: error:` line, no traceback."""
    done = qa("ask", question, index_dir=seed_index_dir)
    assert done.returncode == 1
    assert done.stderr.strip().startswith("qa: error:") and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_help_is_complete() -> None:
    """`qa --help` and every subcommand's help work and describe their options."""
    top = qa("--help", index_dir=Path("/nonexistent"))
    assert top.returncode == 0
    for command in ("ask", "index", "chat", "docs", "serve", "telegram", "eval", "feeds", "refresh"):
        assert command in top.stdout
        sub = qa(command, "--help", index_dir=Path("/nonexistent"))
        assert sub.returncode == 0 and "Usage" in sub.stdout, command
    assert "--json" in qa("ask", "--help", index_dir=Path("/nonexistent")).stdout
    index_help = qa("index", "--help", index_dir=Path("/nonexistent")).stdout
    assert "--include" in index_help and "--exclude" in index_help
    assert "remove" in qa("docs", "--help", index_dir=Path("/nonexistent")).stdout
    assert "add" in qa("feeds", "--help", index_dir=Path("/nonexistent")).stdout
    for command in ("serve", "telegram"):
        assert "--refresh" in qa(command, "--help", index_dir=Path("/nonexistent")).stdout


def test_help_flows_as_paragraphs_at_any_width() -> None:
    """A command's help is wrapped to the terminal, not to its docstring's lines: on a wide terminal a
    paragraph is one line (Typer alone keeps the docstring's line breaks), on a narrow one no line
    runs past the terminal, and paragraphs stay apart."""
    wide = [
        line.strip()
        for line in qa("index", "--help", index_dir=Path("/nonexistent"), COLUMNS="600").stdout.splitlines()
    ]
    urls = next(n for n, line in enumerate(wide) if line.startswith("URLs are fetched"))
    assert "host). In folders, hidden files" in wide[urls] and wide[urls].endswith(
        "(the index holds the folder as chosen)."
    )
    assert wide[urls + 1] == "" and wide[urls + 2].startswith("Exit status: 0 all indexed")
    narrow = qa("ask", "--help", index_dir=Path("/nonexistent"), COLUMNS="60").stdout
    assert all(len(line) <= 60 for line in narrow.splitlines())
    prose = " ".join(narrow.split("╭")[0].split())
    assert '"between January and March") puts the articles' in prose


def test_docs_show_gives_a_wire_story_s_place(tmp_path: Path) -> None:
    """`qa docs show` prints the dateline's place with the date, both as answers show them."""
    folder = tmp_path / "wire"
    folder.mkdir()
    (folder / "port.txt").write_text(
        "Port reopens\n\nROTTERDAM, March 3 (Reuters) - The port reopened on Friday after the storm.\n",
        encoding="utf-8",
    )
    assert qa("index", str(folder), index_dir=tmp_path / "index").returncode == 0
    shown = qa("docs", "show", str(folder / "port.txt"), index_dir=tmp_path / "index")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[1].startswith("ROTTERDAM  ")
    (folder / "flood.md").write_text(
        "---\ntitle: Flood\ndate: 2021-05-01 08:30\n---\nRivers rose.\n", encoding="utf-8"
    )
    assert qa("index", str(folder), index_dir=tmp_path / "index").returncode == 0
    dated = qa("docs", "show", str(folder / "flood.md"), index_dir=tmp_path / "index")
    assert dated.stdout.splitlines()[1].startswith("2021-05-01 08:30:00  "), (
        dated.stdout
    )  # as answers show it


def test_index_docs_remove_and_exit_codes(tmp_path: Path) -> None:
    """`qa index` logs its progress without a terminal and exits 3 on partial success naming the bad file;
    `qa docs remove` removes an article."""
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "ferry.txt").write_text("Ferry service resumes\n\nThe ferry to the island resumed on Friday.\n")
    (folder / "broken.jsonl").write_text("{not json\n")
    index_dir = tmp_path / "index"
    done = qa("index", str(folder), index_dir=index_dir)
    assert done.returncode == 3, done.stderr
    assert "broken.jsonl" in done.stderr and "skipped" in done.stderr
    assert re.search(r"^qa: INFO: [\w ]+: \d+/\d+$", done.stderr, re.M), done.stderr  # progress, no terminal
    (folder / "broken.jsonl").unlink()
    assert qa("index", str(folder), index_dir=index_dir).returncode == 0
    listed = json.loads(qa("docs", "--json", index_dir=index_dir).stdout)
    assert [d["title"] for d in listed] == ["Ferry service resumes"]
    removed = qa("docs", "remove", listed[0]["id"], index_dir=index_dir)
    assert removed.returncode == 0
    assert json.loads(qa("docs", "--json", index_dir=index_dir).stdout) == []
    missing = qa("docs", "remove", "nope", index_dir=index_dir)
    assert missing.returncode == 1 and "no document with id 'nope'" in missing.stderr


def test_chat_follow_up_more_and_sources(seed_index_dir: Path) -> None:
    """`qa chat` (stdin not a terminal) answers, resolves a follow-up, pages with /more, shows /sources."""
    script = "Which drones does Azerbaijan use?\nWho supplies them?\n/sources\n/more\n/quit\n"
    done = qa("chat", index_dir=seed_index_dir, stdin=script)
    assert done.returncode == 0, done.stderr
    assert "imported from Israel" in done.stdout
    assert "[1]" in done.stdout  # /sources lists passages with their sources
    assert "Traceback" not in done.stderr


def test_chat_commands_in_any_case_quit_and_sources_of_a_refusal(seed_index_dir: Path) -> None:
    """/SOURCES is /sources; after a refusal that searched no article it says there are none; "quit"
    ends the chat (the question after it is never asked)."""
    script = "What happened last week?\n/SOURCES\n/More please\nquit\nWhen did the war start?\n"
    done = qa("chat", index_dir=seed_index_dir, stdin=script)
    assert done.returncode == 0, done.stderr
    assert "So there are no sources." in done.stdout and "Unknown command" not in done.stdout
    assert "September 27" not in done.stdout


def test_urls_feeds_and_refresh(tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """`qa index URL FILE`, `qa feeds add|list|remove`, `qa refresh` on a local site, then `qa ask`."""
    monkeypatch.setenv("QA_FETCH_DELAY", "0")
    feed = publish(site)
    note = tmp_path / "note.txt"
    note.write_text("Tram line\n\nThe new tram line to the airport opens in June.\n", encoding="utf-8")
    index_dir = tmp_path / "index"
    done = qa("index", "--json", site.url("/news/museum.html"), str(note), index_dir=index_dir)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["added"]) == 2

    added = qa("feeds", "add", feed, index_dir=index_dir)
    assert added.returncode == 0, added.stderr
    assert f"added rss feed {feed} (The Gazette)" in added.stdout and "indexed 2 articles" in added.stdout
    (listed,) = json.loads(qa("feeds", "--json", index_dir=index_dir).stdout)
    assert listed["url"] == feed and listed["error"] is None
    again = qa("refresh", "--json", index_dir=index_dir)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["added"] == [] and json.loads(again.stdout)["articles"] == 4

    asked = qa(
        "ask", "--json", "How many steel cables were replaced on the harbour bridge?", index_dir=index_dir
    )
    best = json.loads(asked.stdout)["answers"][0]
    assert "forty steel cables" in best["text"]
    assert best["article"]["url"] == "https://gazette.example/bridge"

    assert qa("feeds", "remove", feed, index_dir=index_dir).returncode == 0
    missing = qa("feeds", "remove", feed, index_dir=index_dir)
    assert missing.returncode == 1 and missing.stderr.startswith("qa: error: no feed")
    broken = qa("index", site.url("/nothing.html"), index_dir=index_dir)
    assert broken.returncode == 1 and "/nothing.html: skipped, HTTP 404" in broken.stderr


def test_refresh_without_feeds_says_how_to_add_one(tmp_path: Path) -> None:
    """`qa refresh` with no feed registered says so and names `qa feeds add URL`, exiting 0."""
    done = qa("refresh", index_dir=tmp_path / "index")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "No feed is registered, so there is nothing to refresh: `qa feeds add URL` adds one."
    ]


def test_adding_a_registered_feed_says_so(tmp_path: Path, site: Site) -> None:
    """`qa feeds add` of a feed already registered (its URL written differently) says so and exits 0."""
    feed = publish(site)
    index_dir = tmp_path / "index"
    first = qa("feeds", "add", feed, index_dir=index_dir, QA_FETCH_DELAY="0")
    assert first.returncode == 0, first.stderr
    assert f"added rss feed {feed} (The Gazette)" in first.stdout
    again = qa("feeds", "add", feed.replace("http://", "HTTP://"), index_dir=index_dir, QA_FETCH_DELAY="0")
    assert again.returncode == 0, again.stderr
    assert f"rss feed {feed} (The Gazette) is already registered" in again.stdout
    assert "added" not in again.stdout and "indexed 0 articles" in again.stdout


def test_feed_declaring_entities_is_one_plain_error_line(tmp_path: Path, site: Site) -> None:
    """`qa feeds add` of a feed declaring entities says in words why it is refused."""
    bomb = '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol "lol">]><rss><channel>&lol;</channel></rss>'
    url = site.put("/bomb.xml", bomb, content_type="text/xml")
    done = qa("feeds", "add", url, index_dir=tmp_path / "index")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"qa: error: {url}: invalid XML: entity declarations are refused "
        "(they can expand without bound or read other files)"
    ]


def test_feedback_export_to_dash_writes_stdout(tmp_path: Path, seed_engine: Engine) -> None:
    """`qa feedback export -` writes the queries.jsonl lines on stdout (the count on stderr), no file "-"."""
    index_dir = tmp_path / "index"
    shutil.copytree(seed_engine.settings.index_dir, index_dir)
    engine = Engine(seed_engine.settings.model_copy(update={"index_dir": index_dir}), seed_engine.embedder)
    question = "When did the war in Nagorno-Karabakh start?"
    [answer] = engine.ask(question, top_k=1).answers
    engine.feedback.vote("http", "c1", question, 1, answer, "up")
    engine.close()
    done = subprocess.run(
        [sys.executable, "-m", "bots.cli", "feedback", "export", "-"],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # where a file named "-" would be written
        env={**os.environ, "HF_HUB_OFFLINE": "1", "QA_INDEX_DIR": str(index_dir)},
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in done.stdout.splitlines()]  # the seed index may hold others' votes
    [line] = [x for x in lines if x["question"] == question]
    assert line["answers"] == [answer.span_text] and line["split"] == "dev"
    assert f"wrote {len(lines)} questions to standard output" in done.stderr
    assert not (tmp_path / "-").exists()


def test_narrow_tables_wrap_titles_and_urls(seed_index_dir: Path, tmp_path: Path, site: Site) -> None:
    """At 80 columns `qa docs` wraps a long title instead of cutting it, and `qa feeds` wraps a long
    URL: every character of both is shown."""
    listed = qa("docs", index_dir=seed_index_dir, COLUMNS="80")
    assert listed.returncode == 0, listed.stderr
    words = [w for line in listed.stdout.splitlines()[1:-1] for w in line[14:34].split()]
    assert " ".join(words) == "Israeli regime pours gas on the fire in Nagorno-Karabakh", listed.stdout
    publish(site)
    long_path = "/feeds/" + "world-news-and-politics/" * 3 + "rss.xml"
    feed = site.put(long_path, rss("The Gazette", []), content_type="application/rss+xml")
    assert qa("feeds", "add", feed, index_dir=tmp_path / "index", QA_FETCH_DELAY="0").returncode in (0, 1)
    feeds = qa("feeds", index_dir=tmp_path / "index", COLUMNS="80")
    assert feeds.returncode == 0, feeds.stderr
    assert feed == "".join(line.split()[0] for line in feeds.stdout.splitlines()[1:]), feeds.stdout


def test_refresh_counts_pages_fetched_and_unchanged(tmp_path: Path, site: Site) -> None:
    """`qa refresh` says how many listed pages it fetched and how many were unchanged (304)."""
    publish(site)
    site.put("/news/bridge.html", BRIDGE, etag='"b1"')
    site.put("/news/ferry.html", FERRY, etag='"f1"')

    def listed(day: str) -> str:
        pages = [("Bridge", "/news/bridge.html"), ("Ferry", "/news/ferry.html")]
        items = [(title, site.url(path), f"{day} Mar 2024 08:00:00 GMT") for title, path in pages]
        return site.put("/gazette.xml", rss("The Gazette", items), content_type="application/rss+xml")

    feed = listed("Wed, 06")
    index_dir = tmp_path / "index"
    added = qa("feeds", "add", feed, index_dir=index_dir, QA_FETCH_DELAY="0")
    assert f"{feed}: 2 pages listed, 2 fetched, 0 unchanged, 0 failed" in added.stderr, added.stderr
    listed("Thu, 07")  # both pages listed anew: asked again, the bridge's answers 304 Not Modified
    site.put("/news/ferry.html", FERRY.replace("Friday", "Saturday"), etag='"f2"')
    again = qa("refresh", index_dir=index_dir, QA_FETCH_DELAY="0")
    assert again.returncode == 0, again.stderr
    assert f"{feed}: 2 pages listed, 1 fetched, 1 unchanged, 0 failed" in again.stderr, again.stderr
    assert "checking pages: 2/2" in again.stderr and "fetching" not in again.stderr


def test_docs_pages_searches_and_shows_by_source(seed_index_dir: Path) -> None:
    """`qa docs` pages with the total, searches titles and sources, and `docs show` takes a source."""
    listed = qa("docs", "--limit", "1", "--sort", "date", index_dir=seed_index_dir, COLUMNS="200")
    assert listed.returncode == 0, listed.stderr
    assert "seeds/000_30a3e569ce88eb0e.txt" in listed.stdout and "1-1 of 1 articles" in listed.stdout
    narrow = qa("docs", index_dir=seed_index_dir, COLUMNS="70").stdout
    assert re.search(r" …\w*eb0e\.txt ", narrow), narrow  # cut at the start, never the end
    found = qa("docs", "--search", "NAGORNO", index_dir=seed_index_dir, COLUMNS="200")
    assert "Nagorno-Karabakh" in found.stdout and "matching 'NAGORNO'" in found.stdout
    listed_too = qa("docs", "list", "--search", "NAGORNO", index_dir=seed_index_dir, COLUMNS="200")
    assert listed_too.returncode == 0 and listed_too.stdout == found.stdout  # as `qa feeds list`
    assert "holds 'no such words'" in qa("docs", "--search", "no such words", index_dir=seed_index_dir).stdout
    shown = qa("docs", "show", "seeds/000_30a3e569ce88eb0e.txt", index_dir=seed_index_dir)
    assert shown.returncode == 0 and shown.stdout.startswith("Israeli regime pours gas on the fire")
