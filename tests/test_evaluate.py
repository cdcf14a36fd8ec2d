"""Metric functions of ``qa eval`` on hand-made cases, and the metric object on a tiny dataset."""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import tempfile
from pathlib import Path

import pytest

from bots.cli.render import format_by_type, format_table
from qa.config import Settings
from qa.engine import Engine
from qa.errors import ConfigError
from qa.eval.evaluate import (
    METRIC_KEYS,
    TYPE_KEYS,
    Query,
    Scoreboard,
    Tally,
    article_of,
    documents_without,
    evaluate_dataset,
    is_absent,
    load_queries,
)
from qa.eval.metrics import (
    contains_answer,
    document_ranking,
    exact_match,
    f1_score,
    first_gold_rank,
    ndcg_at,
    normalize_answer,
    percentile,
    recall_at,
)
from qa.models import Answer, AnswerSet, ArticleMeta, Passage
from tests.embedders import HashEmbedder
from tests.news import write_benchmark


def meta(doc_id: str) -> ArticleMeta:
    return ArticleMeta(id=doc_id, title=doc_id, published=None, source="test", url=None)


def passage(doc_id: str, chunk_id: int) -> Passage:
    return Passage(chunk_id=chunk_id, text="t", score=0.5, article=meta(doc_id), sentences=((0, 1),))


def answer(text: str, span: tuple[int, int] | None = None) -> Answer:
    return Answer(text=text, span=span, score=0.9, passage=text, article=meta("d1"))


def test_squad_normalisation() -> None:
    assert normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert normalize_answer("an apple, a pear") == "apple pear"
    assert normalize_answer("Theory") == "theory"  # "the" only as a whole word
    assert exact_match("the Denver Broncos.", "Denver Broncos") == 1.0
    assert exact_match("Broncos", "Denver Broncos") == 0.0


def test_f1_counts_shared_tokens() -> None:
    assert f1_score("Denver Broncos", "Denver Broncos") == 1.0
    assert f1_score("Broncos", "Denver Broncos") == pytest.approx(2 / 3)
    assert f1_score("Carolina Panthers", "Denver Broncos") == 0.0
    assert f1_score("", "") == 1.0
    assert f1_score("the", "Broncos") == 0.0  # normalises to empty


def test_contains_answer_is_case_insensitive() -> None:
    assert contains_answer("It started on September 27.", ["september 27"])
    assert not contains_answer("It started in autumn.", ["September 27", " "])


def test_document_ranking_counts_the_first_passage_of_each_document() -> None:
    passages = [passage("a", 1), passage("a", 2), passage("b", 3), passage("c", 4)]
    ranking = document_ranking(passages)
    assert ranking == ["a", "b", "c"]
    assert first_gold_rank(ranking, ["b"]) == 2
    assert first_gold_rank(ranking, ["c", "b"]) == 2
    assert first_gold_rank(ranking, ["z"]) is None


