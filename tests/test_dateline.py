"""Wire datelines: read off a story's text in every format, kept as its place, shown with the source."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bots.cli.render import source_line as terminal_source_line
from bots.http import create_app
from bots.telegram.format import article_line
from qa.config import Settings
from qa.engine import Engine
from qa.ingest.articles import parse_document
from qa.ingest.dateline import find_dateline
from qa.models import ArticleMeta
from qa.store import schema
from tests.embedders import HashEmbedder

STORY = (
    "LONDON, June 1 - Representatives of major banks met in the City on Monday to discuss the "
    "payments system. They agreed to meet again in July."
)
BODY = STORY.removeprefix("LONDON, June 1 - ")


@pytest.mark.parametrize(
    ("opening", "place", "story"),
    [
        ("LONDON, June 1 - Banks met.", "LONDON", "Banks met."),
        ("WASHINGTON (Reuters) - The Senate voted.", "WASHINGTON", "The Senate voted."),
        ("NEW YORK, March 3 - Shares rose.", "NEW YORK", "Shares rose."),
        ("PARIS (AP) — The strike ended.", "PARIS", "The strike ended."),
        ("LONDON, June 1 (Reuters) - Banks met.", "LONDON", "Banks met."),
        ("WASHINGTON — The president spoke.", "WASHINGTON", "The president spoke."),
        ("CINCINNATI, Ohio, March 3 - Buckhorn Inc said.", "CINCINNATI, Ohio", "Buckhorn Inc said."),
        ("ST. JOHN'S, Newfoundland, May 2 - Fish.", "ST. JOHN'S, Newfoundland", "Fish."),
        ("WINSTON-SALEM, N.C., April 7 - RJR said.", "WINSTON-SALEM, N.C.", "RJR said."),
        ("Caracas, March 6 - The government agreed.", "Caracas", "The government agreed."),
        ("Rio de Janeiro, March 6 - Coffee fell.", "Rio de Janeiro", "Coffee fell."),
        ("NEW YORK, MARCH 19 - The stock rose.", "NEW YORK", "The stock rose."),
        ("JOHANNESBURG March 13 - Shr 516 cts vs 347", "JOHANNESBURG", "Shr 516 cts vs 347"),
        ("SÃO PAULO, June 1, 1987 - Coffee rose.", "SÃO PAULO", "Coffee rose."),
        ("CALGARY, Alberta, March 2 - Shr 81 cts", "CALGARY, Alberta", "Shr 81 cts"),
    ],
)
def test_find_dateline_reads_the_place_and_the_story_start(opening: str, place: str, story: str) -> None:
    """A run of capitalised place words, an optional date and agency, then a dash: a dateline."""
    found = find_dateline(opening)
    assert found is not None
    assert (found.place, opening[found.end :]) == (place, story)


@pytest.mark.parametrize(
    "opening",
    [
        "As the war continues for the eighth day between Azerbaijan and Armenia, attention grew.",
        "Eastport council approved the plan for a road bridge over the Wenn river on Tuesday.",
        "By noon the bridge was open.",
        "John Smith - the mayor - said the bridge would open.",
        "On Tuesday, March 3 - the day before the vote - the council met.",
        "Tuesday, March 3 - The council met.",
        "Last Tuesday, March 3 - The council met.",
        "The Hague - a city of courts - welcomed the judges.",
        "BREAKING - Markets fell sharply on Monday.",
        "UPDATE 2 - Oil prices rose.",
        "EXCLUSIVE - The minister resigned.",
        "Updated, March 6, 2020 - The story was corrected.",
        "NATO — the alliance founded in 1949 — met today.",
        "IBM - which makes computers - said profits rose.",
        "COVID–19 cases rose again in March.",
        "COVID-19 cases rose 10% - the most since May.",
        "Apple (AAPL) - Shares of the iPhone maker rose.",
        "I - I don't know, she said.",
        '"WOW - that was close," the pilot said.',
        "The bank said - without giving details - that it would cut jobs.",
        "Prices rose 5 pct in March - the biggest rise in a year.",
        "In London, June 1 - the day of the vote - was quiet.",
        "Shares of Sears, Roebuck and Co rose - a sign of confidence.",
        "Smith and Jones - two lawyers - sued.",
        "LONDON",
        "LONDON - ",
        "",
    ],
)
def test_ordinary_openings_are_never_taken_for_datelines(opening: str) -> None:
    """A first sentence is never eaten: openings that only look a little like datelines stay text."""
    assert find_dateline(opening) is None


@pytest.mark.parametrize(
    ("data", "suffix"),
    [
        (f"Banks meet\n\n{STORY}\n".encode(), ".txt"),
        (f"# Banks meet\n\n{STORY}\n".encode(), ".md"),
        (json.dumps({"title": "Banks meet", "text": STORY}).encode() + b"\n", ".jsonl"),
        (json.dumps([{"title": "Banks meet", "text": STORY}]).encode(), ".json"),
        (
            f"<html><head><title>Banks meet</title></head><body><article><h1>Banks meet</h1>"
            f"<p>{STORY}</p><p>More talks are planned for the autumn, the organisers said.</p>"
            f"</article></body></html>".encode(),
            ".html",
        ),
    ],
)
def test_every_format_keeps_the_dateline_as_the_place(data: bytes, suffix: str) -> None:
    """Whatever the format, the dateline becomes the place and the text starts after it, verbatim."""
    [article], _ = parse_document(data, f"banks{suffix}", suffix)
    assert article.place == "LONDON"
    assert article.text.startswith(BODY)


def test_a_story_without_a_dateline_keeps_its_text() -> None:
    """The seed article has no dateline: no place, its text unchanged."""
    data = (Path(__file__).parent.parent / "seeds" / "000_30a3e569ce88eb0e.txt").read_bytes()
    [article], _ = parse_document(data, "seed.txt", ".txt")
    assert article.place is None
    assert article.text.startswith("As the war continues for the eighth day")


@pytest.fixture
def wire_engine(tmp_path: Path) -> Engine:
    """An index holding one wire story, with the deterministic embedder."""
    (tmp_path / "news").mkdir()
    (tmp_path / "news" / "banks.txt").write_text(f"Banks meet\n\n{STORY}\n", encoding="utf-8")
    engine = Engine(Settings(index_dir=tmp_path / "index", reader="off"), embedder=HashEmbedder())
    engine.index_paths([tmp_path / "news"])
    return engine


QUESTION = "Who met to discuss the payments system?"


def test_the_answer_quotes_the_story_after_its_dateline(wire_engine: Engine) -> None:
    """The quoted sentence starts after the dateline, and the answer names the story's place."""
    answer = wire_engine.ask(QUESTION).answers[0]
    assert answer.text == BODY.split(" They agreed")[0]
    assert answer.article.place == "LONDON"
    wire_engine.close()


