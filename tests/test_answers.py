"""Answers from the real model over the seed article: the right sentence, span and source, or abstention."""

from __future__ import annotations

import pytest

from qa.answering.conversation import GREETING, THANKS, Conversation, small_talk
from qa.engine import Engine
from qa.errors import QuestionError
from qa.models import Answer, AnswerSet, ArticleMeta
from tests.conftest import answering_everything


@pytest.mark.parametrize(
    ("question", "sentence_start", "span"),
    [
        ("When did the war start?", "This war initially started on September 27", "September 27"),
        (
            "When did the fighting between Azerbaijan and Armenia begin?",
            "This war initially started",
            "September 27",
        ),
        ("Where did Israel's drones come from?", "Israeli regime’s state media", None),
        ("Who is the president of Azerbaijan?", "Ilham Aliyev, Azerbaijani President", "Ilham Aliyev"),
        (
            "What share of Azerbaijan's arms procurement comes from Israel?",
            "Israeli regime’s state media",
            "60%",
        ),
        ("Which TV channel interviewed Aliyev?", "So, that’s our position", None),
        ("Which country sells weapons to Azerbaijan?", "Israeli regime’s state media", "Israel"),  # README
    ],
)
def test_answers_quote_the_right_sentence(
    seed_engine: Engine, question: str, sentence_start: str, span: str | None
) -> None:
    """The first answer is the answering sentence, quoted verbatim, with its span where one is asked for."""
    result = seed_engine.ask(question)
    assert result.answers, f"no answer for {question!r}"
    first = result.answers[0]
    assert first.text.startswith(sentence_start)
    if span is not None:
        assert first.span_text == span
    assert first.text in first.passage
    article = seed_engine.document(first.article.id)[1]
    assert first.text in article  # every word comes from the article
    assert first.article.title == "Israeli regime pours gas on the fire in Nagorno-Karabakh"
    assert first.article.published == "2020-10-04T17:37:06"
    assert first.article.source == "seeds/000_30a3e569ce88eb0e.txt"
    assert 0.0 <= first.score <= 1.0


@pytest.mark.parametrize(
    "question",
    [
        "What is the boiling point of mercury?",
        "Who won the 2018 World Cup?",
        "How do I bake sourdough bread?",
        "What is the capital of Australia?",
    ],
)
def test_off_topic_questions_abstain(seed_engine: Engine, question: str) -> None:
    """Questions the archive cannot answer get no answer rather than an unrelated sentence."""
    assert seed_engine.ask(question).answers == ()


def test_answer_object_shape(seed_engine: Engine) -> None:
    """`to_dict` has exactly the keys of the documented answer object."""
    data = seed_engine.ask("When did the war start?").to_dict()
    assert set(data) == {"question", "answers", "since", "until", "not_found"}
    assert data["since"] is None and data["until"] is None  # no time in the question
    assert data["not_found"] is None  # there are answers
    answer = data["answers"][0]
    assert set(answer) == {"text", "span", "score", "confidence", "passage", "article", "also_in"}
    assert answer["also_in"] == []
    assert set(answer["article"]) == {"id", "title", "published", "source", "url", "place"}
    start, end = answer["span"]
    assert answer["text"][start:end] == "September 27"


def test_follow_up_questions_keep_the_topic(seed_engine: Engine) -> None:
    """After a question about drones, "Who supplies them?" is still about drones."""
    conversation = Conversation()
    seed_engine.ask("Which drones does Azerbaijan use?", conversation)
    result = seed_engine.ask("Who supplies them?", conversation)
    assert result.rewritten_question is not None and "drones" in result.rewritten_question
    assert result.answers and "drones" in result.answers[0].text


