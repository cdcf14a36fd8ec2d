"""Time in questions, end to end: relative phrases and filters limit the articles searched, dates favour
them; "latest" orders them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from qa.answering.conversation import Conversation
from qa.config import Settings
from qa.engine import Engine
from qa.errors import QuestionError
from qa.models import Article, Mode, TimeWindow
from tests.conftest import answering_everything
from tests.embedders import HashEmbedder

AS_OF = date(2005, 6, 15)


@pytest.mark.parametrize(
    ("question", "articles", "answer"),
    [
        ("How much did the bridge cost in 2004?", {"council-plan"}, "35 million pounds"),
        (
            "How much did the bridge cost in March 2005?",
            {"bridge-opened", "bridge-opened-wire"},
            "40 million",
        ),
        (
            "How much did the bridge cost between January and March?",
            {"bridge-opened", "bridge-opened-wire"},
            "40",
        ),
        ("What did engineers find in the bridge yesterday?", {"bridge-closed"}, "cracks"),
        ("Why was the bridge closed this week?", {"bridge-closed"}, "cracks"),
    ],
)
def test_time_phrase_answers_from_its_period(
    news_engine: Engine, question: str, articles: set[str], answer: str
) -> None:
    """Every answer comes from an article published in the phrase's period (a date's: or just after
    it), where one answers, and the best one answers."""
    result = news_engine.ask(question, as_of=AS_OF)
    assert result.answers, question
    assert answer in result.answers[0].text
    assert {a.article.id for a in result.answers + result.more_answers} <= articles


def test_dates_are_searched_as_words_and_relative_phrases_are_not(news_engine: Engine) -> None:
    """A date stays in the searched question (stories name it); "this week" is searched without."""
    assert (
        news_engine.ask("How much did the bridge cost in March 2005?", as_of=AS_OF).rewritten_question is None
    )
    result = news_engine.ask("Why was the bridge closed this week?", as_of=AS_OF)
    assert result.rewritten_question == "Why was the bridge closed?"


def test_empty_period_abstains_and_says_which_days(news_engine: Engine) -> None:
    """When nothing was published in the period the bot says so, naming the days it searched."""
    result = news_engine.ask("What happened to the bridge last week?", as_of=AS_OF)
    assert result.abstained
    assert result.not_found == "I couldn't find that in the articles published from 2005-06-06 to 2005-06-12."
    assert result.to_dict()["since"] == "2005-06-06" and result.to_dict()["until"] == "2005-06-12"


def test_a_period_after_the_archive_names_its_newest_day(news_engine: Engine) -> None:
    """Relative words count from today: asked of an archive of older news, the refusal says that
    the archive ends before the days searched; within the archive's time it does not."""
    result = news_engine.ask("What happened to the bridge last week?", as_of=date(2026, 12, 7))
    assert result.not_found == (
        "I couldn't find that in the articles published from 2026-11-30 to 2026-12-06: "
        "the newest article in the archive is from 2005-06-14."
    )
    assert result.to_dict()["not_found"] == result.not_found


def test_explicit_filters_limit_answers_and_combine_with_phrases(news_engine: Engine) -> None:
    """since/until (both inclusive) limit the articles; with a phrase, both must hold."""
    result = news_engine.ask(
        "How much did the bridge cost?", since=date(2004, 1, 1), until=date(2004, 12, 31)
    )
    assert {a.article.id for a in result.answers} == {"council-plan"}
    both = news_engine.ask("How much did the bridge cost in 2005?", until=date(2005, 3, 10), as_of=AS_OF)
    assert {a.article.id for a in both.answers} == {"bridge-opened"}
    later = news_engine.ask("How much did it cost in 2004?", since=date(2005, 1, 1), as_of=AS_OF)
    assert "council-plan" not in {a.article.id for a in later.answers + later.more_answers}


