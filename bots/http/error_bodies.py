"""Every HTTP error in one JSON shape: ``{"error": {"code": ..., "message": ...}}``."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa.errors import (
    AddressRefusedError,
    ConfigError,
    ConversationNotFoundError,
    DocumentError,
    DocumentNotFoundError,
    FeedbackError,
    FeedNotFoundError,
    FetchError,
    IndexBusyError,
    IndexCorruptError,
    ModelError,
    NoIndexError,
    QAError,
    QuestionError,
    WatchError,
    WatchNotFoundError,
)

logger = logging.getLogger(__name__)

# QAError subclasses -> (HTTP status, error code); the most specific class wins (MRO order).
QA_ERROR_STATUS: dict[type[QAError], tuple[int, str]] = {
    QuestionError: (422, "invalid_question"),
    DocumentError: (422, "invalid_document"),
    FetchError: (422, "fetch_failed"),
    AddressRefusedError: (422, "address_refused"),
    DocumentNotFoundError: (404, "document_not_found"),
    FeedNotFoundError: (404, "feed_not_found"),
    WatchError: (422, "invalid_watch"),
    WatchNotFoundError: (404, "watch_not_found"),
    ConversationNotFoundError: (404, "conversation_not_found"),
    FeedbackError: (422, "invalid_feedback"),
    NoIndexError: (503, "no_index"),
    IndexBusyError: (503, "index_busy"),
    IndexCorruptError: (503, "index_corrupt"),
    ModelError: (503, "model_unavailable"),
    ConfigError: (500, "config_error"),
    QAError: (400, "qa_error"),
}
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "unavailable",
}
_PLAIN_WORD = re.compile(r"[a-z]+ ")  # "no feed ...", never "http://...", "notes.jsonl:3" or "index_dir"


class APIError(Exception):
    """An HTTP error raised by the adapter itself (not by the core)."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def error_body(code: str, message: str) -> dict[str, Any]:
    """The JSON document of an error."""
    return {"error": {"code": code, "message": message}}


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """A JSON error response."""
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


def qa_error_status(exc: QAError) -> tuple[int, str]:
    """The HTTP status and error code of a core error."""
    for cls in type(exc).__mro__:
        if cls in QA_ERROR_STATUS:
            return QA_ERROR_STATUS[cls]
    return QA_ERROR_STATUS[QAError]


def describe_validation_error(errors: list[Any]) -> tuple[str, str]:
    """A code and one readable sentence for pydantic's list of validation errors."""
    first = errors[0] if errors else {}
    loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    kind = str(first.get("type", ""))
    field = ".".join(loc)
    if kind == "json_invalid":
        return "invalid_json", "The request body is not valid JSON."
    if field == "question" and kind == "string_too_long":
        limit = first.get("ctx", {}).get("max_length")
        return "question_too_long", f"The question is longer than {limit} characters."
    if field == "question" and kind == "string_too_short":
        return "question_empty", "The question is empty."
    message = str(first.get("msg", "invalid request"))
    return "invalid_request", f"{field}: {message}" if field else message


async def _qa_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QAError)
    status, code = qa_error_status(exc)
    logger.info("%s %s -> %d %s: %s", request.method, request.url.path, status, code, exc)
    headers = {"Retry-After": "5"} if status == 503 else None
    return error_response(status, code, qa_error_message(exc), headers)


def qa_error_message(exc: QAError) -> str:
    """A core error's line for an API client: a plain first word capitalised, a URL, file name or
    identifier left as it is, and the API's way to look, not the CLI's."""
    if isinstance(exc, FeedNotFoundError):
        return f"No feed {exc.url!r} is registered (see GET /feeds)."
    message = str(exc)
    if isinstance(exc, DocumentError):  # it starts with the file or URL it names
        return message
    return message[:1].upper() + message[1:] if _PLAIN_WORD.match(message) else message


async def _api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, APIError)
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def _http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 404 and message == "Not Found":
        message = f"There is nothing at {request.url.path}."
    return error_response(exc.status_code, code, message, exc.headers)


async def _validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    code, message = describe_validation_error(list(exc.errors()))
    return error_response(422, code, message)


async def _unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    # Starlette logs the traceback and re-raises after this response is sent.
    return error_response(500, "internal_error", "Something went wrong on the server.")


def install_error_handlers(app: FastAPI) -> None:
    """Route every error the app can meet to the one JSON shape."""
    app.add_exception_handler(QAError, _qa_error_handler)
    app.add_exception_handler(APIError, _api_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)
    app.add_exception_handler(Exception, _unexpected_error_handler)
