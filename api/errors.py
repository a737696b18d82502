"""The one JSON error shape, ``{"error": {"type", "message"}}``, for every failure.

Engine errors (``rag.errors``), request validation, HTTP errors (404 route, 405, 413 body
limit, 401) and anything unexpected are translated here, in one place; a 500 says that the
server failed and is logged, but never carries a traceback to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from rag.errors import (
    BadInput,
    FetchFailed,
    FileTooLarge,
    IndexMismatch,
    LLMUnavailable,
    NotFound,
    NothingIndexed,
    RagError,
    StoreBusy,
    StoreUnavailable,
    TooLarge,
    UnreadableFile,
    UnsupportedFile,
)

log = logging.getLogger(__name__)

# Most specific first: UnsupportedFile, FileTooLarge and TooLarge are also BadInput.
_STATUS: list[tuple[type[RagError], int]] = [
    (UnsupportedFile, 415),
    (FileTooLarge, 413),
    (TooLarge, 413),
    (UnreadableFile, 422),
    (BadInput, 400),
    (NotFound, 404),
    (StoreBusy, 409),
    (NothingIndexed, 503),
    (StoreUnavailable, 503),
    (IndexMismatch, 503),
    (LLMUnavailable, 503),
    (FetchFailed, 502),
]
_HTTP_TYPES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "busy",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    503: "unavailable",
}


class ErrorDetail(BaseModel):
    type: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


def error_body(kind: str, message: str) -> dict[str, dict[str, str]]:
    return ErrorResponse(error=ErrorDetail(type=kind, message=message)).model_dump()


def rag_error(exc: RagError) -> tuple[int, dict[str, dict[str, str]]]:
    """Status code and body for an engine error (also used for SSE error events)."""
    status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 500)
    return status, error_body(exc.kind, str(exc))


def validation_message(errors: Sequence[Any]) -> str:
    """Pydantic's errors as one message naming each field (the body's, or a query's)."""
    parts = []
    for err in list(errors)[:5]:
        if err.get("type") == "json_invalid":  # its location is a character offset, not a field
            reason = (err.get("ctx") or {}).get("error", "")
            parts.append(f"The body is not valid JSON{f' ({reason})' if reason else ''}.")
            continue
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")  # our validators' own words
        parts.append(f"{where}: {message}")
    return "; ".join(parts) or "Invalid request."


def install(app: FastAPI) -> None:
    @app.exception_handler(RagError)
    async def on_rag_error(_: Request, exc: RagError) -> JSONResponse:
        status, body = rag_error(exc)
        return JSONResponse(body, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def on_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body("validation_error", validation_message(exc.errors())), status_code=422)

    @app.exception_handler(HTTPException)
    async def on_http(_: Request, exc: HTTPException) -> JSONResponse:
        kind = _HTTP_TYPES.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(kind, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body("internal_error", "The server failed to handle this request; see its log."),
            status_code=500,
        )
