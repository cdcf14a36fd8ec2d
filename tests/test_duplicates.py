"""Duplicate stories: copies found at index time, one answer per sentence, the other copies as also_in."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from qa.engine import Engine
from qa.ingest import copies as duplicates
from qa.models import Answer, Article, ArticleMeta
from tests.conftest import answering_everything
from tests.news import BRIDGE_OPENED

DISTINCT = (
    "Eastport council will vote next month on a plan to widen the harbour road. The plan would add a "
    "cycle lane and move the bus stop beside the fish market. Traders fear a year of roadworks, while "
    "the council says the change will ease the traffic that builds up every summer weekend."
)


def article(article_id: str, text: str, published: str | None = None) -> Article:
    return Article(
        id=article_id, title=article_id, text=text, source=f"test:{article_id}", published=published
    )


@pytest.mark.parametrize(
    ("copy", "same"),
    [
        (BRIDGE_OPENED, True),
        ("Coastal Wire | 11 March 2005\n\n" + BRIDGE_OPENED + "\n\nAll rights reserved.", True),
        (BRIDGE_OPENED.replace("Thursday", "Thursday morning").replace("About", "Around"), True),
        (BRIDGE_OPENED.rsplit(". ", 1)[0] + ".", True),
        (DISTINCT, False),
    ],
)
def test_signature_similarity_separates_copies_from_other_stories(copy: str, same: bool) -> None:
    """Copies (exact, with header and footer, lightly edited, trimmed) reach the threshold; another
    story of the same town and topic does not."""
    score = duplicates.similarity(duplicates.signature(BRIDGE_OPENED), duplicates.signature(copy))
    assert (score >= duplicates.THRESHOLD) is same, score


def test_copies_are_marked_and_the_first_is_the_original(hash_engine: Engine) -> None:
    """Indexing finds copies: `qa docs` lists each copy's original; other stories are not marked."""
    hash_engine.add_articles([article("a", BRIDGE_OPENED), article("b", DISTINCT)])
    hash_engine.add_articles([article("a2", "By our correspondent\n\n" + BRIDGE_OPENED)])
    hash_engine.add_articles([article("a3", BRIDGE_OPENED + " Share this story.")])
    marks = {d.id: d.duplicate_of for d in hash_engine.documents()}
    assert marks == {"a": None, "b": None, "a2": "a", "a3": "a"}
    assert hash_engine.document("a2")[0].duplicate_of == "a"


def test_removing_the_original_hands_the_story_to_its_oldest_copy(hash_engine: Engine) -> None:
    """When the original goes, the oldest copy becomes the original of the rest."""
    hash_engine.add_articles([article("a", BRIDGE_OPENED)])
    hash_engine.add_articles([article("a2", "Wire: " + BRIDGE_OPENED)])
    hash_engine.add_articles([article("a3", BRIDGE_OPENED + " Share this story.")])
    hash_engine.remove_document("a")
    assert {d.id: d.duplicate_of for d in hash_engine.documents()} == {"a2": None, "a3": "a2"}


def test_an_index_from_before_signatures_gets_them_on_next_write(hash_engine: Engine, tmp_path: Path) -> None:
    """Articles indexed before duplicates were tracked are signed at the next write, oldest first."""
    hash_engine.add_articles([article("a", BRIDGE_OPENED), article("b", DISTINCT)])
    hash_engine.close()
    with sqlite3.connect(hash_engine.settings.index_dir / "meta.sqlite") as conn:
        conn.execute("DELETE FROM article_minhash")
        conn.execute("DELETE FROM article_bands")
        conn.execute("DELETE FROM meta WHERE key = 'minhash'")
    hash_engine.add_articles([article("a2", "Wire: " + BRIDGE_OPENED)])
    assert {d.id: d.duplicate_of for d in hash_engine.documents()} == {"a": None, "b": None, "a2": "a"}


@pytest.mark.parametrize(
    "question",
    [
        "How much did the bridge cost?",
        "How many cars will cross the Eastport bridge?",
        "What did local shops hope?",
        "Who opened the new bridge?",
    ],
)
def test_two_copies_give_one_answer_listing_the_other(news_engine: Engine, question: str) -> None:
    """A sentence found in both copies of a story is answered once, and names the other copy."""
    result = answering_everything(news_engine).ask(question, top_k=3)
    every = result.answers + result.more_answers
    texts = [" ".join(a.text.lower().split()) for a in every]
    assert len(texts) == len(set(texts))
    copies = [a for a in every if a.article.id in ("bridge-opened", "bridge-opened-wire")]
    assert copies, "the story should answer"
    for answer in copies:
        other = {"bridge-opened": "bridge-opened-wire", "bridge-opened-wire": "bridge-opened"}[
            answer.article.id
        ]
        assert [a.id for a in answer.also_in] == [other]
        assert answer.to_dict()["also_in"][0]["source"].endswith("eastport.jsonl")
    assert all(a.also_in == () for a in every if a.article.id not in ("bridge-opened", "bridge-opened-wire"))


