"""Answer-quality regression: a slice of SQuAD v1.1 dev through ``qa eval``'s code path, with floors.

The slice: every dev paragraph of four articles (116 paragraphs, so indexing stays quick) and 100
of their questions, evenly spread; the file runs in well under three minutes on an idle machine.
The floors sit a little under what the tuned pipeline measures (see docs/eval.md); a drop below
one means answers got worse.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.common import EVAL
from qa.config import Settings
from qa.engine import Engine
from qa.eval.evaluate import article_of, evaluate_dataset, load_queries
from qa.eval.metrics import document_ranking, first_gold_rank
from tests.conftest import SEEDS

# Its module-scoped fixtures are built once: under pytest-xdist the whole module runs on one worker.
pytestmark = pytest.mark.xdist_group("quality")

ARTICLES = ("Normans", "Sky_(United_Kingdom)", "Amazon_rainforest", "Fresno,_California")
QUESTIONS = 100
FLOORS = {
    "recall@1": 0.88,  # measured 0.93 (this slice, 100 questions, with the shipped reader)
    "recall@5": 0.95,  # 0.99
    "answer_hit@1": 0.85,  # 0.90 (the picker's 0.87 never abstained; the reader withholds unsure ones)
    "answer_hit@3": 0.90,  # 0.95
    "exact_match": 0.60,  # 0.66 (the 2-epoch reader: 0.65; the 1.2-epoch one: 0.51; the picker: 0.21)
    "f1": 0.68,  # 0.739 (the 2-epoch reader: 0.716; the 1.2-epoch one: 0.594; the picker: 0.375)
}
MAX_ANSWER_CHARS = 250


@pytest.fixture(scope="module")
def squad_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = EVAL / "squad-v1.1"
    if not (source / "docs.jsonl").is_file() or not (source / "queries.jsonl").is_file():
        pytest.skip(f"no evaluation data in {source} (QA_BENCH_EVAL, or shared/eval, or ../shared/eval)")
    folder = tmp_path_factory.mktemp("squad-slice")
    with (source / "docs.jsonl").open(encoding="utf-8") as docs, \
            (folder / "docs.jsonl").open("w", encoding="utf-8") as out:  # fmt: skip
        out.writelines(line for line in docs if article_of(json.loads(line)["id"]) in ARTICLES)
    with (source / "queries.jsonl").open(encoding="utf-8") as queries:
        rows = [json.loads(line) for line in queries]
    kept = [r for r in rows if r["split"] == "dev" and article_of(r["doc_ids"][0]) in ARTICLES]
    picked = [kept[i * len(kept) // QUESTIONS] for i in range(QUESTIONS)]
    (folder / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in picked), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = Engine(Settings(index_dir=tmp_path_factory.mktemp("quality") / "index"))
    yield engine
    engine.close()


def test_squad_slice_meets_the_floors(engine: Engine, squad_slice: Path) -> None:
    metrics = evaluate_dataset(engine, squad_slice, split="dev")
    assert metrics["questions"] == QUESTIONS
    low = {k: (metrics[k], floor) for k, floor in FLOORS.items() if (metrics[k] or 0.0) < floor}
    assert not low, f"below the floor (measured, floor): {low}; all metrics: {metrics}"
    chars = metrics["answer_chars"]
    assert chars is not None and chars <= MAX_ANSWER_CHARS


def test_hybrid_beats_each_side_alone(engine: Engine, squad_slice: Path) -> None:
    engine.index_paths([squad_slice / "docs.jsonl"])
    queries = load_queries(squad_slice / "queries.jsonl", "dev")
    found: dict[str, int] = {}
    for mode in ("hybrid", "dense", "bm25"):
        ranks = [
            first_gold_rank(document_ranking(engine.search(q.question, k=20, mode=mode)), q.doc_ids)
            for q in queries
        ]
        found[mode] = sum(1 for r in ranks if r is not None and r <= 5)
    assert found["hybrid"] > max(found["dense"], found["bm25"]), found


def test_seed_questions_answer_or_abstain(tmp_path: Path) -> None:
    engine = Engine(Settings(index_dir=tmp_path / "index"))
    engine.index_paths([SEEDS])
    result = engine.ask("When did the war start?")
    assert result.answers
    first = result.answers[0]
    assert first.text.startswith("This war initially started on September 27")
    assert first.span_text == "September 27"
    for question in ("What is the boiling point of mercury?", "Who won the 2018 World Cup?"):
        assert engine.ask(question).abstained, question
    # On the article's topic, but about someone it never names: the calibration weighs the unknown
    # name (without it, the adviser's words about drones were quoted at 0.33).
    assert engine.ask("What did Vladimir Putin say about the drones?").abstained
