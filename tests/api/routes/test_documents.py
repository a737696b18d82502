"""/v1/documents: multipart and JSON uploads (sanitised, capped, type-checked), list, read, delete."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx

from rag.engine import Engine
from rag.models import Answer, Article, ArticleInfo, IngestReport
from tests.api.conftest import Serve

STORY = (
    "Harbor Town opens floating solar farm\n"
    "HARBOR NEWS: The town of Harbor opened a floating solar farm on its reservoir on Monday.\n"
    "The array of 12,000 panels will supply about a fifth of the town's electricity, the mayor said.\n"
)


def upload(client: httpx.Client, *files: tuple[str, bytes]) -> httpx.Response:
    return client.post("/v1/documents", files=[("files", (name, data)) for name, data in files])


def test_an_uploaded_file_is_searchable_and_citable(fresh: httpx.Client) -> None:
    r = upload(fresh, ("../../etc/solar farm?.txt", STORY.encode()))
    assert r.status_code == 200, r.text
    report = IngestReport.model_validate(r.json())
    assert len(report.added) == 1
    doc = Article.model_validate(fresh.get(f"/v1/documents/{report.added[0]}").json())
    assert doc.title == "Harbor Town opens floating solar farm"
    assert re.search(
        r"/uploads/solar_farm-[0-9a-f]{8}\.txt$", doc.origin
    )  # no directories, no odd characters

    answer = Answer.model_validate(
        fresh.post("/v1/ask", json={"question": "How many panels does the floating solar farm have?"}).json()
    )
    assert any("12,000 panels" in c.quote and c.document_id == doc.id for c in answer.citations)
    # Uploading the same name again updates the article instead of adding another.
    again = IngestReport.model_validate(
        upload(fresh, ("solar farm?.txt", (STORY + "More.\n").encode())).json()
    )
    assert again.updated == report.added and not again.added


def test_every_file_of_an_upload_is_ingested(fresh: httpx.Client) -> None:
    other = STORY.replace("Harbor", "Millbrook").replace("12,000", "8,000")
    r = upload(fresh, ("harbor.txt", STORY.encode()), ("millbrook.txt", other.encode()))
    assert r.status_code == 200, r.text
    report = IngestReport.model_validate(r.json())
    titles = {Article.model_validate(fresh.get(f"/v1/documents/{i}").json()).title for i in report.added}
    assert titles == {"Harbor Town opens floating solar farm", "Millbrook Town opens floating solar farm"}


def test_a_csv_export_is_uploaded_with_its_outlets_and_dates(fresh: httpx.Client) -> None:
    table = (
        "headline,publication,date,content\n"
        'Ferry returns,Harbor News,2024-03-07,"The ferry ran again on Thursday, after repairs."\n'
    )
    r = upload(fresh, ("export.csv", table.encode()))
    assert r.status_code == 200, r.text
    [added] = IngestReport.model_validate(r.json()).added
    doc = Article.model_validate(fresh.get(f"/v1/documents/{added}").json())
    assert (doc.title, doc.source) == ("Ferry returns", "Harbor News")
    assert doc.published_at is not None and doc.published_at.date().isoformat() == "2024-03-07"


def test_json_document_round_trip(fresh: httpx.Client) -> None:
    body = {
        "title": "Council approves bike lanes",
        "body": "The city council approved 40 kilometres of protected bike lanes on Tuesday.",
        "source": "City Ledger",
        "published_at": "2024-03-05",
        "url": "https://ledger.example/bike-lanes",
    }
    report = IngestReport.model_validate(fresh.post("/v1/documents", json=body).json())
    assert len(report.added) == 1
    assert fresh.post("/v1/documents", json=body).json()["unchanged"] == report.added  # idempotent
    listed = [ArticleInfo.model_validate(d) for d in fresh.get("/v1/documents").json()]
    mine = next(d for d in listed if d.id == report.added[0])
    assert (mine.source, mine.url, mine.published_at and mine.published_at.date().isoformat()) == (
        "City Ledger",
        "https://ledger.example/bike-lanes",
        "2024-03-05",
    )
    assert fresh.delete(f"/v1/documents/{mine.id}").status_code == 204
    assert fresh.get(f"/v1/documents/{mine.id}").status_code == 404
    assert mine.id not in [d["id"] for d in fresh.get("/v1/documents").json()]
    missing_body = fresh.post("/v1/documents", json={"title": "No body"})
    assert missing_body.status_code == 422 and "body" in missing_body.json()["error"]["message"]


def test_wrong_types_are_415(fresh: httpx.Client) -> None:
    cases = [
        upload(fresh, ("tool.exe", b"MZ\x90\x00binary")),
        upload(fresh, ("fake.pdf", b"just text")),
        upload(fresh, ("latin1.txt", "café".encode("latin-1"))),
        fresh.post("/v1/documents", content=b"hello", headers={"content-type": "text/plain"}),
    ]
    for r in cases:
        assert r.status_code == 415, r.text
        assert r.json()["error"]["type"] == "unsupported_media_type"
    assert "tool.exe" in cases[0].json()["error"]["message"]
    before = fresh.get("/v1/documents").json()
    for batch in (
        (("ok.txt", STORY.encode()), ("bad.exe", b"x")),
        (("bad.exe", b"x"), ("ok.txt", STORY.encode())),
    ):
        assert upload(fresh, *batch).status_code == 415
    assert fresh.get("/v1/documents").json() == before  # nothing of a rejected batch is kept


def test_a_file_that_holds_no_article_is_422_and_keeps_the_good_one(fresh: httpx.Client) -> None:
    record = {"title": "Harbor Town opens floating solar farm", "body": STORY}
    good = IngestReport.model_validate(upload(fresh, ("harbor.json", json.dumps(record).encode())).json())
    for data in (b'{"title": "cut short", "body": ', b"[]"):
        r = upload(fresh, ("harbor.json", data))
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["type"] == "unreadable_file" and "'harbor.json'" in error["message"]
    # The article uploaded before is still there, and still what the file holds.
    kept = Article.model_validate(fresh.get(f"/v1/documents/{good.added[0]}").json())
    assert kept.text.startswith(STORY[:40])
    again = upload(fresh, ("harbor.json", json.dumps(record).encode())).json()
    assert again["unchanged"] == good.added


def test_size_limits_are_413(serve: Serve, seeded: Engine) -> None:
    with serve(max_upload_bytes=2048, max_body_bytes=64 * 1024) as running, running.client() as c:
        too_big_file = upload(c, ("big.txt", b"word " * 1000))
        assert too_big_file.status_code == 413
        assert too_big_file.json()["error"]["type"] == "payload_too_large"
        assert "RAG_MAX_UPLOAD_BYTES" in too_big_file.json()["error"]["message"]
        too_big_body = c.post("/v1/ask", json={"question": "x" * (70 * 1024)})
        assert too_big_body.status_code == 413
        assert too_big_body.json()["error"]["type"] == "payload_too_large"

        def chunked() -> Iterator[bytes]:  # no Content-Length: the limit counts what arrives
            for _ in range(70):
                yield b"x" * 1024

        streamed = c.post("/v1/documents", content=chunked(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        assert streamed.json()["error"]["type"] == "payload_too_large"