def test_one_per_copy_drops_edited_repeats_within_a_story_only() -> None:
    """A lightly edited repeat of a sentence from another copy of the story is dropped; the same words
    from an unrelated story, and similar sentences of one article, are kept."""
    from qa.models import Answer, ArticleMeta

    def answer(article_id: str, text: str) -> Answer:
        meta = ArticleMeta(id=article_id, title=article_id, published=None, source=article_id, url=None)
        return Answer(text=text, span=None, score=0.5, passage=text, article=meta)

    answers = [
        answer("a", "The bridge cost 40 million pounds."),
        answer("a2", "The bridge cost about 40 million pounds."),
        answer("b", "The bridge cost about 40 million pounds."),
        answer("a2", "About 12,000 cars will cross it."),
        answer("a2", "About 12,500 cars will cross it."),
    ]
    kept = duplicates.one_per_copy(answers, {"a": "a", "a2": "a", "b": "b"})
    assert [(a.article.id, a.text) for a in kept] == [
        ("a", "The bridge cost 40 million pounds."),
        ("b", "The bridge cost about 40 million pounds."),
        ("a2", "About 12,000 cars will cross it."),
        ("a2", "About 12,500 cars will cross it."),
    ]


WEEK_2 = "There were 287,700 tonnes of corn shipped in the week ended April 2, the department said."
WEEK_1 = "There were 106,200 tonnes of corn shipped in the week ended March 26, the department said."


def _meta(article_id: str) -> ArticleMeta:
    return ArticleMeta(id=article_id, title=article_id, published=None, source=article_id, url=None)


def test_also_in_lists_only_the_copies_that_state_the_answer() -> None:
    """Two issues of a templated report found as one story: each answer cites only the copy that states
    its figures; a re-sent copy with the same sentence is listed, and repeats are still dropped."""
    texts = {
        "week2": f"Grain report. {WEEK_2} Shipments go on.",
        "week2-again": f"Grain report (repeated). {WEEK_2} Shipments go on.",
        "week1": f"Grain report. {WEEK_1} Shipments go on.",
    }
    answers = [
        Answer(text=WEEK_2, span=None, score=0.6, passage=texts["week2"], article=_meta("week2")),
        Answer(text=WEEK_1, span=None, score=0.5, passage=texts["week1"], article=_meta("week1")),
        Answer(text=WEEK_2, span=None, score=0.4, passage=texts["week2-again"], article=_meta("week2-again")),
    ]
    roots = dict.fromkeys(texts, "week1")
    stories = {"week1": [_meta(i) for i in texts]}
    cited = duplicates.with_copies(answers, roots, stories, texts.__getitem__)
    assert [(a.article.id, [c.id for c in a.also_in]) for a in cited] == [
        ("week2", ["week2-again"]),
        ("week1", []),
    ]


@pytest.mark.parametrize(
    ("sentence", "text", "states"),
    [
        (WEEK_2, f"Report. {WEEK_2}", True),
        (WEEK_2, f"Report. {WEEK_2.replace('the department said', 'it said')}", True),  # a light edit
        (WEEK_2, f"Report. {WEEK_1}", False),  # the same words, other figures
        (WEEK_2, "Corn shipments rose.", False),
    ],
)
def test_a_copy_states_a_sentence_with_its_figures(sentence: str, text: str, states: bool) -> None:
    """A copy states an answer when it holds every figure of the sentence and nearly all its words."""
    assert duplicates.states(sentence, text) is states


def test_figures_written_with_or_without_separators_are_one_figure() -> None:
    """ "before the year 2,000" and "before the year 2000" in two copies are one answer."""
    a = Answer(
        text="Not before the year 2,000, officials said.",
        span=None,
        score=0.6,
        passage="",
        article=_meta("a"),
    )
    b = Answer(
        text="Not before the year 2000, officials said.", span=None, score=0.5, passage="", article=_meta("b")
    )
    assert duplicates.one_per_copy([a, b], {"a": "a", "b": "a"}) == [a]
