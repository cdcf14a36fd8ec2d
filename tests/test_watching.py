"""Watches in the core: asked again against new articles only, each answer kept once, across restarts."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from qa.config import Settings
from qa.engine import Engine
from qa.errors import QuestionError, WatchError, WatchNotFoundError
from qa.models import Article
from qa.watching import MAX_TRIES, eval_queries
from tests.conftest import SEEDS
from tests.embedders import HashEmbedder
from tests.test_cli import qa

MUSEUM = Article(
    "museum",
    "Glass museum opens",
    "The glass museum was opened by Mayor Anna Berg on Friday. Visitors queued for hours.",
    "test",
    "2024-05-01",
)
TOWN_HALL = Article("hall", "Town hall", "The town hall opened in 1900. The mayor spoke at length.", "test")
QUESTION = "Who opened the glass museum?"


def hash_watch_engine(index_dir: Path, **settings: object) -> Engine:
    """An engine with the test embedder that keeps every answer a watch finds (plumbing tests)."""
    config = Settings(
        index_dir=index_dir, seeds_dir=SEEDS, reader="off", watch_min_confidence="unsure", **settings
    )
    return Engine(config, embedder=HashEmbedder())


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine over a one-article index, with the test embedder."""
    engine = hash_watch_engine(tmp_path / "index")
    engine.add_articles([TOWN_HALL])
    yield engine
    engine.close()


def test_watch_finds_a_new_answer_once(engine: Engine) -> None:
    """A new article answering a watch is kept once; adding it again, or a copy of it, keeps nothing."""
    watch = engine.watching.add(QUESTION)
    engine.add_articles([MUSEUM])
    found = engine.watching.answers(watch.id)
    assert [f.answer.article.id for f in found] == ["museum"]
    assert "Anna Berg" in found[0].answer.text
    engine.add_articles([MUSEUM])
    copy = Article("museum-copy", MUSEUM.title, MUSEUM.text, "syndicated", MUSEUM.published)
    engine.add_articles([copy])
    assert len(engine.watching.answers(watch.id)) == 1


def test_watch_asks_only_the_new_articles(engine: Engine) -> None:
    """An answer already in the archive is not news: a watch reports only new or changed articles."""
    engine.add_articles([MUSEUM])
    watch = engine.watching.add(QUESTION)
    engine.add_articles([Article("rain", "Rain", "It rained all week in the valley.", "test")])
    assert engine.watching.answers(watch.id) == []


@pytest.mark.parametrize("question", ["What happened last week at the harbour?", "Who spoke yesterday?"])
def test_watch_refuses_time_words_in_the_past(engine: Engine, question: str) -> None:
    """Time words that always name days before a new article ("last week") are refused, explained."""
    explained = r"would never match: .* no new article would answer\. Leave the time words out"
    with pytest.raises(WatchError, match=explained):
        engine.watching.add(question)


@pytest.mark.parametrize(
    "question", ["What is the latest on the bridge?", "What happened in March 2005?", "Who spoke today?"]
)
def test_watch_accepts_time_words_a_new_article_can_match(engine: Engine, question: str) -> None:
    """ "latest", fixed dates and days that include the check day are accepted."""
    assert engine.watching.add(question).question == question


def test_watch_limit_is_per_chat(tmp_path: Path) -> None:
    """A chat keeps at most QA_WATCH_LIMIT watches; another chat is not affected."""
    engine = hash_watch_engine(tmp_path / "index", watch_limit=2)
    engine.add_articles([TOWN_HALL])
    engine.watching.add("Who opened the museum?", chat_id=1)
    engine.watching.add("Who spoke?", chat_id=1)
    with pytest.raises(WatchError, match="QA_WATCH_LIMIT"):
        engine.watching.add("Who else?", chat_id=1)
    engine.watching.add("Who else?", chat_id=2)
    assert [w.question for w in engine.watching.listed(1)] == ["Who opened the museum?", "Who spoke?"]
    with pytest.raises(WatchNotFoundError):
        engine.watching.remove(engine.watching.listed(2)[0].id, chat_id=1)  # not that chat's


@pytest.mark.parametrize("url", ["ftp://example.org/hook", "http://", "not a url", "file:///etc/passwd"])
def test_webhook_follows_the_feed_address_rules(engine: Engine, url: str) -> None:
    """A webhook must be an http(s) URL with a host, as a feed's."""
    with pytest.raises(WatchError, match="webhook"):
        engine.watching.add(QUESTION, webhook=url)


def test_a_question_watched_already_is_not_watched_twice(engine: Engine) -> None:
    """The same question twice for one chat (case, spacing and its final mark aside) is refused,
    naming the watch: two watches would send every answer twice. Another chat may watch it."""
    first = engine.watching.add(QUESTION, chat_id=7)
    with pytest.raises(WatchError, match=rf"^that question is watched already \(watch {first.id}\)$"):
        engine.watching.add("  " + QUESTION.upper().rstrip("?") + " ", chat_id=7)
    assert engine.watching.add(QUESTION, chat_id=8).id != first.id
    assert engine.watching.add(QUESTION).id != first.id  # the command line's, of no chat
    assert len(engine.watching.listed(chat_id=7)) == 1


def test_watch_question_is_checked_like_a_question(engine: Engine) -> None:
    """An empty question is no watch."""
    with pytest.raises(QuestionError):
        engine.watching.add("   ")