def test_a_new_question_is_not_taken_for_a_follow_up(seed_engine: Engine) -> None:
    """A question of its own after another topic is searched as asked: "the" points back to nothing
    (it made nearly every question a follow-up, carrying the earlier topic's words into it); a
    pronoun or "the same" still does."""
    conversation = Conversation()
    seed_engine.ask("Who supplies the drones?", conversation)
    result = seed_engine.ask("When did the war start?", conversation)
    assert result.rewritten_question is None
    assert result.answers and "September 27" in result.answers[0].text
    again = seed_engine.ask("Is the same true of the rockets?", conversation)
    assert again.rewritten_question is not None and "war" in again.rewritten_question


def test_more_returns_the_next_answers_once(seed_engine: Engine) -> None:
    """`Conversation.more` pages through the answers not shown yet, then runs dry."""
    engine = answering_everything(seed_engine)
    conversation = Conversation()
    first = engine.ask("What did Azerbaijan say about Israel?", conversation, top_k=1)
    assert len(first.answers) == 1
    shown = {first.answers[0].text}
    extra = conversation.more(2)
    assert extra and not shown & {a.text for a in extra}
    while conversation.more(5):
        pass
    assert conversation.more(5) == []


@pytest.mark.parametrize("question", ["", "   ", "\x00\x01", "x" * 100_000])
def test_bad_questions_are_refused(seed_engine: Engine, question: str) -> None:
    """Empty, blank, control-only and absurdly long questions are a QuestionError."""
    with pytest.raises(QuestionError):
        seed_engine.ask(question)


@pytest.mark.parametrize("question", ["Когда началась война?", "战争什么时候开始？"])
def test_questions_in_other_scripts_abstain(seed_engine: Engine, question: str) -> None:
    """The English model cannot read other scripts: such a question gets no answer, not an unrelated one."""
    result = seed_engine.ask(question)
    assert result.question == question
    assert result.answers == () and result.abstained


@pytest.mark.parametrize(
    ("with_emoji", "plain"),
    [
        ("When did the war start? 🚀🔥", "When did the war start?"),
        ("When did the 🚀 war start?", "When did the war start?"),
    ],
)
def test_emoji_do_not_change_the_answers(seed_engine: Engine, with_emoji: str, plain: str) -> None:
    """Emoji in a question leave its answers as they are without them."""
    expected = [a.text for a in seed_engine.ask(plain).answers]
    assert expected, f"{plain!r} should be answered"
    assert [a.text for a in seed_engine.ask(with_emoji).answers] == expected


def test_a_follow_up_withholds_any_answer_shown_for_the_last_question() -> None:
    """Every answer shown for the last question counts as said, not only the first; the same sentence
    with another span emphasised is new (another fact of it was asked)."""
    meta = ArticleMeta("a1", "Texaco files", "1987-04-13", "texaco.html", None)
    sentence = "Texaco said its chief trial lawyer, Richard B. Miller, filed the motion in Houston."

    def answer(text: str, span: str | None) -> Answer:
        at = None if span is None else (text.index(span), text.index(span) + len(span))
        return Answer(text=text, span=at, score=0.5, passage=text, article=meta)

    conversation = Conversation()
    shown = (
        answer("Texaco filed for protection on Sunday.", "Sunday"),
        answer(sentence, "Richard B. Miller"),
    )
    conversation.record(
        "Who filed the motion?", "Who filed the motion?", AnswerSet("Who filed the motion?", shown)
    )
    again, other_span = answer(sentence, "Richard B. Miller"), answer(sentence, "Houston")
    new, repeats = conversation.withhold_repeats([again, other_span])
    assert new == [other_span] and repeats == [again]


@pytest.mark.parametrize(
    ("said", "reply"),
    [
        ("hi", GREETING),
        ("Hello there!", GREETING),
        ("Good morning", GREETING),
        ("thanks!", THANKS),
        ("Thank you very much 👍", THANKS),
        ("Hi, when did the war start?", None),
        ("Thanks to whom did the ceasefire hold?", None),
        ("ok", None),
    ],
)
def test_a_greeting_or_thanks_alone_is_small_talk(said: str, reply: str | None) -> None:
    """A message that is only a greeting or thanks gets a word back, not "I couldn't find that"; one
    that holds a question is a question."""
    assert small_talk(said) == reply
