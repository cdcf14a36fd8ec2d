"""Which article: the real model over look-alike budget stories cites the one a question is about."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qa.config import Settings
from qa.engine import Engine

# Its module-scoped fixtures are built once: under pytest-xdist the whole module runs on one worker.
pytestmark = pytest.mark.xdist_group("lookalike")

LOOKALIKE = Path(__file__).resolve().parent / "fixtures" / "lookalike"


@pytest.fixture(scope="module")
def lookalike_engine(tmp_path_factory: pytest.TempPathFactory, seed_engine: Engine) -> Iterator[Engine]:
    """The real model, reader and FAISS over six budget stories that share their words and differ in facts."""
    folder = tmp_path_factory.mktemp("lookalike")
    engine = Engine(Settings(index_dir=folder / "index", seeds_dir=None), embedder=seed_engine.embedder)
    report = engine.index_paths([LOOKALIKE])
    assert len(report.added) == len(list(LOOKALIKE.glob("*.txt")))
    yield engine
    engine.close()


@pytest.mark.parametrize(
    ("question", "article", "sentence_start"),
    [
        (
            "How much is the Harlow Creek budget?",
            "harlow-creek-2021.txt",
            "The Harlow Creek Town Council approved a $22.9 million budget",
        ),
        (
            "How many police officers will Stanton hire?",
            "stanton-2020.txt",
            "The largest new item is $4.1 million to hire 12 police officers",
        ),
        (
            "By how much will Eastfield's property tax rate rise?",
            "eastfield-2022.txt",
            "The property tax rate will rise by 4.8 percent",
        ),
        # Both stories say "The property tax rate will rise by ...": the town named decides.
        (
            "By how much will Riverton's property tax rate rise?",
            "riverton-2018.txt",
            "The property tax rate will rise by 1.9 percent",
        ),
        (
            "How many miles of roads will Riverton resurface?",
            "riverton-2018.txt",
            "The largest new item is $2.2 million to resurface 14 miles",
        ),
        # The same town in two years: the year, or a fact only one year has, decides.
        (
            "How much was Millbrook's budget in 2019?",
            "millbrook-2019.txt",
            "The Millbrook Town Council approved a $48.2 million budget",
        ),
        (
            "How much was Millbrook's budget in 2021?",
            "millbrook-2021.txt",
            "The Millbrook Town Council approved a $51.7 million budget",
        ),
        (
            "Which bridge will Millbrook replace?",
            "millbrook-2019.txt",
            "The largest new item is $3.4 million to replace the Elm Street bridge",
        ),
        (
            "How did Millbrook pay for its tax freeze?",
            "millbrook-2021.txt",
            "The property tax rate stays where it was last year",
        ),
    ],
)
def test_lookalike_question_cites_its_article_first(
    lookalike_engine: Engine, question: str, article: str, sentence_start: str
) -> None:
    """The first answer comes from the article the question is about and quotes its answering sentence."""
    result = lookalike_engine.ask(question)
    assert result.answers, f"no answer for {question!r}"
    first = result.answers[0]
    cited = [Path(a.article.source).name for a in result.answers]
    assert cited[0] == article, f"{question!r} cited {cited}"
    assert first.text.startswith(sentence_start), first.text
    assert first.text in lookalike_engine.document(first.article.id)[1]
