"""The HTTP front end: FastAPI over the engine, plus the web chat page.

Endpoints (OpenAPI at ``/docs``, served from the package with no other host, and ``/openapi.json``):

* ``POST /ask`` ``{"question", "top_k"?, "conversation_id"?}``: the answer object of
  ``qa ask --json`` plus ``conversation_id`` (a new one when absent; pass it back for follow-ups).
* ``POST /conversations/{id}/more?count=n``: the next answers to that conversation's last
  question, ``{"question", "answers", "conversation_id", "remaining"}`` (the page's "more answers").
* ``GET /search?q=&k=``: ranked passages with scores and article metadata.
* ``GET /documents?offset=&limit=``, ``GET /documents/{id}``, ``POST /documents`` (a JSON article
  or a multipart upload in field ``file``), ``DELETE /documents/{id}``.
* ``GET /feeds``, ``POST /feeds`` ``{"url"}``, ``DELETE /feeds`` (``?url=`` or ``{"url"}``): the
  feeds and sitemaps polled by ``qa refresh`` and, with ``QA_REFRESH``, in the background.
* ``POST /watches`` ``{"question", "webhook"?}``, ``GET /watches``, ``DELETE /watches/{id}``,
  ``GET /watches/{id}/answers``: questions asked again as articles are added, new answers posted
  to the webhook; ``POST /feedback`` ``{"conversation_id", "answer", "vote", "comment"?}``.
* ``GET /health`` (200 with article and chunk counts once the index and models are loaded; before
  that 503 ``{"status": "warming up", "error": {"code": "loading", ...}}``),
  ``GET /metrics`` (Prometheus text), ``GET /`` (the chat page; assets under ``/static/``).

With ``QA_API_KEY`` set every path but ``/health`` and the static page needs
``Authorization: Bearer <key>`` (401).  Document, feed and watch changes are refused (403) when no key is set.
Errors are ``{"error": {"code", "message"}}`` with a 4xx status (503 while the index is loading).
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

import qa
from bots.http import schemas
from bots.http.error_bodies import APIError, error_body, install_error_handlers, qa_error_status
from bots.http.prometheus import CONTENT_TYPE, Metrics, MetricsMiddleware
from bots.http.routes import build_api_router
from bots.http.security import GuardMiddleware, RateLimiter, bearer_scheme
from bots.http.watch_routes import build_watch_router
from qa.answering.conversation import NO_MORE, NOTHING_NEW, Conversations
from qa.config import Settings
from qa.engine import Engine
from qa.errors import QAError
from qa.progress import logged_progress
from qa.runtime.memory import hand_back_large_blocks
from qa.watching.webhooks import WebhookSender
from qa.web.refresher import Refresher

logger = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent / "web"
WARMING_UP = "The index and the models are still loading; try again in a few seconds."
SWAGGER_PREFIX = "/static/swagger-ui"
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class Webhooks:
    """The thread posting the watches' new answers to their webhooks, started once the index is ready."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sender: WebhookSender | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Post what is pending, then every ``QA_WATCH_POLL`` and when woken."""
        with self._lock:
            if self.sender is None:
                self.sender = WebhookSender(self.engine.watching)
                self.sender.start()

    def wake(self) -> None:
        """Post now: articles were just added."""
        if self.sender is not None:
            self.sender.wake()

    def stop(self) -> None:
        """Stop posting."""
        with self._lock:
            if self.sender is not None:
                self.sender.stop()
                self.sender = None