def test_since_after_until_is_refused(news_engine: Engine) -> None:
    """A filter window that ends before it starts is a question error, not an empty answer."""
    with pytest.raises(QuestionError, match="after until"):
        news_engine.ask("How much did the bridge cost?", since=date(2005, 2, 1), until=date(2005, 1, 1))


def test_undated_articles_are_searched_without_a_window(news_engine: Engine) -> None:
    """An article without a date answers questions without a relative phrase or filter (a date only
    favours the articles of its period), and none with one."""
    for question in ("Who started the ferry service?", "Who started the ferry service in 2005?"):
        found = news_engine.ask(question, as_of=AS_OF)
        assert found.answers[0].article.id == "ferry-history" and "Thomas Ashby" in found.answers[0].text
        assert found.window is None  # nothing published in or after 2005 answered: the whole archive did
    assert news_engine.ask("Who started the ferry service this year?", as_of=AS_OF).abstained
    assert news_engine.ask("Who started the ferry service?", since=date(2004, 1, 1)).abstained


def test_relative_phrases_follow_as_of(news_engine: Engine) -> None:
    """ "Yesterday" is the day before as_of (today when none is given)."""
    question = "What did engineers find in the bridge yesterday?"
    found = news_engine.ask(question, as_of=AS_OF)
    assert found.window is not None and (found.window.since, found.window.until) == (
        date(2005, 6, 14),
        date(2005, 6, 15),
    )
    assert not found.abstained and found.answers[0].article.id == "bridge-closed"
    assert news_engine.ask(question, as_of=date(2005, 6, 20)).abstained


@pytest.mark.parametrize(
    ("question", "plain"),
    [
        ("What is the latest news about the Eastport bridge?", "What is the news about the Eastport bridge?"),
        ("What's the newest on the Eastport bridge?", "What is there on the Eastport bridge?"),
    ],
)
def test_latest_puts_the_newest_answering_article_first(
    news_engine: Engine, question: str, plain: str
) -> None:
    """ "Latest" ranks the newest article on the topic first; without it the best match leads."""
    engine = answering_everything(news_engine)
    assert engine.ask(question).answers[0].article.id == "bridge-closed"
    assert engine.ask(plain).answers[0].article.id != "bridge-closed"


@pytest.mark.parametrize(
    "question",
    ["What was the latest news about the Eastport bridge?", "What is the latest on the Eastport bridge?"],
)
def test_latest_news_leads_with_the_newest_story_on_the_topic(news_engine: Engine, question: str) -> None:
    """Asked for the latest on a topic the archive holds, the newest story on it comes first, sure or
    not: the reader finds no fact to match in "the news about the bridge", so its reading of that
    story falls below the threshold; other stories on the topic follow, newest first."""
    result = news_engine.ask(question, top_k=5)
    assert result.answers[0].article.id == "bridge-closed"
    days = [a.article.published for a in result.answers if a.article.published]
    assert days == sorted(days, reverse=True)
    assert news_engine.ask("What was the latest news about the Karabakh ceasefire?").abstained


def test_latest_news_answers_when_the_archive_has_news_on_the_topic(news_engine: Engine) -> None:
    """ "The latest news about the ferry" asks for no fact, so no reading of the ferry's story passes the
    threshold: its words in a passage show the archive has news on it. A topic whose words no passage
    holds together ("the Eastport tunnel": the archive has Eastport and a bridge) is refused."""
    ferry = news_engine.ask("What is the latest news about the ferry?")
    assert [a.article.id for a in ferry.answers] == ["ferry-history"]
    assert news_engine.ask("What is the latest news about the Eastport tunnel?").abstained


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_search_within_a_window_finds_the_few_articles_inside_it(hash_engine: Engine, mode: Mode) -> None:
    """A window that excludes nearly the whole archive still returns the passages inside it."""
    old = [
        {
            "id": f"old-{n}",
            "title": f"Bridge works {n}",
            "published": "2004-05-01",
            "text": f"Bridge works go on {n}.",
        }
        for n in range(80)
    ]
    new = {
        "id": "new",
        "title": "Harbour",
        "published": "2005-05-01",
        "text": "A bridge toll starts in the harbour.",
    }
    hash_engine.add_articles([_article(a) for a in [*old, new]])
    found = hash_engine.search("bridge works", k=5, mode=mode, since=date(2005, 1, 1))
    assert [p.article.id for p in found] == ["new"]
    assert len(hash_engine.search("bridge works", k=5, mode=mode, until=date(2004, 12, 31))) == 5


