"""Chroma server mode (RAG_CHROMA_URL) against a real ``chroma run`` process."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import Settings
from rag.embeddings import OnnxEmbedding
from rag.engine import Engine
from rag.models import Answer
from tests.api.conftest import QUESTION, Serve
from tests.servers.chroma import chroma_server

pytestmark = pytest.mark.slow


def test_a_replica_rebuilds_its_catalog_from_the_server_and_503s_when_it_dies(
    tmp_path: Path, corpus_dir: Path, embed: OnnxEmbedding, serve: Serve
) -> None:
    with chroma_server(tmp_path / "chroma-server") as chroma:
        url = chroma.url
        writer = Engine(Settings(data_dir=tmp_path / "writer", chroma_url=url), embed=embed)
        writer.ingest([corpus_dir])
        expected = writer.ask(QUESTION)
        writer.close()

        # A second process with an empty data dir: catalog and BM25 come from the server.
        with serve(chroma_url=url) as replica, replica.client() as c:
            ready = c.get("/readyz").json()
            assert ready["ready"] and ready["store"] == "server" and ready["articles"] == 5
            answer = Answer.model_validate(c.post("/v1/ask", json={"question": QUESTION}).json())
            assert answer == expected
            for cit in answer.citations:
                doc = c.get(f"/v1/documents/{cit.document_id}").json()
                assert doc["text"][cit.start : cit.end] == cit.quote
                assert doc["source"] == "Business Insider"
            hits = c.get("/v1/search", params={"q": "Starlink terminals"}).json()["passages"]
            assert "Starlink" in hits[0]["text"]

            chroma.process.terminate()
            chroma.process.wait(timeout=15)
            down = c.get("/readyz")
            assert down.status_code == 503 and down.json()["ready"] is False
            # A question is answered from the vectors held in memory, or refused clearly ...
            asked = c.post("/v1/ask", json={"question": QUESTION})
            if asked.status_code == 200:
                assert asked.json() == expected.model_dump(mode="json")
            else:
                assert asked.status_code == 503 and asked.json()["error"]["type"] == "unavailable"
            # ... and writes need the server: a clear 503, never a 500.
            doc = {"title": "Late news", "body": "A story that arrives while the store is down."}
            failed = c.post("/v1/documents", json=doc)
            assert failed.status_code == 503, failed.text
            assert failed.json()["error"]["type"] == "unavailable"
            assert c.delete(f"/v1/documents/{answer.citations[0].document_id}").status_code == 503
