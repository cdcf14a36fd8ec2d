"""The API routes: each one translates a request into one engine call and the result back."""

# No ``from __future__ import annotations``: FastAPI must see the request model that
# ``build_api_router`` defines locally (its question length comes from the settings).

import logging
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import Field, ValidationError
from starlette.datastructures import UploadFile

from bots.http import schemas
from bots.http.error_bodies import APIError
from bots.http.security import bearer_scheme, write_access
from qa.answering.conversation import Conversations, answer_json
from qa.config import Settings
from qa.engine import Engine
from qa.errors import QAError
from qa.models import Article, Skipped

logger = logging.getLogger(__name__)

# Ids are the articles' own (a .jsonl line's "id" may hold "/"): routes take the rest of the path.
DocId = Annotated[str, Path(min_length=1, max_length=200, description="The id, percent-encoded.")]
ConversationId = Annotated[str, Path(pattern=schemas.CONVERSATION_ID_PATTERN)]


def build_api_router(
    settings: Settings, engine: Engine, conversations: Conversations, added: Callable[[], None]
) -> APIRouter:
    """The API routes over ``engine``; ``settings`` gives the limits and the write key; ``added`` is
    called after an upload (the watches' webhooks are then posted)."""
    router = APIRouter(dependencies=[Depends(bearer_scheme)])
    require_write_access = write_access(settings)

    class AskRequest(schemas.AskRequest):
        question: Annotated[str, schemas.NOT_BLANK] = Field(
            min_length=1,
            max_length=settings.max_question_chars,
            description="The question, in plain words.",
            examples=["When did the war start?"],
        )

    @router.post("/ask", response_model=schemas.AskResponse, tags=["answers"])
    def ask(body: AskRequest) -> dict[str, Any]:
        """Answer with sentences quoted from the archive; follow-ups use the conversation."""
        conversation_id, conversation = conversations.get_or_start(body.conversation_id)
        result = engine.ask(
            body.question,
            conversation=conversation,
            top_k=body.top_k,
            since=body.since,
            until=body.until,
            as_of=body.as_of,
        )
        return answer_json(result, conversation_id)

    @router.post(
        "/conversations/{conversation_id}/more",
        response_model=schemas.MoreResponse,
        tags=["answers"],
    )
    def more_answers(
        conversation_id: ConversationId,
        count: Annotated[int | None, Query(ge=1, le=50)] = None,
    ) -> dict[str, Any]:
        """Further answers to the conversation's last question (empty when none are left)."""
        return conversations.more(conversation_id, count or settings.top_k)

    @router.get("/search", response_model=schemas.SearchResponse, tags=["answers"])
    def search(
        q: Annotated[str, Query(min_length=1, max_length=settings.max_question_chars), schemas.NOT_BLANK],
        k: Annotated[int, Query(ge=1, le=50)] = 10,
        since: Annotated[date | None, Query(description="Published on or after (YYYY-MM-DD).")] = None,
        until: Annotated[date | None, Query(description="Published on or before (YYYY-MM-DD).")] = None,
    ) -> dict[str, Any]:
        """Ranked passages for a query, with scores and article metadata, from the articles
        published between ``since`` and ``until`` when given."""
        passages = engine.search(q, k=k, since=since, until=until)
        days = engine.searched_days(q, since, until)
        return {
            "query": q,
            "passages": [p.to_dict() for p in passages],
            "since": days.since.isoformat() if days and days.since else None,
            "until": days.last_day.isoformat() if days and days.last_day else None,
        }

    @router.get("/archive", response_model=schemas.ArchiveInfo, tags=["documents"])
    def archive() -> dict[str, Any]:
        """The archive's size and the title of its newest article (the chat page's example)."""
        stats = engine.stats()
        newest, _ = engine.document_page(0, 1, order="date")
        return {**stats, "example_title": newest[0].title if newest else None}

    @router.get("/documents", response_model=schemas.DocumentPage, tags=["documents"])
    def list_documents(
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=500, description="Articles per page, 1 to 500.")] = 50,
    ) -> dict[str, Any]:
        """One page of the indexed articles, in index order."""
        documents = engine.documents(offset=offset, limit=limit)
        total = engine.stats()["articles"]
        return {
            "documents": [d.to_dict() for d in documents],
            "offset": offset,
            "limit": limit,
            "total": total,
        }

    @router.get("/documents/{doc_id:path}", response_model=schemas.DocumentDetail, tags=["documents"])
    def get_document(doc_id: DocId) -> dict[str, Any]:
        """One indexed article with its full text."""
        info, text = engine.document(doc_id)
        return {**info.to_dict(), "text": text}

    @router.post(
        "/documents",
        status_code=201,
        response_model=schemas.DocumentsAdded,
        dependencies=[Depends(require_write_access)],
        openapi_extra={"requestBody": _documents_request_body()},
        tags=["documents"],
    )
    async def add_documents(request: Request) -> dict[str, Any]:
        """Add or replace articles: a JSON article, or a file upload (field ``file``)."""
        articles, skipped = await _articles_from_request(request, engine, settings)
        report = await run_in_threadpool(engine.add_articles, articles)
        added()
        return {
            "added": report.added,
            "chunks_embedded": report.chunks_embedded,
            "skipped": [{"place": p, "reason": r} for p, r in skipped + report.skipped],
        }

    @router.delete(
        "/documents/{doc_id:path}",
        status_code=204,
        dependencies=[Depends(require_write_access)],
        tags=["documents"],
    )
    def delete_document(doc_id: DocId) -> Response:
        """Remove an article; the next query no longer sees it."""
        engine.remove_document(doc_id)
        return Response(status_code=204)

    @router.get("/feeds", response_model=schemas.FeedList, tags=["feeds"])
    def list_feeds() -> dict[str, Any]:
        """The feeds and sitemaps polled by `qa refresh` and `--refresh`."""
        return {"feeds": [f.to_dict() for f in engine.feeds()]}

    @router.post(
        "/feeds",
        status_code=201,
        response_model=schemas.FeedOut,
        dependencies=[Depends(require_write_access)],
        tags=["feeds"],
    )
    def add_feed(body: schemas.FeedIn, background: BackgroundTasks, response: Response) -> dict[str, Any]:
        """Register a feed or sitemap (fetched once to check it is one); its articles are read
        right after the response, and again at each refresh. 201 for a new feed, 200 for one
        already registered (its URL as stored: one written differently matches)."""
        registered = {f.url for f in engine.feeds()}
        feed = engine.add_feed(body.url)
        if feed.url in registered:
            response.status_code = 200
        background.add_task(_first_poll, engine, feed.url)
        return feed.to_dict()

    @router.delete(
        "/feeds",
        status_code=204,
        dependencies=[Depends(require_write_access)],
        tags=["feeds"],
    )
    def remove_feed(
        url: Annotated[str | None, Query(max_length=2000, description="The feed's URL.")] = None,
        body: schemas.FeedIn | None = None,
    ) -> Response:
        """Stop polling a feed (``?url=`` or a JSON body ``{"url"}``); its articles stay."""
        target = url or (body.url if body is not None else None)
        if not target:
            raise APIError(422, "missing_url", 'Name the feed: ?url=... or a JSON body {"url": ...}.')
        engine.remove_feed(target)
        return Response(status_code=204)

    return router


