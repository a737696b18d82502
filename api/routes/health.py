"""Operational routes (no API key): ``/healthz``, ``/readyz``, ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import EngineDep, MetricsDep, SettingsDep

router = APIRouter(tags=["health"])


class LLMStatus(BaseModel):
    configured: bool
    model: str | None = None
    base_url: str | None = None
    down: str | None = Field(None, description="Why answers are extractive for now, if they are.")


class Readiness(BaseModel):
    ready: bool
    store: str
    articles: int
    embed_model: str
    llm: LLMStatus
    detail: str | None = None


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(request: Request, engine: EngineDep, settings: SettingsDep) -> JSONResponse:
    """The store answers and the models are loaded (503 otherwise, and while a server starting
    up loads them, so a load balancer sends it nothing it would answer slowly); LLM status."""
    llm = LLMStatus(configured=settings.llm_configured)
    if settings.llm_configured:
        llm.model, llm.base_url = settings.llm_model, settings.llm_base_url
    if engine.llm is not None:
        llm.down = engine.llm.known_down()
    status = Readiness(
        ready=False,
        store="embedded" if not settings.chroma_url else "server",
        articles=0,
        embed_model=engine.embed.model_name,
        llm=llm,
    )
    try:
        status.articles, _ = await run_in_threadpool(engine.store.ping)  # reaches both stores
        status.ready = request.app.state.warm.is_set()
        status.detail = None if status.ready else "warming up: loading the models and the index"
    except Exception as exc:  # whatever the store raises, it means "not ready"
        status.detail = f"store unavailable: {exc}"
    return JSONResponse(status.model_dump(), status_code=200 if status.ready else 503)


@router.get("/metrics", response_class=Response)
def metrics(metrics: MetricsDep) -> Response:
    """Prometheus text format."""
    return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