def test_archive_without_dates_reads_time_words_as_words(tmp_path: Path) -> None:
    """Where no article has a date, "in 1821" is part of the question, not a filter that hides everything."""
    engine = Engine(Settings(index_dir=tmp_path / "index", seeds_dir=None), embedder=HashEmbedder())
    engine.add_articles([_article({"id": "ferry", "title": "Ferry", "text": "The ferry started in 1821."})])
    result = engine.ask("What started in 1821?")
    assert result.window is None and result.rewritten_question is None
    assert result.passages and result.passages[0].article.id == "ferry"


WIRE = (  # invented wire stories of 1987 (id, published, text): a month's figures come out weeks after it
    ("retail-jan", "1987-02-24T09:10:00", "PARIS, Feb 24 - French retail sales fell 2.1 pct in January after "
     "a 1.4 pct rise in December, the national statistics institute said. It blamed the cold weather."),
    ("cars-jan", "1987-01-20T11:00:00", "PARIS, Jan 20 - New car registrations in France rose 12 pct in "
     "December from a year earlier, the car makers' association said."),
    ("retail-may", "1987-06-23T09:10:00", "PARIS, June 23 - French retail sales rose 1.5 pct in May after a "
     "0.8 pct fall in April, the national statistics institute said. Clothing led the rise."),
    ("wheat-apr", "1987-04-07T15:30:00", "KANSAS CITY, April 7 - Prairie Grain Co sold one mln bushels of "
     "May hard wheat futures at the Kansas City Board of Trade, traders said."),
    ("wheat-aug", "1987-08-07T15:30:00", "KANSAS CITY, Aug 7 - Harvest Mills Inc sold two mln bushels of "
     "September hard wheat futures at the Kansas City Board of Trade, traders said."),
    ("steel-mar28", "1987-04-04T10:00:00", "WASHINGTON, April 4 - U.S. raw steel mills produced 1,840,000 "
     "tonnes of steel in the week ended March 28, the American Iron and Steel Institute said."),
    ("steel-apr4", "1987-04-10T10:00:00", "WASHINGTON, April 10 - Raw steel production by U.S. mills was "
     "1,795,000 tonnes in the week ended April 4, up 1.2 pct from a year earlier, the institute reported."),
)  # fmt: skip


@pytest.fixture(scope="module")
def wire_engine(tmp_path_factory: pytest.TempPathFactory, seed_engine: Engine) -> Engine:
    """The real model over a few wire stories of 1987 (today is long past them)."""
    folder = tmp_path_factory.mktemp("wire")
    engine = Engine(Settings(index_dir=folder / "index", seeds_dir=None), embedder=seed_engine.embedder)
    engine.add_articles([_article({"id": i, "title": i, "published": p, "text": t}) for i, p, t in WIRE])
    return engine


def test_a_month_is_answered_by_the_story_published_after_it(wire_engine: Engine) -> None:
    """ "In January 1987" finds January's figures in a story published in February."""
    result = wire_engine.ask("How much did French retail sales fall in January 1987?")
    assert result.answers and result.answers[0].article.id == "retail-jan"
    assert "2.1 pct" in result.answers[0].text
    assert result.window == TimeWindow(date(1986, 12, 31), date(1987, 3, 29))  # January, then eight weeks


