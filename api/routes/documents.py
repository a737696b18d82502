"""``/v1/documents``: upload (multipart files or one JSON article), list, read, delete."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from api.deps import EngineDep
from api.errors import validation_message
from rag.errors import BadInput, UnsupportedFile
from rag.models import Article, ArticleInfo, IngestReport
from rag.uploads import NewDocument

router = APIRouter(prefix="/v1/documents", tags=["documents"])

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                    "required": ["files"],
                }
            },
            "application/json": {"schema": NewDocument.model_json_schema()},
        },
    }
}


async def _uploaded_files(request: Request) -> list[tuple[str, bytes]]:
    form = await request.form()
    # multi_items: a repeated field ('files' once per file) holds every value; values() keeps the last.
    files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
    if not files:
        raise BadInput("No files in the upload; send them as multipart field 'files'.")
    return [(f.filename or "upload", await f.read()) for f in files]


@router.post("", openapi_extra=_UPLOAD_BODY)
async def add_documents(request: Request, engine: EngineDep) -> IngestReport:
    """Ingest uploaded files (.txt .md .html .pdf .json .jsonl .csv .tsv; multipart field `files`,
    repeatable) or one article as JSON `{title, body, source?, published_at?, url?}`.
    Uploading a file with the same name again updates its articles."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            doc = NewDocument.model_validate_json(await request.body())
        except ValidationError as exc:
            raise HTTPException(422, validation_message(exc.errors())) from None
        return await run_in_threadpool(engine.add_document, doc)
    if kind == "multipart/form-data":
        files = await _uploaded_files(request)
        return await run_in_threadpool(engine.upload, files)
    raise UnsupportedFile("Send multipart/form-data (files) or application/json (one article).")


@router.get("")
def list_documents(engine: EngineDep) -> list[ArticleInfo]:
    """Every ingested article's metadata, newest first."""
    return engine.documents()


@router.get("/{document_id}")
def get_document(document_id: str, engine: EngineDep) -> Article:
    """An article's metadata and the exact text citation offsets point into."""
    return engine.document(document_id)


@router.delete("/{document_id}", status_code=204)
def delete_document(document_id: str, engine: EngineDep) -> Response:
    engine.delete_document(document_id)
    return Response(status_code=204)
