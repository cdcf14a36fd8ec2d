"""Watches, votes and inline answers through the real python-telegram-bot Application and the fake
Bot API on 127.0.0.1; articles arrive through the real indexing path (a feed on 127.0.0.1)."""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bots.telegram import build_application
from bots.telegram.format import EXPIRED, TELEGRAM_LIMIT
from qa.config import Settings
from qa.engine import Engine
from qa.models import Article
from qa.watching import eval_queries
from tests.conftest import SEEDS
from tests.embedders import HashEmbedder
from tests.fake_bot_api import FakeBotApi
from tests.test_telegram import BotRunner, _buttons, _visible
from tests.web_site import Site, publish, rss

pytestmark = pytest.mark.xdist_group("telegram")

MUSEUM_QUESTION = "Where did the glass museum open?"
ITEMS = [
    ("Harbour bridge reopens", "/news/bridge.html", "Tue, 05 Mar 2024 09:30:00 GMT"),
    ("Ferry strike ends", "/news/ferry.html", "Wed, 06 Mar 2024 08:00:00 GMT"),
    ("Glass museum opens", "/news/museum.html", "Thu, 07 Mar 2024 12:00:00 GMT"),
]
GLACIER_STORY = (
    "The Velmora glacier retreated by 42 metres this summer, the Karsk observatory said on Tuesday. "
    "It was the largest retreat since measurements began in 1921. Glaciologists blamed the record "
    "heat of July."
)


@pytest.fixture
def engine(tmp_path: Path, site: Site) -> Iterator[Engine]:
    """A test-embedder engine over the site's feed (two articles), keeping every answer it finds."""
    settings = Settings(
        index_dir=tmp_path / "index",
        seeds_dir=SEEDS,
        reader="off",
        fetch_delay=0,
        fetch_allow_private=True,  # the test site is on 127.0.0.1
        watch_min_confidence="unsure",
    )
    engine = Engine(settings, embedder=HashEmbedder())
    engine.add_feed(publish(site))
    engine.refresh()
    yield engine
    engine.close()


@pytest.fixture
def start_bot(engine: Engine) -> Iterator[Any]:
    """Start a bot over ``engine`` on a fake Bot API of its own (watches sent every 0.1 s)."""
    running: list[tuple[BotRunner, FakeBotApi]] = []

    def start(api: FakeBotApi | None = None) -> FakeBotApi:
        api = api or FakeBotApi().start()
        settings = engine.settings.model_copy(
            update={"telegram_token": api.token, "telegram_base_url": api.base_url, "watch_poll": 0.1}
        )
        runner = BotRunner(build_application(settings, engine))
        runner.start()
        running.append((runner, api))
        return api

    yield start
    for runner, api in running:
        runner.stop()
        api.stop()


def add_museum(engine: Engine, site: Site) -> None:
    """The museum's item appears in the feed; a refresh fetches and indexes it."""
    site.put("/rss.xml", rss("The Gazette", [(t, site.url(p), d) for t, p, d in ITEMS]))
    assert len(engine.refresh().added) == 1


def test_watch_pushes_one_new_answer_to_its_chat_only(engine: Engine, site: Site, start_bot: Any) -> None:
    """/watch, then a new article through a refresh: one push to that chat, none to another; a second
    refresh with the same article sends nothing."""
    api = start_bot()
    api.push_message(501, f"/watch {MUSEUM_QUESTION}")
    assert "Watching" in _visible(api.wait_messages(501)[0])
    api.push_message(502, "/watch How tall is Everest?")
    api.wait_messages(502)
    add_museum(engine, site)
    push = api.wait_messages(501, 2)[1]
    assert _visible(push).startswith(f"🔔 New answer to: {MUSEUM_QUESTION}")
    assert "customs house" in _visible(push) and push.params["parse_mode"] == "HTML"
    assert set(_buttons(push)) == {"👍", "👎"}  # like every other answer
    # The bot records the push as sent once Telegram has answered: only then is nothing pending.
    api.wait_for(lambda: engine.watching.pending("chat") == [], what="the push recorded as sent")
    assert engine.refresh().added == []
    assert engine.watching.pending("chat") == []
    api.push_message(501, "/watches")  # the bot is still up: its next reply follows the push
    listing = api.wait_messages(501, 3)[2]
    assert "1. Where did the glass museum open?" in _visible(listing)
    assert len(api.messages(502)) == 1  # only the reply to its /watch


