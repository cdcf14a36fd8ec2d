"""The reader's training data: SQuAD dev questions on articles outside every test split, their gold
paragraphs and same-article negatives, as tokenized windows with span labels."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import read_jsonl
from qa.answering.reader import context_offsets, encode_pairs
from qa.eval.evaluate import article_of

SQUADS = ("squad-v1.1", "squad-v2.0")
Example = tuple[
    str, str, int | None, int | None
]  # question, context, answer start/end chars (None: no answer)


def test_articles(eval_dir: Path) -> set[str]:
    """Articles with a question in the test split of either SQuAD folder."""
    return {
        article_of(d)
        for name in SQUADS
        for q in read_jsonl(eval_dir / name / "queries.jsonl")
        if q["split"] == "test"
        for d in q["doc_ids"]
    }


def dev_questions(eval_dir: Path, trainable: bool) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """Dev questions (with their folder's paragraphs) on articles outside (or inside) every test split."""
    excluded = test_articles(eval_dir)
    out = []
    for name in SQUADS:
        docs = {d["id"]: d["text"] for d in read_jsonl(eval_dir / name / "docs.jsonl")}
        for q in read_jsonl(eval_dir / name / "queries.jsonl"):
            outside = not any(article_of(d) in excluded for d in q["doc_ids"])
            if q["split"] == "dev" and outside == trainable:
                out.append((q, docs))
    return out


def answer_position(context: str, answers: list[str]) -> tuple[int, int] | None:
    """Character range of the most frequent gold answer found in the context."""
    for answer, _ in Counter(a.strip() for a in answers if a.strip()).most_common():
        at = context.find(answer)
        if at >= 0:
            return at, at + len(answer)
    return None


def training_examples(eval_dir: Path, rng: random.Random) -> list[Example]:
    """Gold paragraphs (with their answer, or none for unanswerable ones) and same-article negatives."""
    examples: list[Example] = []
    seen: set[tuple[str, str]] = set()
    for q, docs in dev_questions(eval_dir, trainable=True):
        context = docs[q["doc_ids"][0]]
        key = (q["question"], context)
        if key in seen:  # SQuAD 2.0's answerable dev questions repeat v1.1's
            continue
        seen.add(key)
        if q.get("is_impossible"):
            examples.append((q["question"], context, None, None))
            continue
        where = answer_position(context, q["answers"])
        if where is None:
            continue
        examples.append((q["question"], context, *where))
        article = article_of(q["doc_ids"][0])
        others = [i for i in docs if article_of(i) == article and i != q["doc_ids"][0]]
        if others:
            other = docs[rng.choice(others)]
            if not any(a.strip() and a.strip() in other for a in q["answers"]):
                examples.append((q["question"], other, None, None))
    return examples


def features(tokenizer: Any, examples: list[Example], max_length: int, stride: int) -> list[dict[str, Any]]:
    """Tokenized windows with start/end token labels (0, the [CLS] token, where the answer is not inside)."""
    encoding = encode_pairs(tokenizer, [e[0] for e in examples], [e[1] for e in examples], max_length, stride)
    out = []
    for window, owner in enumerate(encoding["overflow_to_sample_mapping"]):
        _, _, begin, end = examples[owner]
        offsets = context_offsets(encoding, window)
        start_token = end_token = 0
        if begin is not None and end is not None:
            inside = [i for i, o in enumerate(offsets) if o is not None and o[0] < end and o[1] > begin]
            first = next((o for o in offsets if o is not None), None)
            last = next((o for o in reversed(offsets) if o is not None), None)
            if inside and first is not None and last is not None and first[0] <= begin and last[1] >= end:
                start_token, end_token = inside[0], inside[-1]
        out.append(
            {
                "input_ids": encoding["input_ids"][window],
                "attention_mask": encoding["attention_mask"][window],
                "token_type_ids": encoding["token_type_ids"][window],
                "start": start_token,
                "end": end_token,
            }
        )
    return out