class IndexLoader:
    """Loads (or builds from the seeds) the index, and the models, in a background thread at startup."""

    def __init__(self, engine: Engine, on_ready: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self.on_ready = on_ready
        self.error: Exception | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def done(self) -> bool:
        """True once loading finished, successfully or not."""
        return self._done.is_set()

    def start(self) -> None:
        """Begin loading; the app answers 503 until it is done."""
        self._thread = threading.Thread(target=self._load, name="qa-index-loader", daemon=True)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until loading is done; False on timeout."""
        return self._done.wait(timeout)

    def _load(self) -> None:
        try:
            self.engine.answerer.warm_up(logged_progress(logger))
            stats = self.engine.stats()
            logger.info("index ready: %d articles, %d chunks", stats["articles"], stats["chunks"])
            if self.on_ready is not None:
                self.on_ready()
        except Exception as exc:  # a thread boundary: keep it for /health, log it, never lose it
            self.error = exc
            logger.error("loading the index failed: %s", exc, exc_info=not isinstance(exc, QAError))
        finally:
            self._done.set()


def chat_page_html(settings: Settings) -> str:
    """The chat page, carrying the core's words for what the page says of a conversation by itself
    and the longest question the server accepts (the page checks it before sending, never cuts)."""
    words = {
        "nothing-new": NOTHING_NEW,
        "no-more": NO_MORE,
        "max-question-chars": str(settings.max_question_chars),
    }
    attributes = " ".join(f'data-{name}="{html.escape(text)}"' for name, text in words.items())
    return (WEB_DIR / "index.html").read_text(encoding="utf-8").replace("<body>", f"<body {attributes}>", 1)


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """The FastAPI app over ``engine`` (one is made from ``settings`` and closed when absent)."""
    owned = engine is None
    qa_engine = engine if engine is not None else Engine(settings)
    webhooks = Webhooks(qa_engine)
    refresher = Refresher(qa_engine, settings.refresh, webhooks.wake) if settings.refresh > 0 else None

    def ready() -> None:
        webhooks.start()
        if refresher is not None:
            refresher.start()

    loader = IndexLoader(qa_engine, ready)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        loader.start()
        try:
            yield
        finally:
            loader.wait()
            if refresher is not None:
                refresher.stop()
            webhooks.stop()
            if owned:
                qa_engine.close()

    def require_ready() -> None:
        if not loader.done:
            raise APIError(503, "loading", WARMING_UP, {"Retry-After": "5"})

    app = FastAPI(
        title="qa-bot",
        version=qa.__version__,
        summary="Extractive question answering over a news archive.",
        lifespan=lifespan,
        docs_url=None,  # served below from the package's own Swagger UI files, not a CDN
        redoc_url=None,
        responses={400: {"model": schemas.ErrorBody}, 422: {"model": schemas.ErrorBody}},
    )
    app.state.engine = qa_engine
    app.state.loader = loader
    app.state.refresher = refresher
    app.state.metrics = metrics
    app.state.conversations = Conversations()
    install_error_handlers(app)
    app.state.webhooks = webhooks
    app.include_router(
        build_api_router(settings, qa_engine, app.state.conversations, webhooks.wake),
        dependencies=[Depends(require_ready)],
    )
    app.include_router(
        build_watch_router(settings, qa_engine, app.state.conversations),
        dependencies=[Depends(require_ready)],
    )

    @app.get(
        "/health",
        response_model=schemas.Health,
        responses={503: {"model": schemas.HealthUnavailable}},
        tags=["service"],
    )
    def health() -> dict[str, object] | JSONResponse:
        """200 with the index size once the index and the models are loaded; 503 while they load
        (``warming up``) or without an index."""
        if not loader.done:  # the engine's lock is held while loading: read nothing from it
            body = {"status": "warming up", **error_body("loading", WARMING_UP)}
            return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
        stats = qa_engine.stats()
        if loader.error is not None and stats["articles"] == 0:
            if isinstance(loader.error, QAError):
                _, code = qa_error_status(loader.error)
            else:
                code = "startup_failed"
            return JSONResponse({"status": "unavailable", **error_body(code, str(loader.error))}, 503)
        return {"status": "ok", "articles": stats["articles"], "chunks": stats["chunks"]}

    @app.get("/metrics", response_class=Response, tags=["service"], dependencies=[Depends(bearer_scheme)])
    def prometheus_metrics() -> Response:
        """Prometheus text: requests by route and status, latency, index size."""
        stats = qa_engine.stats() if loader.done else None
        return Response(metrics.render(stats), media_type=CONTENT_TYPE)

    page = chat_page_html(settings)

    @app.get("/", include_in_schema=False)
    def chat_page() -> HTMLResponse:
        return HTMLResponse(page, headers=PAGE_HEADERS)

    @app.get("/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="qa-bot API",
            swagger_js_url=f"{SWAGGER_PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_PREFIX}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from validator.swagger.io
        )

    # Swagger UI's files come with the swagger-ui-bundle package: /docs works offline.
    app.mount(SWAGGER_PREFIX, StaticFiles(directory=swagger_ui_path), name="swagger-ui")
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    # Added innermost first: CORS answers preflights before the guard, metrics see everything.
    app.add_middleware(
        GuardMiddleware,
        api_key=settings.api_key or None,
        rate_limiter=RateLimiter(settings.rate_limit),
        max_body_bytes=settings.max_upload_bytes,
    )
    origins = settings.cors_origin_list()
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=lambda: app.routes)
    return app


def serve(settings: Settings) -> None:
    """Run the HTTP service on ``settings.host:settings.port`` until interrupted."""
    hand_back_large_blocks()  # before the models load: memory of concurrent passes goes back after them
    engine = Engine(settings)
    engine.archive.require_index()  # a chosen folder without an index stops here, before the port opens
    app = create_app(settings, engine)
    logger.info("serving on http://%s:%d/", settings.host, settings.port)
    if settings.refresh > 0:
        logger.info("polling the feeds every %g s", settings.refresh)
    uvicorn.run(app, host=settings.host, port=settings.port, server_header=False)