def test_watches_lists_and_removes(engine: Engine, start_bot: Any) -> None:
    """/watches lists the chat's own watches with a remove button each; /unwatch n stops the n-th."""
    api = start_bot()
    questions = ("Who opened the museum?", "Who fixed the bridge?", "Who ended the strike?")
    for count, question in enumerate(questions, start=1):
        api.push_message(511, f"/watch {question}")
        api.wait_messages(511, count)  # updates are handled concurrently: one at a time here
    api.push_message(512, "/watch What did the council say?")
    api.wait_messages(512)
    api.push_message(511, "/watches")
    listing = api.wait_messages(511, 4)[3]
    assert "3 of 20" in _visible(listing) and "council" not in _visible(listing)
    api.push_callback(511, api.sent_message(listing), _buttons(listing)["Remove 2"])
    api.wait_for(lambda: bool(api.calls("editMessageText", 511)), what="the edited list")
    edited = _visible(api.calls("editMessageText", 511)[0])
    assert "bridge" not in edited and "2. Who ended the strike?" in edited
    api.push_message(511, "/unwatch 1")
    assert "Stopped watching: Who opened the museum?" in _visible(api.wait_messages(511, 5)[4])
    api.push_message(511, "/unwatch 7")
    assert _visible(api.wait_messages(511, 6)[5]) == "There is no watch 7: /watches lists yours."
    api.push_message(511, "/unwatch two")
    assert _visible(api.wait_messages(511, 7)[6]) == "Usage: /unwatch <n>, n from /watches"
    assert [w.question for w in engine.watching.listed(511)] == ["Who ended the strike?"]
    api.push_message(511, "/watch What happened last week?")
    assert "last week" in _visible(api.wait_messages(511, 8)[7])


