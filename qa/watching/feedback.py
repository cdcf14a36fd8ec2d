"""Votes on answers: 👍 and 👎 kept with the question, the answer and its article, and exported
as evaluation questions (the ``queries.jsonl`` format that ``qa eval`` reads)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from qa.answering.conversation import Paging
from qa.errors import FeedbackError
from qa.models import Answer
from qa.watching.records import Vote, VoteRecord, answer_from_json, answer_json, iso_time
from qa.watching.state import connect, prepare

logger = logging.getLogger(__name__)

_VOTE = "SELECT id, at, channel, conversation, question, number, vote, comment, answer FROM votes"


def shown_answer(paging: Paging | None, number: int) -> tuple[str, Answer]:
    """The question and its ``number``-th answer (1-based) shown so far; ``FeedbackError`` if none."""
    if paging is None:
        raise FeedbackError("that conversation has no answers to vote on yet")
    shown = paging.answers[: paging.shown]
    if not 1 <= number <= len(shown):
        raise FeedbackError(f"the last reply has no answer {number} (it showed {len(shown)})")
    return paging.result.question, shown[number - 1]


class Feedback:
    """The votes of one index directory."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = prepare(index_dir)

    def vote(
        self,
        channel: str,
        conversation: str,
        question: str,
        number: int,
        answer: Answer,
        vote: Vote,
        comment: str | None = None,
    ) -> VoteRecord:
        """Keep one vote on an answer."""
        with connect(self.index_dir) as conn:
            cursor = conn.execute(
                "INSERT INTO votes(at, channel, conversation, question, number, vote, comment, article_id, "
                "answer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    channel,
                    conversation,
                    question,
                    number,
                    vote,
                    comment,
                    answer.article.id,
                    answer_json(answer),
                ),
            )
            row = conn.execute(f"{_VOTE} WHERE id = ?", (cursor.lastrowid,)).fetchone()
        logger.info("vote %s on answer %d to %r (%s)", vote, number, question, channel)
        return _record(row)

    def votes(self) -> list[VoteRecord]:
        """Every vote, oldest first."""
        with connect(self.index_dir) as conn:
            return [_record(r) for r in conn.execute(f"{_VOTE} ORDER BY id").fetchall()]

    def export(self, path: Path) -> int:
        """Write the voted questions to ``path`` as ``queries.jsonl`` lines; returns how many."""
        lines = eval_queries(self.votes())
        with path.open("w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
        return len(lines)


def _record(row: tuple[Any, ...]) -> VoteRecord:
    return VoteRecord(
        int(row[0]),
        iso_time(row[1]),
        row[2],
        row[3],
        row[4],
        int(row[5]),
        row[6],
        row[7],
        answer_from_json(row[8]),
    )


def eval_queries(votes: list[VoteRecord]) -> list[dict[str, Any]]:
    """One evaluation question per question voted on: 👍 answers are its gold answers and articles,
    👎 ones its known-wrong answers; a question with no 👍 is in split ``down-only``, not ``dev``."""
    by_question: dict[str, list[VoteRecord]] = {}
    for vote in votes:
        by_question.setdefault(vote.question.strip(), []).append(vote)
    lines = []
    for question, cast in by_question.items():
        up = [v.answer for v in cast if v.vote == "up"]
        down = [v.answer for v in cast if v.vote == "down"]
        lines.append(
            {
                "id": f"feedback-{cast[0].id}",
                "question": question,
                "answers": list(dict.fromkeys(a.span_text or a.text for a in up)),
                "doc_ids": list(dict.fromkeys(a.article.id for a in up)),
                "split": "dev" if up else "down-only",
                "wrong_answers": list(dict.fromkeys(a.span_text or a.text for a in down)),
                "wrong_doc_ids": list(dict.fromkeys(a.article.id for a in down)),
                "comments": [v.comment for v in cast if v.comment],
            }
        )
    return lines