def _first_poll(engine: Engine, url: str) -> None:
    """Read a newly added feed's articles (after the response; a failure is only logged)."""
    try:
        engine.refresh([url])
    except QAError as exc:
        logger.warning("reading the new feed %s failed: %s", url, exc)


async def _articles_from_request(
    request: Request, engine: Engine, settings: Settings
) -> tuple[list[Article], list[Skipped]]:
    """Parse the body of ``POST /documents`` (JSON article or multipart upload) with the core: the
    articles, and the parts of an upload skipped (a .jsonl file's bad lines)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        raw = await request.body()
        try:
            article = schemas.ArticleIn.model_validate_json(raw)
        except ValidationError as exc:
            raise RequestValidationError(exc.errors(include_url=False)) from None
        return await run_in_threadpool(engine.load_posted, article.model_dump(exclude_none=True))
    if content_type == "multipart/form-data":
        limits = {"max_files": 1, "max_fields": 4, "max_part_size": settings.max_upload_bytes}
        async with request.form(**limits) as form:  # closes the spooled upload files
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise APIError(422, "missing_file", "Send the document in a form field named 'file'.")
            data, name = await upload.read(), upload.filename or ""
        return await run_in_threadpool(engine.load_upload, name, data)
    raise APIError(
        415,
        "unsupported_media_type",
        "Send a JSON article (application/json) or a file (multipart/form-data, field 'file').",
    )


def _documents_request_body() -> dict[str, Any]:
    """OpenAPI for the two bodies ``POST /documents`` accepts."""
    return {
        "required": True,
        "content": {
            "application/json": {"schema": schemas.ArticleIn.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A .txt, .md, .html, .json or .jsonl document.",
                        }
                    },
                }
            },
        },
    }
