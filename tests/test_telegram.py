"""End to end: the real python-telegram-bot Application polling a fake Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import html
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from bots.telegram import build_application, run_bot
from bots.telegram.format import (
    COMMANDS,
    FAILED,
    RATE_LIMITED,
    REFUSED,
    TELEGRAM_LIMIT,
    split_message,
)
from bots.telegram.handlers import TelegramApp
from qa.answering.conversation import NO_MORE, THANKS
from qa.config import Settings
from qa.engine import Engine
from qa.errors import ConfigError
from qa.models import NOT_FOUND, Article
from tests.conftest import SEEDS
from tests.fake_bot_api import BOT_USER, Call, FakeBotApi
from tests.web_site import Site, publish

# Its module-scoped fixtures are built once: under pytest-xdist the whole module runs on one worker.
pytestmark = pytest.mark.xdist_group("telegram")

WAR_QUESTION = "When did the war start?"
OFF_TOPIC = "What is the boiling point of mercury?"
GLACIER_QUESTION = "How fast is the Velmora glacier melting?"
# Telegram HTML that our messages may contain; anything else in angle brackets is unescaped text.
ALLOWED_TAGS = re.compile(r"</?(b|i|a)( href=\"[^\"<>]*\")?>")
ENTITY = re.compile(r"&(lt|gt|amp|quot|#x27);")

# Sentences just under the chunker's 1000-character cap, so that each answer is one whole sentence.
GLACIER_SENTENCES = [
    f"In survey number {n} the Velmora glacier of the Karsk mountains retreated by {20 + n} metres, "
    + "and the glaciologists of the Karsk observatory, who have measured how fast the Velmora "
    "glacier melts every summer since the observatory opened, "
    * 5
    + "while the meltwater of the Velmora glacier floods the valley below the Karsk mountains, "
    + f"wrote in report {n} that the melting of the Velmora glacier keeps accelerating."
    for n in range(1, 13)
]
LONG_ARTICLE = Article(
    id="velmora-glacier",
    title="The Velmora glacier keeps melting, year after year, say the glaciologists of Karsk",
    text="\n\n".join(GLACIER_SENTENCES),
    source="test",
    published="2021-06-01T08:00:00",
)
MARKUP_ARTICLE = Article(
    id="fish-and-chips",
    title='Q&A: <Fish> & "Chips"',
    text=(
        "Harbour cooks shared their recipe for fish and chips. "
        "The fish and chips recipe uses <b>sea salt</b> & malt vinegar > two spoons of it. "
        "Cod is the usual fish."
    ),
    source="test",
    published="2022-03-05T12:00:00",
)


def _visible(call: Call) -> str:
    """The text of a sent message as the user sees it (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", str(call.params["text"])))


def _buttons(call: Call) -> dict[str, str]:
    """Inline buttons of a sent message: label -> callback data."""
    markup = call.params.get("reply_markup") or {"inline_keyboard": []}
    return {b["text"]: b["callback_data"] for row in markup["inline_keyboard"] for b in row}


class BotRunner:
    """Runs an Application on its own event loop in a thread, as ``run_polling`` would."""

    def __init__(self, app: TelegramApp) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def _run(self, coroutine: Any) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=120)

    async def _start(self) -> None:
        await self.app.initialize()
        if self.app.post_init is not None:
            await self.app.post_init(self.app)
        await self.app.start()
        assert self.app.updater is not None
        await self.app.updater.start_polling(poll_interval=0.0, timeout=timedelta(seconds=1))

    async def _stop(self) -> None:
        assert self.app.updater is not None
        await self.app.updater.stop()
        await self.app.stop()
        await self.app.shutdown()
        if self.app.post_shutdown is not None:
            await self.app.post_shutdown(self.app)

    def start(self) -> None:
        self.thread.start()
        self._run(self._start())

    def stop(self) -> None:
        self._run(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.run_until_complete(self.loop.shutdown_default_executor())
        self.loop.close()


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One real engine (real model) on a fresh index: the seeds plus two test articles."""
    engine = Engine(Settings(index_dir=tmp_path_factory.mktemp("telegram") / "index"))
    engine.index_paths([SEEDS])
    engine.add_articles([LONG_ARTICLE, MARKUP_ARTICLE])
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def api() -> Iterator[FakeBotApi]:
    """The fake Bot API server, shared by the module (every test uses its own chat ids)."""
    server = FakeBotApi().start()
    yield server
    server.stop()


def _settings(engine: Engine, api: FakeBotApi, **overrides: Any) -> Settings:
    return Settings(
        index_dir=engine.settings.index_dir,
        telegram_token=api.token,
        telegram_base_url=api.base_url,
        **overrides,
    )


@pytest.fixture(scope="module")
def bot(engine: Engine, api: FakeBotApi) -> Iterator[FakeBotApi]:
    """A bot with default settings polling ``api``."""
    runner = BotRunner(build_application(_settings(engine, api), engine))
    runner.start()
    yield api
    runner.stop()


@pytest.fixture
def start_bot(engine: Engine) -> Iterator[Callable[..., FakeBotApi]]:
    """Start a bot with settings overridden for one test, on a fake server of its own."""
    started: list[tuple[BotRunner, FakeBotApi]] = []

    def start(**overrides: Any) -> FakeBotApi:
        api = FakeBotApi().start()
        runner = BotRunner(build_application(_settings(engine, api, **overrides), engine))
        started.append((runner, api))
        runner.start()
        return api

    yield start
    for runner, api in started:
        runner.stop()
        api.stop()


def test_telegram_answers_with_source(bot: FakeBotApi) -> None:
    """A question gets the answer sentence with its span in bold, the article, and buttons."""
    bot.push_message(101, WAR_QUESTION)
    [reply] = bot.wait_messages(101)
    text = str(reply.params["text"])
    assert "<b>September 27</b>" in text
    assert "This war initially started on" in _visible(reply)
    assert "Nagorno-Karabakh" in _visible(reply)
    assert "4 Oct 2020" in _visible(reply)
    assert reply.params["parse_mode"] == "HTML"
    assert "Source" in _buttons(reply)
    # "More answers" only while more exist.
    assert set(_buttons(reply)) <= {"Source", "More answers", "👍", "👎"}
    assert {"👍", "👎"} <= set(_buttons(reply))
    typing = bot.calls("sendChatAction", 101)
    assert typing and typing[0].params["action"] == "typing"
    assert bot.calls().index(typing[0]) < bot.calls().index(reply)

    bot.push_callback(101, bot.sent_message(reply), _buttons(reply)["Source"])
    source = bot.wait_messages(101, 2)[1]
    assert "Source" in _visible(source)
    assert "This war initially started on September 27" in _visible(source)
    assert bot.calls("answerCallbackQuery")


def test_telegram_abstains_plainly(bot: FakeBotApi) -> None:
    """An off-topic question gets the plain abstention and no buttons."""
    bot.push_message(102, OFF_TOPIC)
    [reply] = bot.wait_messages(102)
    assert reply.params["text"] == NOT_FOUND
    assert not _buttons(reply)


def test_telegram_more_answers_button(bot: FakeBotApi) -> None:
    """The "More answers" button sends the next answers below, each with a Source button."""
    bot.push_message(103, GLACIER_QUESTION)
    [first] = bot.wait_messages(103)
    bot.push_callback(103, bot.sent_message(first), _buttons(first)["More answers"])
    more = bot.wait_messages(103, 2)[1]
    assert _visible(more).startswith("2. ")
    labels = _buttons(more)
    assert "Source 2" in labels
    assert {"👍 2", "👎 2"} <= set(labels)
    # The pressed message keeps only its Source and vote buttons.
    bot.wait_for(lambda: bool(bot.calls("editMessageReplyMarkup", 103)), what="the edit")
    edited = bot.calls("editMessageReplyMarkup", 103)[0]
    assert int(edited.params["message_id"]) == bot.sent_message(first)["message_id"]
    assert set(_buttons(edited)) == {"Source", "👍", "👎"}

    bot.push_callback(103, bot.sent_message(more), labels["Source 2"])
    source = bot.wait_messages(103, 3)[2]
    assert "Source of answer 2" in _visible(source)

    # Once /more has shown every answer, a "More answers" button still under an older message gets a
    # notice on the button, not another message.
    while NO_MORE not in [c.params["text"] for c in bot.messages(103)]:
        count = len(bot.messages(103))
        bot.push_message(103, "/more")
        bot.wait_messages(103, count + 1)
    sent = len(bot.messages(103))
    pressed = len(bot.calls("answerCallbackQuery"))
    bot.push_callback(103, bot.sent_message(more), labels["More answers"])
    bot.wait_for(lambda: len(bot.calls("answerCallbackQuery")) > pressed, what="the notice")
    assert bot.calls("answerCallbackQuery")[-1].params.get("text") == NO_MORE
    time.sleep(0.5)
    assert len(bot.messages(103)) == sent


@pytest.mark.parametrize(
    ("chat_id", "command", "expected"),
    [
        (111, "/help", "/ask <question>"),
        (112, "/sources", "Ask me a question first."),
        (113, "/more", "Ask me a question first."),
        (114, "/ask", "Usage: /ask <question>"),
    ],
)
def test_telegram_commands(bot: FakeBotApi, chat_id: int, command: str, expected: str) -> None:
    """Commands answer with their text."""
    bot.push_message(chat_id, command)
    [reply] = bot.wait_messages(chat_id)
    assert expected in _visible(reply)


def test_telegram_unknown_command_names_help(bot: FakeBotApi) -> None:
    """An unknown command gets one line naming /help: in a private chat always, in a group only when
    addressed to the bot; another bot's command is ignored."""
    bot.push_message(140, "/foo")
    [reply] = bot.wait_messages(140)
    assert _visible(reply) == "I don't know /foo: /help lists the commands."
    group = -1000141
    bot.push_message(group, "/foo", chat_type="supergroup", user_id=141)
    bot.push_message(group, "/bar@other_bot", chat_type="supergroup", user_id=141)
    bot.push_message(group, f"/baz@{BOT_USER['username']} now", chat_type="supergroup", user_id=141)
    [reply] = bot.wait_messages(group)
    assert _visible(reply) == "I don't know /baz: /help lists the commands."
    bot.wait_for(lambda: bot.pending() == 0, what="all updates fetched")
    time.sleep(0.5)
    assert len(bot.messages(group)) == 1


def test_telegram_start_counts_articles_and_menu_is_set(bot: FakeBotApi, engine: Engine) -> None:
    """/start says what the bot is and how many articles it knows; the menu is registered."""
    bot.push_message(115, "/start")
    [reply] = bot.wait_messages(115)
    assert f"I know {engine.stats()['articles']} articles" in _visible(reply)
    registered = bot.calls("setMyCommands")[0].params["commands"]
    assert [c["command"] for c in registered] == [c.command for c in COMMANDS]


def test_telegram_sources_of_last_answer(bot: FakeBotApi) -> None:
    """/sources lists the article behind the last answer."""
    bot.push_message(116, "/ask " + WAR_QUESTION)
    bot.wait_messages(116)
    bot.push_message(116, "/sources")
    sources = bot.wait_messages(116, 2)[1]
    assert "Sources of the last answer" in _visible(sources)
    assert "Israeli regime pours gas on the fire in Nagorno-Karabakh" in _visible(sources)


def test_telegram_group_answers_only_when_addressed(bot: FakeBotApi) -> None:
    """In a group, chatter is ignored; a mention, a reply to the bot and /ask are answered."""
    group = -1000120
    bot.push_message(group, WAR_QUESTION, chat_type="supergroup", user_id=120)
    bot.push_message(group, f"@{BOT_USER['username']} {WAR_QUESTION}", chat_type="supergroup")
    [answer] = bot.wait_messages(group)
    assert "<b>September 27</b>" in str(answer.params["text"])

    bot.push_message(group, "and who fought?", chat_type="supergroup", reply_to=bot.sent_message(answer))
    bot.push_message(group, f"/ask@{BOT_USER['username']} {WAR_QUESTION}", chat_type="supergroup")
    assert len(bot.wait_messages(group, 3)) == 3
    time.sleep(0.5)
    assert len(bot.messages(group)) == 3


def test_telegram_reply_to_an_older_answer_follows_its_question(bot: FakeBotApi) -> None:
    """In a group where others asked since, a follow-up sent as a reply to an answer is read against
    that answer's question, not the group's last one."""
    group, mention = -1000121, f"@{BOT_USER['username']}"
    bot.push_message(group, f"{mention} Which drones does Azerbaijan use?", chat_type="supergroup")
    [drones] = bot.wait_messages(group)
    assert "Israel" in _visible(drones)
    bot.push_message(group, f"{mention} {GLACIER_QUESTION}", chat_type="supergroup", user_id=122)
    [_, glacier] = bot.wait_messages(group, 2)
    assert "Velmora" in _visible(glacier)
    bot.push_message(group, "Who supplies them?", chat_type="supergroup", reply_to=bot.sent_message(drones))
    follow = bot.wait_messages(group, 3)[2]
    assert "Israel" in _visible(follow) and "Velmora" not in _visible(follow)


def test_telegram_thanks_get_a_word_in_private_and_none_in_a_group(bot: FakeBotApi) -> None:
    """ "thanks!" is no question: a private chat gets "You're welcome.", a group replying to an answer
    gets nothing (not "I couldn't find that in the archive")."""
    bot.push_message(160, "thanks!")
    [reply] = bot.wait_messages(160)
    assert reply.params["text"] == THANKS
    group = -1000161
    bot.push_message(group, f"@{BOT_USER['username']} {WAR_QUESTION}", chat_type="supergroup")
    [answer] = bot.wait_messages(group)
    bot.push_message(group, "Thanks a lot!", chat_type="supergroup", reply_to=bot.sent_message(answer))
    bot.wait_for(lambda: bot.pending() == 0, what="all updates fetched")
    time.sleep(0.5)
    assert len(bot.messages(group)) == 1


def test_telegram_edited_question_is_answered_as_it_now_reads(bot: FakeBotApi) -> None:
    """An edited question is answered as its new wording, in reply to the edited message; an edit that
    leaves the text as it was (a link preview) gets nothing."""
    asked = bot.push_message(150, OFF_TOPIC)
    [first] = bot.wait_messages(150)
    assert first.params["text"] == NOT_FOUND
    edited = bot.push_edit(asked, WAR_QUESTION)
    second = bot.wait_messages(150, 2)[1]
    assert "<b>September 27</b>" in str(second.params["text"])
    assert second.params["reply_parameters"]["message_id"] == edited["message_id"]
    bot.push_edit(edited, WAR_QUESTION)
    bot.wait_for(lambda: bot.pending() == 0, what="all updates fetched")
    time.sleep(0.5)
    assert len(bot.messages(150)) == 2


def test_telegram_edited_command_is_not_run_again(bot: FakeBotApi, engine: Engine) -> None:
    """An edited /watch adds no second watch and gets no reply: commands are not run again."""
    command = bot.push_message(151, f"/watch {WAR_QUESTION}")
    bot.wait_messages(151)
    bot.push_edit(command, "/watch When did the war begin?")
    bot.wait_for(lambda: bot.pending() == 0, what="all updates fetched")
    time.sleep(0.5)
    assert len(bot.messages(151)) == 1
    assert [w.question for w in engine.watching.listed(151)] == [WAR_QUESTION]


def test_telegram_allowlist_refuses_once(start_bot: Callable[..., FakeBotApi]) -> None:
    """A chat outside the allowlist gets one polite refusal and nothing else; a button press there is
    answered with it."""
    api = start_bot(telegram_allowed_chats="201")
    for text in (WAR_QUESTION, "/start", OFF_TOPIC):
        api.push_message(202, text)
    api.push_message(201, WAR_QUESTION)
    api.wait_messages(201)
    api.wait_for(lambda: api.pending() == 0, what="all updates fetched")
    time.sleep(0.5)
    assert [c.params["text"] for c in api.calls(chat_id=202)] == [REFUSED]
    # A press on a button (of an old answer, before the allowlist) is answered, or its spinner hangs.
    old = {"message_id": 9, "date": int(time.time()), "chat": {"id": 202, "type": "private"}, "text": "x"}
    api.push_callback(202, old, "more")
    api.wait_for(lambda: bool(api.calls("answerCallbackQuery")), what="the press answered")
    assert api.calls("answerCallbackQuery")[0].params.get("text") == REFUSED
    assert [c.params["text"] for c in api.calls(chat_id=202)] == [REFUSED]


def test_telegram_long_answer_is_split_on_sentences(start_bot: Callable[..., FakeBotApi]) -> None:
    """Answers over 4096 characters arrive as several messages, no sentence cut in two."""
    api = start_bot(top_k=5)
    api.push_message(301, GLACIER_QUESTION)
    [first] = api.wait_messages(301)
    assert "Velmora" in _visible(first)
    api.push_callback(301, api.sent_message(first), _buttons(first)["More answers"])
    api.wait_for(lambda: any(_buttons(c) for c in api.messages(301)[1:]), what="the last part")
    parts = api.messages(301)[1:]
    assert len(parts) >= 2
    assert all(len(str(p.params["text"])) <= TELEGRAM_LIMIT for p in parts)
    assert not any(_buttons(p) for p in parts[:-1])
    assert "Source 2" in _buttons(parts[-1])
    texts = [_visible(p) for p in parts]
    answered = [s for s in GLACIER_SENTENCES if s[:60] in " ".join(texts)]
    assert len(answered) >= 4
    for sentence in answered:
        assert any(sentence in t for t in texts), "a sentence was split across messages"


def test_telegram_escapes_article_markup(bot: FakeBotApi) -> None:
    """Article text and titles with <, >, & and quotes arrive escaped."""
    bot.push_message(401, "What does the fish and chips recipe use?")
    [reply] = bot.wait_messages(401)
    text = str(reply.params["text"])
    unhighlighted = text.replace("<b>", "").replace("</b>", "")  # the answer span is ours to bold
    assert "&lt;b&gt;sea salt&lt;/b&gt; &amp; malt vinegar &gt; two spoons" in unhighlighted
    assert "Q&amp;A: &lt;Fish&gt; &amp; &quot;Chips&quot;" in text
    bare = ENTITY.sub("", ALLOWED_TAGS.sub("", text))
    assert "<" not in bare and ">" not in bare and "&" not in bare


def test_telegram_rate_limit_is_per_chat(start_bot: Callable[..., FakeBotApi]) -> None:
    """A burst of 100 messages gets the limit's answers and one polite notice; others go on."""
    api = start_bot(telegram_rate_limit=5)
    for _ in range(100):
        api.push_message(501, OFF_TOPIC)
    api.push_message(502, WAR_QUESTION)
    [other] = api.wait_messages(502)
    assert "<b>September 27</b>" in str(other.params["text"])
    api.wait_messages(501, 6)
    api.wait_for(lambda: api.pending() == 0, what="all updates fetched")
    time.sleep(1.0)
    texts = [c.params["text"] for c in api.messages(501)]
    assert texts.count(RATE_LIMITED) == 1
    assert texts.count(NOT_FOUND) == 5
    assert len(texts) == 6


def test_inline_queries_do_not_use_up_the_private_chat(start_bot: Callable[..., FakeBotApi]) -> None:
    """Telegram sends an inline query as the user types "@bot ..."; a burst of them leaves the same
    user's private chat its own questions (the chat id of a private chat is the user's id)."""
    api = start_bot(telegram_rate_limit=3)
    for n in range(4):
        api.push_inline_query(503, f"When did the war start{'?' * n}")
    api.wait_for(lambda: len(api.calls("answerInlineQuery")) >= 3, what="the inline answers")
    api.push_message(503, WAR_QUESTION)
    [reply] = api.wait_messages(503)
    assert "<b>September 27</b>" in str(reply.params["text"])


def test_telegram_flood_control_is_retried(bot: FakeBotApi, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 429 with retry_after is waited out and the message still arrives."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB warns on RetryAfter otherwise
    bot.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", {"retry_after": 1}, 601)
    bot.push_message(601, OFF_TOPIC)
    bot.wait_for(lambda: len(bot.messages(601)) == 2, what="the retried message")
    attempts = bot.messages(601)
    assert attempts[0].params.get("_failed") == 429
    assert [c.params["text"] for c in attempts] == [NOT_FOUND, NOT_FOUND]


def test_telegram_error_is_logged_and_bot_survives(bot: FakeBotApi, caplog: pytest.LogCaptureFixture) -> None:
    """A failing update is logged with its traceback, the user is told, the next one is answered."""
    bot.fail_next("sendMessage", 400, "Bad Request: can't parse entities", chat_id=701)
    with caplog.at_level(logging.ERROR, logger="bots.telegram.handlers"):
        bot.push_message(701, OFF_TOPIC)
        bot.wait_for(lambda: any(c.params["text"] == FAILED for c in bot.messages(701)))
    assert any(r.exc_info for r in caplog.records if r.name == "bots.telegram.handlers")
    bot.push_message(701, OFF_TOPIC)
    bot.wait_for(lambda: [c.params["text"] for c in bot.messages(701)][-1] == NOT_FOUND)


def test_telegram_too_long_question_is_refused_politely(bot: FakeBotApi) -> None:
    """A question over the length limit gets a polite explanation."""
    bot.push_message(801, "why " * 400)
    [reply] = bot.wait_messages(801)
    assert "too long" in _visible(reply)


@pytest.mark.parametrize("token", [None, "", "not-a-token", "123456", "abc:DEF"])
def test_run_bot_rejects_missing_or_malformed_token(tmp_path: Any, token: str | None) -> None:
    """A missing or malformed token is a ConfigError, before anything starts."""
    settings = Settings(index_dir=tmp_path / "index", telegram_token=token)
    with pytest.raises(ConfigError, match="token"):
        run_bot(settings)


def test_run_bot_token_rejected_by_server(
    api: FakeBotApi, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A well-formed token the Bot API rejects is a ConfigError too, said once: no traceback is logged,
    and neither the error nor any log line shows the token (a typo'd token is nearly the real one)."""
    settings = _settings(engine, api).model_copy(update={"telegram_token": "999:WRONG-token"})
    caplog.set_level(logging.DEBUG)
    with pytest.raises(
        ConfigError, match=r"^Telegram rejected the bot token \(QA_TELEGRAM_TOKEN\)"
    ) as raised:
        run_bot(settings)
    assert "WRONG-token" not in str(raised.value)
    assert not any("WRONG-token" in r.getMessage() for r in caplog.records)
    assert not any(r.exc_info for r in caplog.records if r.name.startswith("telegram"))


@pytest.mark.parametrize(
    "text",
    [
        "<i>" + "Word &amp; word. " * 400 + "</i> <b>" + "x" * 5000 + "</b>",
        "Short. " * 1000,
        "<b>" + "unbroken" * 1000 + "</b>",
        "😀 and more. " * 800,
    ],
)
def test_split_message_keeps_parts_short_and_tags_balanced(text: str) -> None:
    """Every part fits Telegram's limit, has balanced tags, and no entity is cut."""
    parts = split_message(text)
    assert len(parts) >= 2
    for part in parts:
        assert len(part.encode("utf-16-le")) // 2 <= TELEGRAM_LIMIT
        stack: list[str] = []
        for closing, name in re.findall(r"<(/?)(\w+)", part):
            if closing:
                assert stack.pop() == name
            else:
                stack.append(name)
        assert not stack
        assert not re.search(r"&[a-z#0-9]*$", part)
    visible = "".join(re.sub(r"<[^>]+>|\s", "", p) for p in parts)
    assert visible == re.sub(r"<[^>]+>|\s", "", text)


def test_telegram_refreshes_feeds_in_the_background(web_engine: Engine, site: Site) -> None:
    """With QA_REFRESH (``qa telegram --refresh``) the bot polls the feeds while it runs, then stops."""
    web_engine.add_feed(publish(site))
    api = FakeBotApi().start()
    runner = BotRunner(build_application(_settings(web_engine, api, refresh="0.2s"), web_engine))
    runner.start()
    try:
        deadline = time.monotonic() + 30
        while web_engine.stats()["articles"] < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert web_engine.stats()["articles"] == 2  # the feed's two items
        while len(site.hits("/rss.xml")) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        runner.stop()
        api.stop()
    polls = len(site.hits("/rss.xml"))
    assert polls >= 2
    time.sleep(0.6)
    assert len(site.hits("/rss.xml")) == polls


def test_telegram_more_answers_on_an_earlier_message_still_works(bot: FakeBotApi) -> None:
    """ "More answers" under an earlier question's message pages that question, not the latest one."""
    bot.push_message(130, GLACIER_QUESTION)
    [glacier] = bot.wait_messages(130)
    bot.push_message(130, WAR_QUESTION)
    bot.wait_messages(130, 2)
    bot.push_callback(130, bot.sent_message(glacier), _buttons(glacier)["More answers"])
    more = bot.wait_messages(130, 3)[2]
    assert _visible(more).startswith("2. ") and "Velmora" in _visible(more)
    assert "earlier question" not in _visible(more)


def test_telegram_shows_how_sure_an_answer_is(bot: FakeBotApi, engine: Engine) -> None:
    """Each answer carries the core's confidence word for its score."""
    bot.push_message(131, WAR_QUESTION)
    [reply] = bot.wait_messages(131)
    expected = engine.ask(WAR_QUESTION, top_k=1).answers[0].confidence
    assert f"Confidence: {expected}" in _visible(reply)


def test_telegram_logs_one_line_when_it_starts(
    start_bot: Callable[..., FakeBotApi], engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """Starting logs the bot's name, the archive's size and how it gets updates."""
    with caplog.at_level(logging.INFO, logger="bots"):
        start_bot()
    lines = [r.getMessage() for r in caplog.records if "ready" in r.getMessage()]
    articles = engine.stats()["articles"]
    assert len(lines) == 1 and f"@{BOT_USER['username']}" in lines[0], lines
    assert f"{articles} articles" in lines[0] and "polling" in lines[0]
