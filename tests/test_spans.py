"""The span inside an answer sentence: what the question asks for, not what it already names."""

from __future__ import annotations

import pytest

from qa.answering.spans import find_span, is_country, question_type

SENTENCE = "Ilham Aliyev, Azerbaijani President, said on October 4 that Israel supplied 30 drones."


def span_of(question: str, sentence: str = SENTENCE) -> str | None:
    found = find_span(question, sentence)
    return sentence[found[0] : found[1]] if found else None


@pytest.mark.parametrize(
    ("question", "kind", "span"),
    [
        ("When did Aliyev speak?", "date", "October 4"),
        ("How many drones did Israel supply?", "number", "30 drones"),
        ("Who is the president of Azerbaijan?", "person", "Ilham Aliyev"),
        ("Who supplied the drones?", "person", "Israel"),
        ("Why did the war start?", None, None),
    ],
)
def test_find_span_by_question_type(question: str, kind: str | None, span: str | None) -> None:
    assert question_type(question) == kind
    assert span_of(question) == span


def test_a_country_answers_who_supplies_but_is_not_who_the_president_is() -> None:
    sentence = "The president's adviser thanked Israel for the security cooperation."
    assert span_of("Who supplies the drones?", sentence) == "Israel"
    assert span_of("Who is the president of Azerbaijan?", sentence) is None


@pytest.mark.parametrize(
    ("name", "country"),
    [("Israel", True), ("Azerbaijani", True), ("Armenians", True), ("the United States", True),
     ("Chinese", True), ("Ilham Aliyev", False), ("Brian", False), ("Adrian", False), ("Paris", False)],
)  # fmt: skip
def test_is_country(name: str, country: bool) -> None:
    assert is_country(name) is country
