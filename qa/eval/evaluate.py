"""``qa eval``: retrieval and answer quality on a benchmark folder (``docs.jsonl``, ``queries.jsonl``).

Every question goes through ``Engine.ask``, the code path of ``qa ask``. Ranking metrics count
documents, not passages: a passage is a chunk, so the rank of a question's gold document is the rank
of the first passage taken from it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from qa.errors import ConfigError, QAError
from qa.eval.benchmark import Query, Split, article_of, documents_without, first_ids, is_absent, load_queries
from qa.eval.metrics import (
    best_over,
    contains_answer,
    document_ranking,
    exact_match,
    f1_score,
    first_gold_rank,
    ndcg_at,
    percentile,
    recall_at,
)
from qa.ingest.dateline import find_dateline
from qa.models import AnswerSet, Mode

if TYPE_CHECKING:
    from qa.engine import Engine

__all__ = [
    "METRIC_KEYS",
    "TYPE_KEYS",
    "Metrics",
    "Query",
    "Report",
    "Scoreboard",
    "Split",
    "Tally",
    "article_of",
    "datelines_left_in",
    "documents_without",
    "evaluate_dataset",
    "is_absent",
    "load_queries",
]

logger = logging.getLogger(__name__)

Metrics = dict[str, float | int | None]
Report = dict[str, float | int | dict[str, Metrics] | None]  # Metrics, and "by_type" where questions have one
ProgressCallback = Callable[[int, int, str], None]

METRIC_KEYS = (
    "questions", "recall@1", "recall@5", "recall@20", "mrr@10",
    "answer_hit@1", "answer_hit@3", "answer_chars", "exact_match", "f1",
    "abstain_accuracy", "ndcg@10", "recall@100", "latency_ms_p50", "latency_ms_p95", "absent_refused",
)  # fmt: skip
TYPE_KEYS = ("questions", "answer_hit@1", "answer_hit@3", "abstain_accuracy")  # of each type in "by_type"
UNANSWERABLE = "unanswerable"  # the type of an unanswerable question that names none
STALE_SAMPLE = 200  # documents checked for a wire dateline left in their indexed text


@dataclass(slots=True)
class Tally:
    """Per-question results, summed up by ``metrics``."""

    has_answers: bool = False
    has_impossible: bool = False
    leaves_out: bool = False  # --absent: some articles were left out of the index on purpose
    questions: int = 0
    ranks: list[int | None] = field(default_factory=list)
    ndcg: list[float] = field(default_factory=list)
    recall100: list[float] = field(default_factory=list)
    hit1: list[float] = field(default_factory=list)
    hit3: list[float] = field(default_factory=list)
    chars: list[int] = field(default_factory=list)
    em: list[float] = field(default_factory=list)
    f1: list[float] = field(default_factory=list)
    abstain: list[float] = field(default_factory=list)
    refused: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def add(
        self, query: Query, result: AnswerSet, ranking: list[str], seconds: float, absent: bool = False
    ) -> None:
        """Record one question; ``absent``: its articles were left out of the index on purpose."""
        self.questions += 1
        self.latencies.append(seconds * 1000.0)
        first = result.answers[0] if result.answers else None
        if absent:  # only the refusal counts: there is nothing to rank or quote
            self.abstain.append(float(first is None))
            self.refused.append(float(first is None))
            return
        if query.impossible and not query.doc_ids:  # news: about nothing the archive holds
            self.abstain.append(float(first is None))
            return
        self.ranks.append(first_gold_rank(ranking, query.doc_ids))
        if not self.has_answers:
            self.ndcg.append(ndcg_at(ranking, query.doc_ids, 10))
            self.recall100.append(recall_at(ranking, query.doc_ids, 100))
        if first is not None:
            self.chars.append(len(first.text))
        if query.answers:
            texts = [a.text for a in result.answers[:3]]
            self.hit1.append(float(bool(texts) and contains_answer(texts[0], query.answers)))
            self.hit3.append(float(any(contains_answer(t, query.answers) for t in texts)))
            predicted = "" if first is None else (first.span_text or first.text)
            self.em.append(best_over(query.answers, predicted, exact_match) if first else 0.0)
            self.f1.append(best_over(query.answers, predicted, f1_score) if first else 0.0)
        # As squad-v2.0 defines it: a question the archive can answer counts as right only when it
        # is answered and the first answer holds a gold answer (with --absent too).
        if query.impossible is not None or self.leaves_out:
            if query.impossible:
                self.abstain.append(float(first is None))
            else:
                self.abstain.append(float(first is not None and contains_answer(first.text, query.answers)))

    def metrics(self) -> Metrics:
        """The metric object of ``qa eval --json``."""

        def mean(values: Sequence[float], present: bool = True) -> float | None:
            return round(sum(values) / len(values), 4) if values and present else None

        def hits(k: int) -> float | None:
            return mean([float(r is not None and r <= k) for r in self.ranks])

        mrr = mean([1.0 / r if r is not None and r <= 10 else 0.0 for r in self.ranks])
        p50, p95 = percentile(self.latencies, 50), percentile(self.latencies, 95)
        return {
            "questions": self.questions,
            "recall@1": hits(1),
            "recall@5": hits(5),
            "recall@20": hits(20),
            "mrr@10": mrr,
            "answer_hit@1": mean(self.hit1, self.has_answers),
            "answer_hit@3": mean(self.hit3, self.has_answers),
            "answer_chars": round(sum(self.chars) / len(self.chars), 1)
            if self.chars and self.has_answers
            else None,
            "exact_match": mean(self.em, self.has_answers),
            "f1": mean(self.f1, self.has_answers),
            "abstain_accuracy": mean(self.abstain, self.has_impossible),
            "ndcg@10": mean(self.ndcg, not self.has_answers),
            "recall@100": mean(self.recall100, not self.has_answers),
            "latency_ms_p50": round(p50, 2) if p50 is not None else None,
            "latency_ms_p95": round(p95, 2) if p95 is not None else None,
            "absent_refused": mean(self.refused, self.leaves_out),
        }  # fmt: skip


@dataclass(slots=True)
class Scoreboard:
    """The whole run's ``Tally`` and, where questions have a ``type``, one per type."""

    overall: Tally
    typed: bool = False  # some question has a type: the report gets "by_type"
    by_type: dict[str, Tally] = field(default_factory=dict)

    def add(
        self, query: Query, result: AnswerSet, ranking: list[str], seconds: float, absent: bool = False
    ) -> None:
        """Record one question in the whole run and in its type's tally."""
        self.overall.add(query, result, ranking, seconds, absent)
        if not self.typed:
            return
        kind = query.type or (UNANSWERABLE if query.impossible else "untyped")
        if kind not in self.by_type:
            self.by_type[kind] = Tally(
                self.overall.has_answers, self.overall.has_impossible, self.overall.leaves_out
            )
        self.by_type[kind].add(query, result, ranking, seconds, absent)

    def report(self) -> Report:
        """The object of ``qa eval --json``: the metrics, and ``TYPE_KEYS`` of each type in "by_type"."""
        report: Report = dict(self.overall.metrics())
        if self.typed:
            each = {kind: tally.metrics() for kind, tally in self.by_type.items()}
            report["by_type"] = {kind: {k: m[k] for k in TYPE_KEYS} for kind, m in each.items()}
        return report


