"""How sure an answer is, said the same way by every front end, and follow-ups that add nothing."""

from __future__ import annotations

import pytest
from rich.console import Console

from bots.cli.render import print_passages, print_result
from qa.answering.conversation import Conversation
from qa.engine import Engine
from qa.models import confidence_label
from tests.conftest import answering_everything


@pytest.mark.parametrize(
    ("score", "label"), [(0.95, "sure"), (0.7, "sure"), (0.69, "likely"), (0.4, "likely"), (0.39, "unsure")]
)
def test_confidence_label_reads_the_score(score: float, label: str) -> None:
    """Scores map to sure (0.7 and up), likely (0.4 and up) or unsure."""
    assert confidence_label(score) == label


def test_answer_json_carries_its_confidence(seed_engine: Engine) -> None:
    """The answer object (qa ask --json, POST /ask) has the confidence word beside the score."""
    answer = seed_engine.ask("When did the war start?").answers[0]
    assert answer.to_dict()["confidence"] == confidence_label(answer.score)


def test_terminal_labels_answer_and_passage_scores_apart(seed_engine: Engine) -> None:
    """Answers show their confidence and answer score; /sources passages a differently named match."""
    result = seed_engine.ask("When did the war start?")
    console = Console(width=400, record=True)
    print_result(console, result)
    print_passages(console, result.passages[:1])
    shown = console.export_text()
    first = result.answers[0]
    assert f"({first.confidence}, answer score {first.score:.2f})" in shown
    assert f"(passage match {result.passages[0].score:.2f}, not an answer score)" in shown
    assert "(score " not in shown


def test_follow_up_never_repeats_an_answer_as_new(seed_engine: Engine) -> None:
    """A follow-up leaves out the answer just given; when that is all it finds, it says nothing is new."""
    engine = answering_everything(seed_engine)
    conversation = Conversation()
    first = engine.ask("When did the war start?", conversation).answers[0]
    follow = engine.ask("And when did it start?", conversation)
    assert follow.rewritten_question is not None
    assert first.text not in [a.text for a in follow.answers + follow.more_answers]
    assert first.text in [a.text for a in follow.repeats]
    assert follow.answers or follow.nothing_new
    console = Console(width=400, record=True)
    print_result(console, follow)
    if follow.nothing_new:
        assert "Nothing new" in console.export_text()