def test_ndcg_and_recall() -> None:
    assert ndcg_at(["a", "b", "c"], ["a"]) == 1.0
    assert ndcg_at(["x", "a"], ["a"]) == pytest.approx(1 / math.log2(3))
    assert ndcg_at(["x", "a", "b"], ["a", "b"]) == pytest.approx(
        (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    )
    assert ndcg_at(["x"], []) == 0.0
    assert recall_at(["a", "x", "b"], ["a", "b"], 2) == 0.5
    assert recall_at(["a", "x", "b"], ["a", "b"], 3) == 1.0


def test_percentile_interpolates() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([0.0, 10.0], 95) == pytest.approx(9.5)


def test_tally_scores_answers_abstentions_and_ranks() -> None:
    tally = Tally(has_answers=True, has_impossible=True)
    gold = Query("1", "When?", ("September 27",), ("d1",), "dev", impossible=False)
    sentence = "The war started on September 27 in the morning."
    got = AnswerSet("When?", (answer(sentence, (19, 31)),), passages=(passage("x", 1), passage("d1", 2)))
    tally.add(gold, got, document_ranking(got.passages), 0.010)
    impossible = Query("2", "Why?", (), ("d2",), "dev", impossible=True)
    tally.add(impossible, AnswerSet("Why?", ()), ["d2"], 0.030)
    m = tally.metrics()
    assert list(m) == list(METRIC_KEYS)
    assert m["questions"] == 2
    assert m["recall@1"] == 0.5 and m["recall@5"] == 1.0
    assert m["mrr@10"] == 0.75
    assert m["answer_hit@1"] == 1.0 and m["exact_match"] == 1.0 and m["f1"] == 1.0
    assert m["answer_chars"] == len(sentence)
    assert m["abstain_accuracy"] == 1.0
    assert m["ndcg@10"] is None and m["recall@100"] is None
    assert m["latency_ms_p50"] == pytest.approx(20.0)
    table = format_table(m)
    assert "abstain accuracy" in table and "nDCG@10" not in table


def test_span_less_answer_is_scored_on_its_whole_text() -> None:
    tally = Tally(has_answers=True)
    query = Query("1", "Who?", ("Denver Broncos",), ("d1",), "dev", impossible=None)
    tally.add(query, AnswerSet("Who?", (answer("Denver Broncos"),)), ["d1"], 0.001)
    m = tally.metrics()
    assert m["exact_match"] == 1.0
    assert m["abstain_accuracy"] is None


def test_claims_without_answers_get_ndcg_only() -> None:
    tally = Tally(has_answers=False)
    query = Query("1", "A claim.", (), ("d1", "d2"), "dev", impossible=None)
    tally.add(query, AnswerSet("A claim.", ()), ["d1", "x", "d2"], 0.001)
    m = tally.metrics()
    assert m["answer_hit@1"] is None and m["exact_match"] is None and m["answer_chars"] is None
    assert m["recall@100"] == 1.0
    assert m["ndcg@10"] == pytest.approx((1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)), abs=1e-4)


def test_load_queries_filters_the_split_and_spreads_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "queries.jsonl"
    rows = [{"id": str(i), "question": f"q{i}?", "answers": [], "doc_ids": ["d"],
             "split": "dev" if i % 2 == 0 else "test"} for i in range(20)]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert len(load_queries(path, "all")) == 20
    dev = load_queries(path, "dev")
    assert [q.id for q in dev] == [str(i) for i in range(0, 20, 2)]
    assert [q.id for q in load_queries(path, "dev", limit=2)] == ["0", "10"]
    path.write_text('{"id": 1}\n', encoding="utf-8")
    with pytest.raises(ConfigError):
        load_queries(path)


