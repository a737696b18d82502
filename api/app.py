"""The app factory: ``create_app(settings, engine)`` -> a FastAPI app over one ``Engine``.

The engine (store, embedding model, LLM client) is built here once per process, not at
import; tests pass their own. Every ``/v1`` route requires an API key when ``RAG_API_KEYS``
is set; ``/healthz``, ``/readyz``, ``/metrics`` and the web page stay open (the page asks
for the key and sends it). Serve with ``rag serve`` or
``uvicorn --factory api.app:create_app``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse

from api import errors
from api.deps import require_api_key
from api.limits import BodySizeLimit
from api.metrics import Metrics, MetricsMiddleware
from api.routes import ask, chat, documents, health, openai, sources, summaries, verify
from api.slack import mount_slack
from rag.config import Settings
from rag.engine import Engine
from rag.errors import RagError
from rag.runtime import configure_logging

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


WARM_UP_WAIT_SECONDS = 60


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or (engine.settings if engine else Settings())
    owned = engine is None
    if owned:
        configure_logging(settings.log_level)
    engine = engine or Engine(settings)
    if owned:
        _recover(engine)

    warm = threading.Event()
    if not owned:
        warm.set()  # the caller's engine: warming it is the caller's choice

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        warming = threading.Thread(target=_warm_up, args=(engine, warm), daemon=True)
        if owned:  # in the background: /healthz answers at once, /readyz once warm
            warming.start()
        yield
        if owned:
            # A server stopped while still warming up waits for it: closing the engine under it,
            # or exiting while ONNX Runtime builds its threads, aborts the process.
            warming.join(timeout=WARM_UP_WAIT_SECONDS)
            engine.close()

    app = FastAPI(
        title="rag-news",
        summary="Questions over news articles, answered with citations to exact article spans.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.metrics = metrics = Metrics()
    app.state.warm = warm
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    if settings.cors_origins:  # outermost, so error responses carry CORS headers too
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type", "Accept"],
        )

    guarded = [Depends(require_api_key)]
    routers = (ask, chat, documents, sources, summaries, verify, openai)
    for router in (module.router for module in routers):
        app.include_router(router, dependencies=guarded)
    app.include_router(health.router)
    if settings.slack_signing_secret is not None:
        mount_slack(app, engine, settings)

    @app.get("/", include_in_schema=False)
    def web_chat() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    return app


def _warm_up(engine: Engine, warm: threading.Event) -> None:
    try:
        engine.warm_up()
    finally:
        warm.set()


def _recover(engine: Engine) -> None:
    """Finish what a killed server left (an upload saved but not ingested, an interrupted
    ingest) before serving; a failure is logged, and the service starts anyway."""
    try:
        report = engine.recover()
    except RagError as exc:
        log.warning("could not complete an interrupted ingest at start-up", extra={"error": str(exc)})
        return
    if report is not None:
        log.warning("completed an interrupted ingest at start-up", extra=report.counts())