def test_failed_delivery_is_retried_after_each_check_at_most_three_times(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A failed delivery waits for the next check; after MAX_TRIES tries it is given up, and the log
    says which try each failure was and, at the last, that it was given up."""
    engine.watching.add(QUESTION, webhook="http://127.0.0.1:9/hook")
    engine.add_articles([MUSEUM])
    caplog.set_level(logging.WARNING, logger="qa.watching.service")
    for _ in range(MAX_TRIES):
        [delivery] = engine.watching.pending("webhook")
        engine.watching.failed(delivery, "HTTP 500")
        assert engine.watching.pending("webhook") == []  # not before the next check
        engine.add_articles([])  # a refresh that adds nothing is still a check
    assert engine.watching.pending("webhook") == []
    said = [r.getMessage() for r in caplog.records]
    first = f"HTTP 500; trying again after the next check of new articles (try 1 of {MAX_TRIES})"
    assert said[0].endswith(first)
    assert said[-1].endswith(f"HTTP 500; given up after {MAX_TRIES} tries") and len(said) == MAX_TRIES
    assert engine.watching.pending("chat") == []


def test_watches_and_deliveries_survive_a_restart(engine: Engine) -> None:
    """Watches, their answers and what was delivered are in the index: a new engine sees them."""
    watch = engine.watching.add(QUESTION, chat_id=7)
    engine.add_articles([MUSEUM])
    [delivery] = engine.watching.pending("chat")
    engine.watching.sent(delivery)
    engine.close()
    again = hash_watch_engine(engine.settings.index_dir)
    assert [w.id for w in again.watching.listed(7)] == [watch.id]
    assert again.watching.pending("chat") == []
    again.add_articles([MUSEUM])
    assert again.watching.pending("chat") == [] and len(again.watching.answers(watch.id, 7)) == 1
    again.close()


def test_feedback_exports_eval_questions(engine: Engine) -> None:
    """👍 answers become gold answers and articles, 👎 ones known-wrong; down-only questions leave dev."""
    engine.add_articles([MUSEUM])
    [good] = engine.ask(QUESTION, top_k=1).answers
    engine.feedback.vote("http", "c1", QUESTION, 1, good, "up")
    engine.feedback.vote("http", "c2", "Who spoke?", 1, good, "down", "wrong person")
    lines = eval_queries(engine.feedback.votes())
    assert lines[0]["answers"] == [good.span_text] and lines[0]["doc_ids"] == ["museum"]
    assert lines[0]["split"] == "dev"
    assert lines[1]["answers"] == [] and lines[1]["wrong_doc_ids"] == ["museum"]
    assert lines[1]["split"] == "down-only" and lines[1]["comments"] == ["wrong person"]


def test_feedback_export_lists_no_gold_words_as_wrong(engine: Engine) -> None:
    """The same words 👍 from one article and 👎 from another are a gold answer only; the other
    article stays a known-wrong one."""
    engine.add_articles([MUSEUM])
    [good] = engine.ask(QUESTION, top_k=1).answers
    copy = replace(good, article=replace(good.article, id="museum-copy"))
    engine.feedback.vote("http", "c1", QUESTION, 1, good, "up")
    engine.feedback.vote("http", "c2", QUESTION, 1, copy, "down")
    [line] = eval_queries(engine.feedback.votes())
    assert line["answers"] == [good.span_text] and line["doc_ids"] == ["museum"]
    assert line["wrong_answers"] == [] and line["wrong_doc_ids"] == ["museum-copy"]


def test_cli_watch_add_check_remove(seed_engine: Engine, seed_index_dir: Path, tmp_path: Path) -> None:
    """`qa watch add`, a new article through the real indexing path, `qa watch check --json` prints
    its answer once; `qa watch remove` stops the watch; `qa feedback export` writes queries.jsonl."""
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index_dir, index_dir)
    added = qa("watch", "add", "--json", "Who opened the glass museum in Vellmoor?", index_dir=index_dir)
    assert added.returncode == 0, added.stderr
    watch = json.loads(added.stdout)
    engine = Engine(seed_engine.settings.model_copy(update={"index_dir": index_dir}), seed_engine.embedder)
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "museum.txt").write_text(
        "Glass museum opens in Vellmoor\n\nThe glass museum in Vellmoor was opened on Friday by "
        "Mayor Anna Berg, who cut a ribbon of blown glass.\n"
    )
    engine.index_paths([folder])
    [good] = engine.ask("Who opened the glass museum in Vellmoor?", top_k=1).answers
    engine.feedback.vote("telegram", "1", "Who opened the glass museum in Vellmoor?", 1, good, "up")
    engine.close()
    checked = qa("watch", "check", "--json", index_dir=index_dir)
    assert checked.returncode == 0, checked.stderr
    [report] = json.loads(checked.stdout)
    assert report["id"] == watch["id"] and "Anna Berg" in report["answers"][0]["text"]
    assert report["answers"][0]["confidence"] in ("sure", "likely")
    removed = qa("watch", "remove", str(watch["id"]), index_dir=index_dir)
    assert removed.returncode == 0 and "removed watch" in removed.stdout
    exported = qa("feedback", "export", str(tmp_path / "queries.jsonl"), index_dir=index_dir)
    assert exported.returncode == 0, exported.stderr
    # the shared seed index may already hold other tests' votes: this question's line is the one
    lines = [json.loads(x) for x in (tmp_path / "queries.jsonl").read_text().splitlines()]
    [line] = [x for x in lines if x["question"] == "Who opened the glass museum in Vellmoor?"]
    assert "Anna Berg" in line["answers"][0] and line["doc_ids"] == [good.article.id]
