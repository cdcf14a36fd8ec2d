"""``qa eval``: retrieval and answer quality on a benchmark folder (``docs.jsonl``, ``queries.jsonl``).

Every question goes through ``Engine.ask``, the code path of ``qa ask``. Ranking metrics count
documents, not passages: a passage is a chunk, so the rank of a question's gold document is the rank
of the first passage taken from it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from qa.errors import ConfigError, QAError
from qa.metrics import (
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
from qa.models import AnswerSet
from qa.types import Mode

if TYPE_CHECKING:
    from qa.engine import Engine

logger = logging.getLogger(__name__)

Split = Literal["dev", "test", "all"]
Metrics = dict[str, float | int | None]
ProgressCallback = Callable[[int, int, str], None]

METRIC_KEYS = (
    "questions", "recall@1", "recall@5", "recall@20", "mrr@10",
    "answer_hit@1", "answer_hit@3", "answer_chars", "exact_match", "f1",
    "abstain_accuracy", "ndcg@10", "recall@100", "latency_ms_p50", "latency_ms_p95", "absent_refused",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Query:
    """One benchmark question with its gold data."""

    id: str
    question: str
    answers: tuple[str, ...]
    doc_ids: tuple[str, ...]
    split: str
    impossible: bool | None  # None where the dataset has no unanswerable questions


# -- the dataset --------------------------------------------------------------------------------
def article_of(doc_id: str) -> str:
    """The article a document belongs to: a SQuAD paragraph id without its ``_NNN`` suffix."""
    return doc_id.rsplit("_", 1)[0] if "_" in doc_id else doc_id


def is_absent(article: str, fraction: float) -> bool:
    """Whether ``--absent fraction`` leaves this article out: a stable hash of its id, not chance."""
    value = int.from_bytes(hashlib.sha256(article.encode("utf-8")).digest()[:8], "big") / 2.0**64
    return value < fraction


def documents_without(docs: Path, fraction: float) -> tuple[Path, set[str]]:
    """A copy of ``docs.jsonl`` without the absent articles' documents, and the left-out ids.

    The copy lives at a stable temporary path, so a later run with the same fraction reuses its index."""
    kept: list[str] = []
    dropped: set[str] = set()
    for line in docs.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        doc_id = str(json.loads(line).get("id", ""))
        if is_absent(article_of(doc_id), fraction):
            dropped.add(doc_id)
        else:
            kept.append(line)
    digest = hashlib.sha256(str(docs.resolve()).encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / "qa-eval" / f"{docs.parent.name}-{digest}-absent-{fraction:g}"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "docs.jsonl"
    text = "\n".join(kept) + "\n"
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return target, dropped


def load_queries(path: Path, split: Split = "dev", limit: int | None = None) -> list[Query]:
    """Questions of one split; ``limit`` keeps that many, evenly spread over the split."""
    queries: list[Query] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            query = Query(
                id=str(row.get("id", number)),
                question=str(row["question"]),
                answers=tuple(str(a) for a in row.get("answers") or ()),
                doc_ids=tuple(str(d) for d in row.get("doc_ids") or ()),
                split=str(row.get("split", "dev")),
                impossible=bool(row["is_impossible"]) if "is_impossible" in row else None,
            )
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{path}:{number}: not a benchmark question ({exc})") from None
        if split in ("all", query.split):
            queries.append(query)
    if limit is not None and 0 < limit < len(queries):
        queries = [queries[i * len(queries) // limit] for i in range(limit)]
    return queries


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


def evaluate_dataset(
    engine: Engine,
    directory: Path,
    *,
    split: Split = "dev",
    limit: int | None = None,
    mode: Mode | None = None,
    progress: ProgressCallback | None = None,
    absent: float | None = None,
) -> Metrics:
    """Index ``directory/docs.jsonl`` (reused when unchanged), ask every question of ``split``
    through ``Engine.ask`` and return the metrics (None where the dataset has no data for one).

    ``absent`` (0..1) leaves that share of the articles out of the index, chosen by a stable hash of
    the article id: their questions must then be refused, which ``abstain_accuracy`` counts."""
    docs, queries_path = directory / "docs.jsonl", directory / "queries.jsonl"
    if not docs.is_file() or not queries_path.is_file():
        raise ConfigError(f"{directory} needs docs.jsonl and queries.jsonl")
    queries = load_queries(queries_path, split, limit)
    dropped: set[str] = set()
    if absent is not None:
        if not 0.0 < absent < 1.0:
            raise ConfigError(f"--absent takes a share between 0 and 1, not {absent}")
        docs, dropped = documents_without(docs, absent)
    report = engine.index_paths([docs], progress)
    logger.info("indexed %s: %d added, %d unchanged", docs, len(report.added), report.unchanged)
    if any(engine.store.document(doc_id) is not None for doc_id in dropped):
        raise ConfigError("the index holds articles that --absent leaves out: use an empty index directory")
    tally = Tally(
        has_answers=any(q.answers for q in queries),
        has_impossible=absent is not None or any(q.impossible is not None for q in queries),
        leaves_out=absent is not None,
    )
    depth = 20 if tally.has_answers else 100  # deepest rank a metric looks at
    if queries:
        engine.ask(queries[0].question, top_k=3, mode=mode)  # warm-up: model loaded, caches filled
    for number, query in enumerate(queries, start=1):
        started = time.perf_counter()
        try:
            result = engine.ask(query.question, top_k=3, mode=mode)
        except QAError as exc:  # e.g. a question too long: counted as unanswered
            logger.warning("question %s: %s", query.id, exc)
            result = AnswerSet(question=query.question, answers=())
        elapsed = time.perf_counter() - started
        ranking = document_ranking(result.passages)
        if len(ranking) < depth:
            try:
                deeper = engine.search(query.question, k=depth * 3, mode=mode)
            except QAError:
                deeper = []
            ranking = list(dict.fromkeys([*ranking, *document_ranking(deeper)]))
        gone = bool(dropped) and all(d in dropped for d in query.doc_ids)
        tally.add(query, result, ranking, elapsed, gone or (bool(query.impossible) and absent is not None))
        if progress is not None:
            progress(number, len(queries), "asking")
    return tally.metrics()
