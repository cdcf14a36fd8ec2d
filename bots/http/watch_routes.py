"""The watch and feedback routes: each translates a request into one engine call."""

# No ``from __future__ import annotations``: FastAPI reads the annotations at runtime.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response

from bots.http import schemas
from bots.http.security import bearer_scheme, write_access
from qa.answering.conversation import Conversations
from qa.config import Settings
from qa.engine import Engine
from qa.errors import FetchError, WatchError
from qa.watching import answers_dict, shown_answer
from qa.web.addresses import refuse_inside_url
from qa.web.fetching import normalize_url

WatchId = Annotated[int, Path(ge=1, le=2**63 - 1)]  # SQLite's largest integer


def build_watch_router(settings: Settings, engine: Engine, conversations: Conversations) -> APIRouter:
    """``/watches`` (changes need the key) and ``/feedback`` over ``engine``."""
    router = APIRouter(dependencies=[Depends(bearer_scheme)])
    changes = [Depends(write_access(settings))]

    @router.post(
        "/watches", status_code=201, response_model=schemas.WatchOut, dependencies=changes, tags=["watches"]
    )
    def add_watch(body: schemas.WatchIn) -> dict[str, Any]:
        """Ask a question again whenever articles are added; new answers go to ``webhook``, if any."""
        webhook = None if body.webhook is None else checked_webhook(body.webhook, settings)
        return engine.watching.add(body.question, webhook=webhook).to_dict()

    @router.get("/watches", response_model=schemas.WatchList, tags=["watches"])
    def list_watches() -> dict[str, Any]:
        """The API's watches, oldest first."""
        return {"watches": [w.to_dict() for w in engine.watching.listed()]}

    @router.delete("/watches/{watch_id}", status_code=204, dependencies=changes, tags=["watches"])
    def remove_watch(watch_id: WatchId) -> Response:
        """Stop a watch; its answers go with it."""
        engine.watching.remove(watch_id)
        return Response(status_code=204)

    @router.get("/watches/{watch_id}/answers", response_model=schemas.WatchAnswers, tags=["watches"])
    def watch_answers(watch_id: WatchId) -> dict[str, Any]:
        """The answers found so far, newest first."""
        watch = engine.watching.get(watch_id)
        return answers_dict(watch, engine.watching.answers(watch.id))

    @router.post("/feedback", status_code=201, response_model=schemas.FeedbackOut, tags=["answers"])
    def feedback(body: schemas.FeedbackIn) -> dict[str, Any]:
        """A 👍 or 👎 on one answer of the conversation's last reply, kept for `qa feedback export`."""
        question, answer = shown_answer(conversations.paging(body.conversation_id), body.answer)
        cast = engine.feedback.vote(
            "http", body.conversation_id, question, body.answer, answer, body.vote, body.comment
        )
        return cast.to_dict()

    return router


def checked_webhook(url: str, settings: Settings) -> str:
    """``url`` as a watch keeps it, refused now where posting to it would be: ``WatchError`` unless
    it is an http(s) URL, ``AddressRefusedError`` for a host at an address inside the server's
    network (unless QA_FETCH_ALLOW_PRIVATE); the host is resolved, never contacted."""
    try:
        webhook = normalize_url(url)
    except FetchError as exc:
        raise WatchError(f"the webhook {url} is refused: {exc.reason}") from None
    if not settings.fetch_allow_private:
        refuse_inside_url(webhook)
    return webhook