def test_blocked_chat_is_retried_after_the_next_refresh(
    engine: Engine, site: Site, start_bot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Answers found while the bot is down are sent when it starts; a chat that blocked the bot is
    logged with the reason, its answer sent again after the next refresh; other chats get theirs."""
    blocked = engine.watching.add(MUSEUM_QUESTION, chat_id=521)
    engine.watching.add(MUSEUM_QUESTION, chat_id=522)
    add_museum(engine, site)
    api = FakeBotApi().start()
    api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user", chat_id=521)
    with caplog.at_level(logging.WARNING):
        start_bot(api)
        assert "customs house" in _visible(api.wait_messages(522)[0])
        api.wait_for(lambda: bool(api.calls("sendMessage", 521)), what="the failed push")
        api.wait_for(lambda: "blocked by the user" in caplog.text, what="the log line")
    # The failure is logged just before it is recorded; a refresh before that would not retry it.
    failed = engine.watching.answers
    api.wait_for(lambda: failed(blocked.id, chat_id=521)[0].tries == 1, what="the failure recorded")
    assert api.messages(521)[0].params["_failed"] == 403
    engine.refresh()  # nothing new, but a check: the failed push is due again
    assert "customs house" in _visible(api.wait_messages(521, 2)[1])


def test_vote_is_stored_and_exported(engine: Engine, start_bot: Any, tmp_path: Path) -> None:
    """A 👍 under an answer is stored with its question and answer, and exported for `qa eval`."""
    api = start_bot()
    api.push_message(531, "How many steel cables did the engineers replace?")
    [answer] = api.wait_messages(531)
    api.push_callback(531, api.sent_message(answer), _buttons(answer)["👍"])
    api.wait_for(lambda: bool(api.calls("answerCallbackQuery")), what="the thanks")
    assert "Thanks" in api.calls("answerCallbackQuery")[0].params["text"]
    [vote] = engine.feedback.votes()
    assert vote.vote == "up" and vote.channel == "telegram" and vote.number == 1
    assert vote.question == "How many steel cables did the engineers replace?"
    assert engine.feedback.export(tmp_path / "queries.jsonl") == 1
    [line] = [json.loads(x) for x in (tmp_path / "queries.jsonl").read_text().splitlines()]
    assert line == eval_queries([vote])[0] and line["doc_ids"] == [vote.answer.article.id]
    assert "steel cables" in line["answers"][0] or "forty" in line["answers"][0]


def test_vote_on_a_push_is_stored(engine: Engine, site: Site, start_bot: Any) -> None:
    """A 👍 under a watch's pushed answer is stored with the question watched and that answer, also
    after a restart; the same press from another chat is refused and stores nothing."""
    watch = engine.watching.add(MUSEUM_QUESTION, chat_id=551)
    add_museum(engine, site)
    api = start_bot()
    [push] = api.wait_messages(551)
    api.wait_for(lambda: engine.watching.pending("chat") == [], what="the push recorded as sent")
    message, buttons = api.sent_message(push), _buttons(push)
    elsewhere = {**message, "chat": {"id": 552, "type": "private", "first_name": "user552"}}
    api.push_callback(552, elsewhere, buttons["👍"])
    api.wait_for(lambda: bool(api.calls("answerCallbackQuery")), what="the refusal")
    assert api.calls("answerCallbackQuery")[0].params["text"] == EXPIRED
    assert engine.feedback.votes() == []
    restarted = start_bot()  # a second bot on the same index: the buttons outlive the first
    restarted.push_callback(551, message, buttons["👍"])
    restarted.wait_for(lambda: bool(restarted.calls("answerCallbackQuery")), what="the thanks")
    assert "Thanks" in restarted.calls("answerCallbackQuery")[0].params["text"]
    [vote] = engine.feedback.votes()
    assert (vote.vote, vote.channel, vote.conversation, vote.number) == ("up", "telegram", "551", 1)
    assert vote.question == MUSEUM_QUESTION
    assert vote.answer == engine.watching.answers(watch.id, chat_id=551)[0].answer
    assert "museum" in vote.answer.article.id or "museum" in vote.answer.article.title.lower()


def test_inline_query_answers_with_results(engine: Engine, start_bot: Any) -> None:
    """``@bot question`` gets up to three article results: the answer as title, the article and date
    as description, the usual answer with its source as the message; cached a minute."""
    api = start_bot()
    api.push_inline_query(541, "How many steel cables did the engineers replace?")
    api.wait_for(lambda: bool(api.calls("answerInlineQuery")), what="the inline answer")
    call = api.calls("answerInlineQuery")[0]
    results = call.params["results"]
    assert 1 <= len(results) <= 3 and int(call.params["cache_time"]) == 60
    # Else Telegram's cache hands them to anyone typing the same query, users off the allowlist too.
    assert call.params["is_personal"] in (True, "true", "True")
    first = results[0]
    assert first["type"] == "article" and first["title"]
    assert "Harbour bridge reopens" in first["description"]
    assert first["input_message_content"]["parse_mode"] == "HTML"
    assert "bridge" in first["input_message_content"]["message_text"]
    api.push_inline_query(541, "")
    api.wait_for(lambda: len(api.calls("answerInlineQuery")) == 2, what="the empty answer")
    assert api.calls("answerInlineQuery")[1].params["results"] == []


def test_inline_answer_with_many_copies_fits_one_message(engine: Engine, start_bot: Any) -> None:
    """A story re-published 45 times: the inline message names its article once and counts the other
    copies instead of listing them, so that it fits one message with its confidence and source."""
    engine.add_articles(
        [
            Article(
                id=f"glacier-{n:02}",
                title=f"Regional daily edition {n:02} reports: Karsk observatory measures the record "
                "retreat of the Velmora glacier this summer & more <news>",
                text=GLACIER_STORY,
                source=f"daily-{n:02}",
                published=f"2026-11-{n % 28 + 1:02}T06:00:00",
            )
            for n in range(1, 46)
        ]
    )
    api = start_bot()
    api.push_inline_query(561, "How much did the Velmora glacier retreat?")
    api.wait_for(lambda: bool(api.calls("answerInlineQuery")), what="the inline answer")
    text = api.calls("answerInlineQuery")[0].params["results"][0]["input_message_content"]["message_text"]
    visible = html.unescape(re.sub(r"<[^>]+>", "", text))
    assert len(text.encode("utf-16-le")) // 2 <= TELEGRAM_LIMIT
    assert "42 metres" in visible
    assert visible.count("📰") == 1 and visible.count("Velmora glacier this summer & more <news>") == 1
    assert "↪ also in 44 other copies" in visible
    assert re.search(r"📰 Regional daily edition \d\d .* · daily-\d\d\n", visible)
    assert "Confidence: " in visible.splitlines()[-1]