def datelines_left_in(engine: Engine, docs: Path) -> tuple[int, int]:
    """Of the first ``STALE_SAMPLE`` documents of ``docs``, how many the index holds with a wire
    dateline still opening their text, and how many were checked. ``qa index`` takes datelines off; an
    index made before it did keeps its texts until their files change, so its figures are not those
    that a new index gives."""
    ids = first_ids(docs, STALE_SAMPLE)
    stale = 0
    for doc_id in ids:
        stored = engine.store.document(doc_id)
        if stored is not None and stored[0].place is None and find_dateline(stored[1]) is not None:
            stale += 1
    return stale, len(ids)


def evaluate_dataset(
    engine: Engine,
    directory: Path,
    *,
    split: Split = "dev",
    limit: int | None = None,
    mode: Mode | None = None,
    progress: ProgressCallback | None = None,
    absent: float | None = None,
    queries: Path | None = None,
) -> Report:
    """Index ``directory/docs.jsonl`` (reused when unchanged), ask every question of ``split``
    through ``Engine.ask`` and return the metrics (None where the dataset has no data for one), with
    "by_type" where the questions have a ``type``.

    ``absent`` (0..1) leaves that share of the articles out of the index, chosen by a stable hash of
    the article id: their questions must then be refused, which ``abstain_accuracy`` counts.
    ``queries``: a question file of one's own over the folder's articles, in place of its own."""
    docs = directory / "docs.jsonl"
    if queries is None:
        if not docs.is_file() or not (directory / "queries.jsonl").is_file():
            raise ConfigError(f"{directory} needs docs.jsonl and queries.jsonl")
        queries = directory / "queries.jsonl"
    elif not docs.is_file():
        raise ConfigError(f"{directory} needs docs.jsonl")
    elif not queries.is_file():
        raise ConfigError(f"--queries {queries}: no such file")
    questions = load_queries(queries, split, limit)
    dropped: set[str] = set()
    if absent is not None:
        if not 0.0 < absent < 1.0:
            raise ConfigError(f"--absent takes a share between 0 and 1, not {absent}")
        docs, dropped = documents_without(docs, absent)
    indexed = engine.index_paths([docs], progress)
    logger.info("indexed %s: %d added, %d unchanged", docs, len(indexed.added), indexed.unchanged)
    if any(engine.store.document(doc_id) is not None for doc_id in dropped):
        raise ConfigError("the index holds articles that --absent leaves out: use an empty index directory")
    stale, checked = datelines_left_in(engine, docs)
    if stale:
        logger.warning(
            "%d of %d articles checked in %s are indexed with their dateline still in the text (an index "
            "made before datelines were read): the figures are not a new index's; evaluate into a new "
            "index directory (QA_INDEX_DIR)",
            stale,
            checked,
            docs,
        )
    tally = Tally(
        has_answers=any(q.answers for q in questions),
        has_impossible=absent is not None or any(q.impossible is not None for q in questions),
        leaves_out=absent is not None,
    )
    board = Scoreboard(tally, typed=any(q.type for q in questions))
    depth = 20 if tally.has_answers else 100  # deepest rank a metric looks at
    if questions:
        engine.ask(questions[0].question, top_k=3, mode=mode)  # warm-up: model loaded, caches filled
    for number, query in enumerate(questions, start=1):
        started = time.perf_counter()
        try:
            result = engine.ask(query.question, top_k=3, mode=mode)
        except QAError as exc:  # e.g. a question too long: counted as unanswered
            logger.warning("question %s: %s", query.id, exc)
            result = AnswerSet(question=query.question, answers=())
        elapsed = time.perf_counter() - started
        ranking = document_ranking(result.passages)
        if len(ranking) < depth and query.doc_ids:  # no gold documents: nothing to rank
            try:
                deeper = engine.search(query.question, k=depth * 3, mode=mode)
            except QAError:
                deeper = []
            ranking = list(dict.fromkeys([*ranking, *document_ranking(deeper)]))
        gone = bool(dropped) and all(d in dropped for d in query.doc_ids)
        board.add(query, result, ranking, elapsed, gone or (bool(query.impossible) and absent is not None))
        if progress is not None:
            progress(number, len(questions), "asking")
    return board.report()