def test_the_http_answer_names_the_place(wire_engine: Engine) -> None:
    """POST /ask gives the place as a key of the answer's article."""
    app = create_app(Settings(index_dir=wire_engine.settings.index_dir, rate_limit=0), wire_engine)
    with TestClient(app) as client:
        assert app.state.loader.wait(60)
        response = client.post("/ask", json={"question": QUESTION})
    assert response.status_code == 200, response.text
    article = response.json()["answers"][0]["article"]
    assert article["place"] == "LONDON"
    assert not response.json()["answers"][0]["text"].startswith("LONDON")


def test_the_terminal_and_telegram_show_the_place_with_the_source() -> None:
    """The CLI's source line and Telegram's article line name the place beside the title and date."""
    meta = ArticleMeta("a1", "Banks meet", "1987-06-01T09:00:00", "banks.txt", None, place="LONDON")
    assert terminal_source_line(meta) == "Banks meet · LONDON · 1987-06-01 09:00:00 · banks.txt"
    assert article_line(meta) == "📰 Banks meet · LONDON · 1 Jun 1987"
    assert "LONDON" not in terminal_source_line(ArticleMeta("a2", "Rain", None, "rain.txt", None))


def test_an_index_made_before_datelines_keeps_working(wire_engine: Engine) -> None:
    """An index without the place column is opened (the column is added) and answers, without a place."""
    index_dir = wire_engine.settings.index_dir
    wire_engine.close()
    with sqlite3.connect(index_dir / schema.DATABASE) as conn:
        conn.execute("ALTER TABLE articles DROP COLUMN place")  # the articles table as it was
    engine = Engine(Settings(index_dir=index_dir, reader="off"), embedder=HashEmbedder())
    answer = engine.ask(QUESTION).answers[0]
    assert answer.text == BODY.split(" They agreed")[0]
    assert answer.article.place is None  # stored before places were: known again once re-indexed
    engine.close()
    with sqlite3.connect(index_dir / schema.DATABASE) as conn:
        assert "place" in {r[1] for r in conn.execute("PRAGMA table_info(articles)")}