def test_absent_articles_are_chosen_by_a_stable_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--absent` leaves out whole articles (all their paragraphs), the same ones on every run."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # its copy of the kept half: not in the real /tmp
    rows = [
        {"id": f"{article}_{n}", "title": article, "text": "x"} for article in "ABCDEFGH" for n in range(3)
    ]
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    kept_file, dropped = documents_without(docs, 0.5)
    again, dropped_again = documents_without(docs, 0.5)
    assert (kept_file, dropped) == (again, dropped_again)
    assert kept_file.is_relative_to(tmp_path / "qa-eval")
    kept = {json.loads(line)["id"] for line in kept_file.read_text().splitlines()}
    assert kept | dropped == {r["id"] for r in rows} and not kept & dropped
    assert {article_of(d) for d in kept}.isdisjoint({article_of(d) for d in dropped})
    assert 0 < len(dropped) < len(rows)
    assert all(is_absent(article_of(d), 0.5) for d in dropped)
    assert not is_absent("A", 0.0) and is_absent("A", 1.0)


def test_a_question_about_an_absent_article_counts_only_its_refusal() -> None:
    """Refusing it is right, answering it is wrong; it adds nothing to ranking or answer metrics."""
    tally = Tally(has_answers=True, has_impossible=True, leaves_out=True)
    query = Query("q1", "When?", ("1932",), ("d9",), "test", None)
    tally.add(query, AnswerSet("When?", ()), [], 0.01, absent=True)
    tally.add(query, AnswerSet("When?", (answer("It opened in 1932."),)), ["d1"], 0.01, absent=True)
    metrics = tally.metrics()
    assert metrics["abstain_accuracy"] == 0.5 and metrics["absent_refused"] == 0.5
    assert metrics["recall@1"] is None and metrics["exact_match"] is None


def test_with_absent_articles_an_answerable_question_counts_as_squad_v2_does() -> None:
    """`--absent`: a question about a kept article is right only when answered with a gold answer,
    as squad-v2.0 counts it; a refusal or a wrong answer is wrong."""
    tally = Tally(has_answers=True, has_impossible=True, leaves_out=True)
    kept = Query("q2", "When did it open?", ("1932",), ("d1",), "test", None)
    tally.add(kept, AnswerSet("When?", (answer("It opened in 1932."),)), ["d1"], 0.01)
    tally.add(kept, AnswerSet("When?", (answer("It closed in 1990."),)), ["d1"], 0.01)
    tally.add(kept, AnswerSet("When?", ()), ["d1"], 0.01)
    gone = Query("q3", "When did it open?", ("1932",), ("d9",), "test", None)
    tally.add(gone, AnswerSet("When?", ()), [], 0.01, absent=True)
    metrics = tally.metrics()
    assert metrics["abstain_accuracy"] == 0.5  # 1 of 3 kept, 1 of 1 gone
    assert metrics["absent_refused"] == 1.0
    assert metrics["answer_hit@1"] == round(1 / 3, 4)


def test_without_absent_there_is_no_refusal_share() -> None:
    tally = Tally(has_answers=True)
    tally.add(Query("q", "When?", ("1932",), ("d1",), "test", None), AnswerSet("When?", ()), ["d1"], 0.01)
    assert tally.metrics()["absent_refused"] is None and tally.metrics()["abstain_accuracy"] is None


def test_tally_counts_an_unanswerable_news_question_only_in_abstain_accuracy() -> None:
    """An impossible question with no gold document is right when refused and adds no rank or answer score."""
    tally = Tally(has_answers=True, has_impossible=True)
    gold = Query("a", "When?", ("1932",), ("d1",), "dev", None)
    tally.add(gold, AnswerSet("When?", (answer("It opened in 1932."),)), ["d1"], 0.01)
    off = Query("b", "Who?", (), (), "dev", impossible=True)
    tally.add(off, AnswerSet("Who?", ()), [], 0.01)
    tally.add(off, AnswerSet("Who?", (answer("Someone else."),)), ["d1"], 0.01)
    m = tally.metrics()
    assert m["questions"] == 3 and m["abstain_accuracy"] == 0.5
    assert m["recall@1"] == 1.0 and m["mrr@10"] == 1.0
    assert (
        m["answer_hit@1"] == 1.0
        and m["exact_match"] == 0.0
        and m["answer_chars"] == len("It opened in 1932.")
    )


def test_load_queries_reads_the_question_type(tmp_path: Path) -> None:
    """A question's ``type`` is kept; a dataset without one gives None."""
    path = tmp_path / "queries.jsonl"
    rows = [{"id": "1", "question": "Who?", "answers": ["Ann"], "doc_ids": ["d"], "type": "who"},
            {"id": "2", "question": "Why?", "answers": [], "doc_ids": [], "is_impossible": True}]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert [(q.type, q.impossible) for q in load_queries(path)] == [("who", None), (None, True)]


def test_a_question_with_no_answers_and_no_documents_is_unanswerable(tmp_path: Path) -> None:
    """Without ``is_impossible``, a question that names neither answers nor documents is about nothing
    the archive holds; one that names documents stays as the dataset gives it."""
    path = tmp_path / "queries.jsonl"
    rows = [{"id": "1", "question": "Who?", "answers": ["Ann"], "doc_ids": ["d"]},
            {"id": "2", "question": "Which claim?", "answers": [], "doc_ids": ["d"]},
            {"id": "3", "question": "Who won in 2030?", "answers": [], "doc_ids": []},
            {"id": "4", "question": "Who won in 2031?"},
            {"id": "5", "question": "Who?", "answers": [], "is_impossible": False}]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert [q.impossible for q in load_queries(path)] == [None, None, True, True, False]


def test_scoreboard_reports_answer_hits_by_type() -> None:
    """Each type gets its questions, answer hits and abstain accuracy; unanswerable ones without a type
    are grouped as "unanswerable"."""
    board = Scoreboard(Tally(has_answers=True, has_impossible=True), typed=True)
    who = Query("1", "Who?", ("Ann Lee",), ("d1",), "dev", None, "who")
    board.add(who, AnswerSet("Who?", (answer("Ann Lee spoke."),)), ["d1"], 0.01)
    board.add(who, AnswerSet("Who?", (answer("Bob spoke."), answer("Ann Lee spoke."))), ["d1"], 0.01)
    when = Query("2", "When?", ("1932",), ("d1",), "dev", None, "when")
    board.add(when, AnswerSet("When?", ()), ["d1"], 0.01)
    board.add(Query("3", "Why?", (), (), "dev", True), AnswerSet("Why?", ()), [], 0.01)
    report = board.report()
    assert report["questions"] == 4 and report["answer_hit@1"] == round(1 / 3, 4)
    assert report["by_type"] == {
        "who": {"questions": 2, "answer_hit@1": 0.5, "answer_hit@3": 1.0, "abstain_accuracy": None},
        "when": {"questions": 1, "answer_hit@1": 0.0, "answer_hit@3": 0.0, "abstain_accuracy": None},
        "unanswerable": {"questions": 1, "answer_hit@1": None, "answer_hit@3": None, "abstain_accuracy": 1.0},
    }
    table = format_by_type(report["by_type"])
    assert table.splitlines()[2].split() == ["who", "2", "0.5", "1", "-"]
    assert "by_type" not in format_table(report)
    assert "by_type" not in Scoreboard(Tally(has_answers=True)).report()


def test_evaluate_dataset_scores_a_news_folder_with_unanswerable_questions(tmp_path: Path) -> None:
    """A news benchmark (dated stories, typed questions, unanswerable ones without documents) runs
    through ``Engine.ask``: refusals count in abstain accuracy, never as ranking misses."""
    folder = write_benchmark(tmp_path / "news")
    settings = Settings(index_dir=tmp_path / "index", seeds_dir=None, reader="off", abstain_threshold=0.99)
    engine = Engine(settings, embedder=HashEmbedder())
    try:
        report = evaluate_dataset(engine, folder)
    finally:
        engine.close()
    assert report["questions"] == 3 and report["recall@1"] == 1.0 and report["abstain_accuracy"] == 1.0
    by_type = report["by_type"]
    assert isinstance(by_type, dict) and list(by_type) == ["who", "how many", "unanswerable"]
    assert all(list(m) == list(TYPE_KEYS) for m in by_type.values())
    assert by_type["unanswerable"]["abstain_accuracy"] == 1.0


def test_evaluate_dataset_warns_of_an_index_that_kept_its_datelines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An index made before datelines were read keeps them in its texts until their files change:
    ``qa eval`` says its figures are not a new index's, and says nothing on a new index."""
    folder = write_benchmark(tmp_path / "news")
    settings = Settings(index_dir=tmp_path / "index", seeds_dir=None, reader="off", abstain_threshold=0.99)

    def evaluate() -> list[str]:
        caplog.clear()
        engine = Engine(settings, embedder=HashEmbedder())
        try:
            with caplog.at_level(logging.WARNING, logger="qa.eval.evaluate"):
                evaluate_dataset(engine, folder)
        finally:
            engine.close()
        return [r.getMessage() for r in caplog.records if "dateline" in r.getMessage()]

    assert evaluate() == []
    # what an index written before datelines were read holds: the dateline in the text, no place
    with sqlite3.connect(tmp_path / "index" / "meta.sqlite") as conn:
        conn.execute("UPDATE articles SET text = 'LONDON, March 2 - ' || text, place = NULL WHERE id = 'n1'")
    warnings = evaluate()
    assert len(warnings) == 1 and warnings[0].startswith("1 of 2 articles checked in ")
