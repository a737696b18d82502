"""Dependencies shared by routes: the engine, settings and metrics built in ``create_app``,
and the API-key check guarding every ``/v1`` route."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.metrics import Metrics
from rag.config import Settings
from rag.engine import Engine


def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics  # type: ignore[no-any-return]


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]

_bearer = HTTPBearer(auto_error=False, description="One of RAG_API_KEYS (only when that is set).")


def require_api_key(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """401 unless RAG_API_KEYS is empty or the bearer token is one of its keys."""
    if not settings.api_keys:
        return
    token = credentials.credentials.encode() if credentials else b""
    # Compare against every key without stopping early, so timing reveals nothing.
    matched = False
    for key in settings.api_keys:
        matched |= hmac.compare_digest(token, key.encode())
    if not matched:
        raise HTTPException(
            401,
            "Missing or invalid API key: send 'Authorization: Bearer <key>' with one of RAG_API_KEYS.",
            headers={"WWW-Authenticate": "Bearer"},
        )
