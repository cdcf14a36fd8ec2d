"""Benchmark folders for ``qa eval``: their questions, and the articles ``--absent`` leaves out."""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from qa.errors import ConfigError

Split = Literal["dev", "test", "all"]


@dataclass(frozen=True, slots=True)
class Query:
    """One benchmark question with its gold data."""

    id: str
    question: str
    answers: tuple[str, ...]
    doc_ids: tuple[str, ...]
    split: str
    # None where the dataset has no unanswerable questions; True too for a row without
    # ``is_impossible`` that gives neither answers nor doc_ids (a hand-written news set's refusals)
    impossible: bool | None
    type: str | None = None  # what it asks for ("who", "when", "how much"...), where the dataset says


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


def first_ids(docs: Path, count: int) -> list[str]:
    """The ids of the first ``count`` documents of ``docs.jsonl``."""
    ids: list[str] = []
    with docs.open(encoding="utf-8") as lines:
        for line in lines:
            if len(ids) >= count:
                break
            if line.strip() and (doc_id := str(json.loads(line).get("id", ""))):
                ids.append(doc_id)
    return ids


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
            given = "is_impossible" in row
            unfounded = not row.get("answers") and not row.get("doc_ids")
            query = Query(
                id=str(row.get("id", number)),
                question=str(row["question"]),
                answers=tuple(str(a) for a in row.get("answers") or ()),
                doc_ids=tuple(str(d) for d in row.get("doc_ids") or ()),
                split=str(row.get("split", "dev")),
                impossible=bool(row["is_impossible"]) if given else (True if unfounded else None),
                type=str(row["type"]) if row.get("type") else None,
            )
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{path}:{number}: not a benchmark question ({exc})") from None
        if split in ("all", query.split):
            queries.append(query)
    if limit is not None and 0 < limit < len(queries):
        queries = [queries[i * len(queries) // limit] for i in range(limit)]
    return queries
