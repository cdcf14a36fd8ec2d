"""The chat page in a real Chromium (Debian's ``chromium``) driven by Playwright."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from qa.config import Settings
from qa.engine import Engine
from qa.models import NOT_FOUND
from tests.conftest import serve_in_thread

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
KEY = "browser-key"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),  # one server and one Chromium for the module
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="/usr/bin/chromium is not installed (apt-get install chromium); CI always runs this test",
    ),
]


@pytest.fixture(scope="module")
def base_url(seed_engine: Engine) -> Iterator[str]:
    """The chat page's server, without an API key."""
    yield from serve_in_thread(Settings(index_dir=seed_engine.settings.index_dir, rate_limit=0), seed_engine)


@pytest.fixture(scope="module")
def keyed_url(seed_engine: Engine) -> Iterator[str]:
    """The chat page's server with QA_API_KEY set."""
    yield from serve_in_thread(
        Settings(index_dir=seed_engine.settings.index_dir, rate_limit=0, api_key=KEY), seed_engine
    )


@pytest.fixture(scope="module")
def long_questions_url(seed_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The chat page's server with QA_MAX_QUESTION_CHARS=2000, over a copy of the seed index; the
    sentence picker answers (the page's plumbing is tested: the reader reads questions of 120 tokens
    at most)."""
    index_dir = tmp_path_factory.mktemp("long-questions") / "index"
    shutil.copytree(seed_engine.settings.index_dir, index_dir)
    settings = seed_engine.settings.model_copy(
        update={"index_dir": index_dir, "rate_limit": 0, "max_question_chars": 2000, "reader": "off"}
    )
    engine = Engine(settings, seed_engine.embedder)
    yield from serve_in_thread(settings, engine)
    engine.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, with no network of its own beyond the test server."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page that fails the test on a script or console error (CSP violations included)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    new_page = context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # Chromium logs every 4xx fetch; a 401 before the key is given is expected.
        if message.type == "error" and "status of 401" not in message.text:
            errors.append(message.text)

    new_page.on("console", on_console)
    new_page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield new_page
    context.close()
    assert errors == []


def ask(page: Page, question: str) -> None:
    """Type a question with the keyboard and send it with Enter."""
    box = page.get_by_label("Your question")
    box.fill(question)
    box.press("Enter")


def long_question(length: int) -> str:
    """A question of ``length`` characters: a long preamble, then the seed question."""
    end = " When did the war start?"
    return ("I have read about the war in the Caucasus. " * 50)[: length - len(end)] + end


def paste(page: Page, text: str) -> None:
    """Paste ``text`` into the question box, as Ctrl+V does (one insertion, not key by key)."""
    page.get_by_label("Your question").focus()
    page.keyboard.insert_text(text)


def test_chat_page_shows_the_highlighted_answer_and_its_source(page: Page, base_url: str) -> None:
    """Asking about the seed article shows the sentence and span highlighted, with title and source."""
    page.goto(base_url)
    expect(page.get_by_label("Your question")).to_be_focused()
    ask(page, "When did the war start?")

    answer = page.locator("article.answer").first
    expect(answer).to_be_visible(timeout=60_000)
    sentence = answer.locator("mark.sentence")
    expect(sentence).to_contain_text("This war initially started on September 27")
    expect(sentence.locator("strong.span")).to_have_text("September 27")
    passage = answer.locator("blockquote.passage")
    expect(passage).to_contain_text("As the war continues for the eighth day")  # context around it
    expect(answer.locator(".meta .title")).to_have_text(
        "Israeli regime pours gas on the fire in Nagorno-Karabakh"
    )
    expect(answer.locator(".meta .source")).to_contain_text("seeds/000_30a3e569ce88eb0e.txt")
    expect(answer.locator(".meta time")).to_have_attribute("datetime", "2020-10-04T17:37:06")
    expect(answer.locator(".confidence-label")).to_have_text(re.compile(r"^(sure|likely|unsure)$"))
    expect(page.locator("#intro q.example")).to_have_text(
        "Israeli regime pours gas on the fire in Nagorno-Karabakh"
    )  # the example comes from the archive
    expect(page.get_by_label("Your question")).to_be_focused()

    # The seed article holds one answer to this question: no "More answers" button to press in vain.
    expect(page.get_by_role("button", name="More answers")).to_have_count(0)


def test_chat_page_says_not_found_in_the_core_words(page: Page, base_url: str) -> None:
    """A question the archive cannot answer gets the words the CLI and Telegram say."""
    page.goto(base_url)
    ask(page, "What is the boiling point of mercury?")
    expect(page.locator(".turn-reply .notice")).to_have_text(NOT_FOUND, timeout=60_000)


def test_chat_page_follow_up_uses_the_conversation(page: Page, base_url: str) -> None:
    """A follow-up question is sent in the same conversation and answered in the log."""
    page.goto(base_url)
    ask(page, "When did the war start?")
    replies = page.locator("li.turn-reply")
    expect(replies.first.locator("article.answer").first).to_be_visible(timeout=60_000)
    with page.expect_request("**/ask") as sent:
        ask(page, "Who fought in it?")
    assert "conversation_id" in sent.value.post_data_json
    expect(replies).to_have_count(2)
    expect(replies.nth(1).locator("article.answer, .notice").first).to_be_visible(timeout=60_000)


def test_chat_page_says_when_the_server_cannot_be_reached_and_keeps_the_question(
    browser: Browser, base_url: str
) -> None:
    """A question that gets no answer at all (the server stopped) says so in words of the page, not
    the browser's "Failed to fetch", and the question is back in the box to send again."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(base_url)
        page.route("**/ask", lambda route: route.abort("connectionrefused"))
        ask(page, "When did the war start?")
        error = page.locator("li.turn-reply .notice.error")
        expect(error).to_have_text(re.compile(r"^The server could not be reached"), timeout=30_000)
        expect(page.get_by_label("Your question")).to_have_value("When did the war start?")
        page.unroute("**/ask")
        page.get_by_label("Your question").press("Enter")
        expect(page.locator("li.turn-reply").nth(1).locator("article.answer").first).to_be_visible(
            timeout=60_000
        )
    finally:
        context.close()


def test_chat_page_asks_for_the_key_when_one_is_required(page: Page, keyed_url: str) -> None:
    """With QA_API_KEY set the page asks for the key once, then answers."""
    page.goto(keyed_url)
    ask(page, "When did the war start?")
    key_box = page.get_by_label("API key", exact=True)
    expect(key_box).to_be_visible(timeout=30_000)
    key_box.fill(KEY)
    key_box.press("Enter")
    answer = page.locator("article.answer mark.sentence").first
    expect(answer).to_contain_text("September 27", timeout=60_000)


def test_chat_page_without_a_key_says_how_to_give_one(page: Page, keyed_url: str) -> None:
    """Closing the key dialog (Escape) leaves a line for a person, not the API's header advice, and
    the question back in the box; sending it again asks for the key again."""
    page.goto(keyed_url)
    ask(page, "When did the war start?")
    key_box = page.get_by_label("API key", exact=True)
    expect(key_box).to_be_visible(timeout=30_000)
    key_box.press("Escape")
    error = page.locator("li.turn-reply .notice.error")
    expect(error).to_have_text(re.compile(r"^This server needs an API key to answer"), timeout=30_000)
    expect(error).not_to_contain_text("Bearer")
    box = page.get_by_label("Your question")
    expect(box).to_have_value("When did the war start?")
    box.press("Enter")
    expect(key_box).to_be_visible(timeout=30_000)


def test_chat_page_vote_is_stored(page: Page, base_url: str, seed_engine: Engine) -> None:
    """👍 under the first answer is sent with the page's conversation and stored with its question and
    answer; both of that answer's buttons are then spent, the one pressed marked."""
    page.goto(base_url)
    with page.expect_response("**/ask") as asked:
        ask(page, "When did the war start?")
    conversation = asked.value.json()["conversation_id"]
    answer = page.locator("article.answer").first
    expect(answer).to_be_visible(timeout=60_000)
    good = answer.get_by_role("button", name="Good answer (answer 1)")
    wrong = answer.get_by_role("button", name="Wrong answer (answer 1)")
    expect(good).to_have_text("👍")
    good.click()
    expect(answer.locator(".votes")).to_contain_text("Thanks for the feedback.")
    expect(good).to_be_disabled()
    expect(good).to_have_attribute("aria-pressed", "true")  # the vote given stays marked
    expect(wrong).to_be_disabled()
    expect(wrong).to_have_attribute("aria-pressed", "false")
    [vote] = [v for v in seed_engine.feedback.votes() if v.conversation == conversation]
    assert (vote.vote, vote.channel, vote.number) == ("up", "http", 1)
    assert vote.question == "When did the war start?"
    assert "September 27" in vote.answer.text


def test_chat_page_keeps_a_question_over_the_limit_whole_and_says_so(page: Page, base_url: str) -> None:
    """A pasted question longer than QA_MAX_QUESTION_CHARS stays whole in the box, is not sent,
    and the page says why until it is shortened to the limit."""
    page.goto(base_url)
    question = long_question(1750)
    box = page.get_by_label("Your question")
    status = page.locator("#form-status")
    paste(page, question)
    expect(box).to_have_value(question)  # never cut to the first 1000 characters
    expect(status).to_have_text("The question is longer than 1000 characters (it has 1750).")
    expect(box).to_have_attribute("aria-invalid", "true")
    box.press("Enter")
    expect(box).to_have_value(question)
    expect(page.locator("#log li")).to_have_count(0)  # nothing asked
    box.fill(question[-1000:])
    expect(status).to_have_text("")
    expect(box).not_to_have_attribute("aria-invalid", "true")


def test_chat_page_sends_a_question_up_to_the_server_limit(page: Page, long_questions_url: str) -> None:
    """With QA_MAX_QUESTION_CHARS=2000 the page sends a 1750-character question whole and shows the
    reply; one over 2000 is refused with that limit."""
    page.goto(long_questions_url)
    question = long_question(1750)
    paste(page, question)
    expect(page.locator("#form-status")).to_have_text("")
    with page.expect_response("**/ask") as asked:
        page.get_by_label("Your question").press("Enter")
    assert asked.value.ok and asked.value.request.post_data_json["question"] == question
    reply = page.locator("li.turn-reply")
    expect(reply.locator("article.answer, .notice").first).to_be_visible(timeout=60_000)
    expect(reply.locator(".notice.error")).to_have_count(0)
    paste(page, long_question(2001))
    expect(page.locator("#form-status")).to_have_text(
        "The question is longer than 2000 characters (it has 2001)."
    )
