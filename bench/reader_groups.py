"""Passage groups for the reader's shared-normalisation stage (``bench.train_reader --negatives N``).

Each training question becomes one group: its gold paragraph (with the answer, or none for an
unanswerable question) and the ``N`` passages that qa-bot's own retriever ranks highest for it in the
training archive (the trainable articles of its SQuAD folder) that hold no gold answer. The group's
windows are scored with one softmax over every start (and end) position of all of them, the
``[CLS]`` "no answer" positions included (Clark & Gardner 2018, *Simple and Effective Multi-Paragraph
Reading Comprehension*): a passage that only looks like the question must score below the one that
answers it, which per-window training never asks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import CACHE, logger
from qa.answering.reader import context_offsets, encode_pairs
from qa.eval.evaluate import article_of


@dataclass(frozen=True, slots=True)
class Group:
    """One question with its passages: the gold paragraph first, then the retriever's negatives."""

    question: str
    contexts: tuple[str, ...]
    answer: tuple[int, int] | None  # character range in ``contexts[0]``; None: unanswerable


def archive_docs(eval_dir: Path, name: str, articles: set[str]) -> Path:
    """A copy of one SQuAD folder's ``docs.jsonl`` with only these articles' paragraphs (stable path)."""
    lines = [
        line
        for line in (eval_dir / name / "docs.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip() and article_of(str(json.loads(line)["id"])) in articles
    ]
    target = CACHE / f"train-archive-{name}" / "docs.jsonl"
    target.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines) + "\n"
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return target


def retrieved_negatives(
    eval_dir: Path, name: str, questions: list[dict[str, Any]], count: int
) -> dict[str, list[str]]:
    """For each question id, the texts of the ``count`` best passages the retriever returns from the
    training archive that are not its gold paragraph and hold none of its answers (kept on disk)."""
    articles = {article_of(d) for q in questions for d in q["doc_ids"]}
    docs = archive_docs(eval_dir, name, articles)
    kept = CACHE / f"train-negatives-{name}.json"  # a larger count serves every smaller one
    if kept.is_file():
        cached = json.loads(kept.read_text(encoding="utf-8"))
        if cached["count"] >= count and all(q["id"] in cached["negatives"] for q in questions):
            return {qid: texts[:count] for qid, texts in cached["negatives"].items()}
    from qa.config import Settings
    from qa.engine import Engine

    engine = Engine(Settings(index_dir=docs.parent / "index", reader="off"))
    engine.index_paths([docs])
    engine.answerer.retriever.embedder.encode([q["question"] for q in questions])  # in batches, then cached
    out: dict[str, list[str]] = {}
    for number, q in enumerate(questions, start=1):
        found = engine.answerer.retriever.retrieve(engine.store, q["question"], count + 6).passages
        answers = [a.strip() for a in q["answers"] if a.strip()]
        out[q["id"]] = [
            p.text
            for p in found
            if p.article.id not in q["doc_ids"] and not any(a in p.text for a in answers)
        ][:count]
        if number % 500 == 0:
            logger.info("%s: negatives for %d/%d questions", name, number, len(questions))
    engine.close()
    kept.write_text(json.dumps({"count": count, "negatives": out}, sort_keys=True), encoding="utf-8")
    return out


def training_groups(eval_dir: Path, count: int) -> list[Group]:
    """Every trainable question (``dev_questions``) as a group with ``count`` retrieved negatives."""
    from bench.reader_data import SQUADS, answer_position, dev_questions

    chosen: dict[str, list[tuple[dict[str, Any], str]]] = {name: [] for name in SQUADS}
    seen: set[tuple[str, str]] = set()
    for q, docs in dev_questions(eval_dir, trainable=True):
        context = docs[q["doc_ids"][0]]
        if (q["question"], context) in seen:  # SQuAD 2.0's answerable dev questions repeat v1.1's
            continue
        seen.add((q["question"], context))
        chosen["squad-v2.0" if "is_impossible" in q else "squad-v1.1"].append((q, context))
    groups = []
    for name, questions in chosen.items():
        negatives = retrieved_negatives(eval_dir, name, [q for q, _ in questions], count)
        for q, context in questions:
            answer = None if q.get("is_impossible") else answer_position(context, q["answers"])
            if answer is None and not q.get("is_impossible"):
                continue
            groups.append(Group(q["question"], (context, *negatives[q["id"]]), answer))
    return groups


def group_features(tokenizer: Any, groups: list[Group], max_length: int, stride: int) -> list[dict[str, Any]]:
    """One item per group: its windows (ids, masks), the positions a softmax may choose in each
    (``[CLS]`` and context tokens) and the gold start/end positions (``[CLS]`` of every window when
    the group holds no answer; each window that holds the whole answer otherwise)."""
    questions = [g.question for g in groups for _ in g.contexts]
    contexts = [c for g in groups for c in g.contexts]
    owners = [(n, i) for n, g in enumerate(groups) for i in range(len(g.contexts))]
    encoding = encode_pairs(tokenizer, questions, contexts, max_length, stride)
    items: list[dict[str, Any]] = [{"windows": []} for _ in groups]
    for window, sample in enumerate(encoding["overflow_to_sample_mapping"]):
        number, position = owners[int(sample)]
        offsets = context_offsets(encoding, window)
        allowed = [0] + [i for i, o in enumerate(offsets) if o is not None]
        start = end = 0
        answer = groups[number].answer if position == 0 else None
        if answer is not None:
            inside = [
                i for i, o in enumerate(offsets) if o is not None and o[0] < answer[1] and o[1] > answer[0]
            ]
            covered = [o for o in offsets if o is not None]
            if inside and covered[0][0] <= answer[0] and covered[-1][1] >= answer[1]:
                start, end = inside[0], inside[-1]
        items[number]["windows"].append(
            {
                "input_ids": encoding["input_ids"][window],
                "attention_mask": encoding["attention_mask"][window],
                "token_type_ids": encoding["token_type_ids"][window],
                "allowed": allowed,
                "start": start,
                "end": end,
            }
        )
    for number, item in enumerate(items):
        item["answerable"] = groups[number].answer is not None and any(w["start"] for w in item["windows"])
    return [item for n, item in enumerate(items) if item["answerable"] or groups[n].answer is None]


def shared_loss(torch: Any, start: Any, end: Any, items: list[dict[str, Any]]) -> Any:
    """The mean over groups of -log P(gold start) - log P(gold end), each a softmax over every allowed
    position of all the group's windows (rows of ``start``/``end``, in ``items``' order)."""
    losses = []
    row = 0
    for item in items:
        for logits, key in ((start, "start"), (end, "end")):
            chosen, gold = [], []
            for offset, window in enumerate(item["windows"]):
                scores = logits[row + offset, window["allowed"]]
                chosen.append(scores)
                if not item["answerable"]:
                    gold.append(scores[:1])  # every window's [CLS]
                elif window[key]:
                    at = window["allowed"].index(window[key])
                    gold.append(scores[at : at + 1])
            every, right = torch.cat(chosen), torch.cat(gold)
            losses.append(torch.logsumexp(every, 0) - torch.logsumexp(right, 0))
        row += len(item["windows"])
    return torch.stack(losses).mean()
