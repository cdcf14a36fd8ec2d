"""Odd questions and odd passages get an answer or a refusal from the real reader, never an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.config import Settings
from qa.engine import Engine
from qa.models import AnswerSet, Article

FIGURES = """Quarterly results (mln dlrs)

              Q1      Q2      Q3      Q4
Revenue    1,204   1,311   1,287   1,402
Net         88.1    91.4    -12.0   101.7
Shares      42.0    42.1    42.1    42.3
"""


@pytest.fixture(scope="module")
def odd_engine(tmp_path_factory: pytest.TempPathFactory, seed_engine: Engine) -> Engine:
    """The real model and reader over the seed article and a story that is only a table of figures."""
    folder = tmp_path_factory.mktemp("odd")
    engine = Engine(Settings(index_dir=folder / "index", seeds_dir=None), embedder=seed_engine.embedder)
    engine.index_paths([seed_engine.settings.seeds_dir or Path()])
    engine.add_articles(
        [Article(id="figures", title="RESULTS TABLE", text=FIGURES, source="figures.txt", published=None)]
    )
    return engine


def spans_say_something(result: AnswerSet) -> bool:
    """Every answer's quoted span (or sentence) holds a letter or a digit."""
    return all(any(ch.isalnum() for ch in (a.span_text or a.text)) for a in result.answers)


@pytest.mark.parametrize(
    "question",
    [
        "Drones?",  # one word
        "Armenia",  # one word, a name the article holds
        "¿Cuándo empezó la guerra entre Azerbaiyán y Armenia?",  # another language
        "Когда началась война?",  # another alphabet
        "September 27",  # only a date
        "2020",  # only a year
        "What was net income in the third quarter?",  # the answer is in a table of figures
        "Q3?",
    ],
)
def test_odd_questions_get_an_answer_or_a_refusal(odd_engine: Engine, question: str) -> None:
    """No error, and no answer whose span is only punctuation or spaces."""
    result = odd_engine.ask(question)
    assert spans_say_something(result), [(a.text, a.span_text) for a in result.answers]
    for answer in result.answers:
        assert answer.text in answer.passage


LONG = "What did the adviser to the president of Azerbaijan say about the drones imported from Israel? "


@pytest.mark.parametrize(
    "question",
    [
        LONG * 10,  # about 1,000 characters of words: 190 word pieces, more than a window holds
        "drones " * 140,  # one word again and again
        "x" * 999 + "?",  # one long unknown word
        "«" + "»" * 998,  # only punctuation
    ],
)
def test_a_question_at_the_longest_allowed_gets_an_answer_or_a_refusal(
    odd_engine: Engine, question: str
) -> None:
    """A question as long as QA_MAX_QUESTION_CHARS allows is read up to its first 64 word pieces
    (the tokenizer refused a pair whose question left no room for the passage: a traceback), and
    retrieval still reads all of it."""
    assert len(question) <= odd_engine.settings.max_question_chars
    result = odd_engine.ask(question)
    assert spans_say_something(result)
    if question.startswith(LONG):
        assert result.answers and "drones" in result.answers[0].text
