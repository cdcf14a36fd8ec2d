"""Watches and feedback: questions asked again as articles arrive, votes on answers."""

from qa.watching.feedback import Feedback, eval_queries, shown_answer
from qa.watching.records import Delivery, Found, VoteRecord, Watch, answers_dict
from qa.watching.scope import ScopedStore
from qa.watching.service import Watching, refuse_past_time
from qa.watching.state import MAX_TRIES, WatchState

__all__ = [
    "MAX_TRIES",
    "Delivery",
    "Feedback",
    "Found",
    "ScopedStore",
    "VoteRecord",
    "Watch",
    "WatchState",
    "Watching",
    "answers_dict",
    "eval_queries",
    "refuse_past_time",
    "shown_answer",
]
