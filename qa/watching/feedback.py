"""Votes on answers: 👍 and 👎 kept with the question, the answer and its article, and exported
as evaluation questions (the ``queries.jsonl`` format that ``qa eval`` reads)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, TextIO

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
        with path.open("w", encoding="utf-8") as handle:
            return self.write_queries(handle)

    def write_queries(self, to: TextIO) -> int:
        """Write the voted questions to ``to`` as ``queries.jsonl`` lines; returns how many."""
        lines = eval_queries(self.votes())
        to.writelines(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
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
    """One evaluation question per question voted on (``votes`` oldest first): 👍 answers are its
    gold answers and articles, 👎 ones its known-wrong answers; a later vote on the same answer
    replaces the earlier, and words that a 👍 answer has are never also listed wrong. A question with
    no 👍 left is in split ``down-only``, not ``dev``."""
    lines = []
    for first_id, question, cast in _standing_votes(votes):
        up = [v.answer for v in cast if v.vote == "up"]
        down = [v.answer for v in cast if v.vote == "down"]
        answers = list(dict.fromkeys(_answer_words(a) for a in up))
        wrong = [w for w in dict.fromkeys(_answer_words(a) for a in down) if w not in answers]
        lines.append(
            {
                "id": f"feedback-{first_id}",
                "question": question,
                "answers": answers,
                "doc_ids": list(dict.fromkeys(a.article.id for a in up)),
                "split": "dev" if up else "down-only",
                "wrong_answers": wrong,
                "wrong_doc_ids": list(dict.fromkeys(a.article.id for a in down)),
                "comments": [v.comment for v in cast if v.comment],
            }
        )
    return lines


def _standing_votes(votes: list[VoteRecord]) -> list[tuple[int, str, list[VoteRecord]]]:
    """Per question voted on (its first vote's id, the question, its votes): only the latest vote
    on each of its answers (an answer being its words and article), whoever cast it."""
    first: dict[str, int] = {}
    latest: dict[tuple[str, str, str], VoteRecord] = {}
    for vote in votes:
        question = vote.question.strip()
        first.setdefault(question, vote.id)
        latest[(question, vote.answer.article.id, _answer_words(vote.answer))] = vote
    by_question: dict[str, list[VoteRecord]] = {question: [] for question in first}
    for (question, _, _), vote in latest.items():
        by_question[question].append(vote)
    return [(first[question], question, cast) for question, cast in by_question.items()]


def _answer_words(answer: Answer) -> str:
    """What an exported answer says: its span, else its sentence."""
    return answer.span_text or answer.text