def test_a_date_without_a_year_falls_in_the_archive(wire_engine: Engine) -> None:
    """ "On April 7", asked long after the archive's last story, is April 7 of the archive's year."""
    result = wire_engine.ask("Which company sold hard wheat futures on April 7?")
    assert result.window is not None and result.window.since == date(1987, 4, 6)
    assert result.answers and result.answers[0].article.id == "wheat-apr"
    assert "Prairie Grain" in result.answers[0].text


def test_an_answer_naming_the_asked_period_comes_before_one_naming_another(wire_engine: Engine) -> None:
    """Two weekly reports read alike; the one whose sentence names the asked week answers first."""
    result = answering_everything(wire_engine).ask(
        "How much raw steel did U.S. mills produce in the week ending April 4?"
    )
    ids = [a.article.id for a in result.answers + result.more_answers]
    assert ids[0] == "steel-apr4" and "steel-mar28" in ids  # both read; the other week's report after
    assert "1,795,000" in result.answers[0].text
    # the sources line up with the answers: the passage quoted first is listed first
    assert result.passages[0].article.id == "steel-apr4"


def test_since_and_until_still_exclude_what_a_date_favours(wire_engine: Engine) -> None:
    """--since/--until stay hard limits: the story that answers is never read outside them."""
    question = "How much did French retail sales fall in January 1987?"
    early = wire_engine.ask(question, until=date(1987, 1, 31))
    assert {a.article.id for a in early.answers + early.more_answers} <= {"cars-jan"}
    assert {p.article.id for p in early.passages} == {"cars-jan"}
    late = wire_engine.search(question, since=date(1987, 6, 1))
    assert {p.article.id for p in late} == {"retail-may", "wheat-aug"}


def _article(record: dict[str, str]) -> Article:
    return Article(
        id=record["id"],
        title=record["title"],
        text=record["text"],
        source=f"test:{record['id']}",
        published=record.get("published"),
    )


def test_a_follow_up_of_time_words_only_asks_the_last_question_of_that_time(news_engine: Engine) -> None:
    """ "And in November 2004?" after "How much did the bridge cost in March 2005?" asks how much the
    bridge cost in November 2004: the last question without its own dates, of the new ones."""
    conversation = Conversation()
    first = news_engine.ask("How much did the bridge cost in March 2005?", conversation, as_of=AS_OF)
    assert "40 million" in first.answers[0].text
    again = news_engine.ask("And in November 2004?", conversation, as_of=AS_OF)
    assert again.rewritten_question == "How much did the bridge cost in November 2004?"
    assert again.answers and again.answers[0].article.id == "council-plan"
    assert "35 million" in again.answers[0].text


def test_latest_news_finds_the_newest_story_below_the_best_matches(
    seed_engine: Engine, tmp_path: Path
) -> None:
    """Two dozen stories all about the harbour rank above the newest one, which names the harbour
    once among other news: "the latest news about the harbour" still leads with that newest story
    (a deeper pool is searched for stories holding the topic's words, and the newest are read)."""
    stories = [
        Article(
            f"h{n:02d}",
            f"Harbour dues review {n}",
            "The Wenn harbour board met again about harbour dues. Harbour users said the harbour dues of "
            f"the harbour were too high, harbour master number {n} said.",
            "harbour.jsonl",
            published=f"200{4 + n // 12}-{n % 12 + 1:02d}-05T10:00:00",
        )
        for n in range(24)
    ]
    newest = Article(
        "council-budget",
        "Council budget",
        "The council set its budget for schools, roads and parks on Monday. It also agreed that the old "
        "harbour would be closed to ships from May. Libraries will open longer on Saturdays.",
        "council.jsonl",
        published="2006-03-01T10:00:00",
    )
    engine = Engine(Settings(index_dir=tmp_path / "index", seeds_dir=None), embedder=seed_engine.embedder)
    try:
        engine.add_articles([*stories, newest])
        result = engine.ask("What is the latest news about the harbour?")
        assert result.answers[0].article.id == "council-budget"
        assert "harbour would be closed" in result.answers[0].text
    finally:
        engine.close()
