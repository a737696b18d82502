"""The `rag` command as a user runs it (a real subprocess): ingest, ask --json, errors."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import RAG

pytestmark = pytest.mark.slow


def rag(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RAG, *args], cwd=cwd, capture_output=True, text=True, timeout=240)


def test_ingest_then_ask_json(corpus_dir: Path, tmp_path: Path) -> None:
    first = rag("ingest", str(corpus_dir), "--json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert len(json.loads(first.stdout)["added"]) == 5
    second = rag("ingest", str(corpus_dir), "--json", cwd=tmp_path)
    report = json.loads(second.stdout)
    assert len(report["unchanged"]) == 5 and report["chunks_embedded"] == 0

    asked = rag("ask", "What is China providing Russia?", "--json", cwd=tmp_path)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert set(answer) >= {"answer", "refused", "mode", "degraded", "sentences", "citations"}
    assert "microelectronics" in answer["answer"] and answer["citations"]
    cite = answer["citations"][0]
    assert set(cite) >= {
        "id",
        "document_id",
        "title",
        "source",
        "author",
        "published_at",
        "url",
        "quote",
        "start",
        "end",
        "score",
    }

    listed = rag("documents", "--json", cwd=tmp_path)
    assert len(json.loads(listed.stdout)) == 5


def test_an_ingest_waits_for_another_and_says_so(corpus_dir: Path, tmp_path: Path) -> None:
    """While another process writes (here: the test holds the writer lock), `rag ingest` says it
    is waiting instead of showing a bar that does not move, then ingests once the lock is free."""
    from rag.store.database import Database, database_url

    data = tmp_path / "data"
    data.mkdir()
    db = Database(database_url(None, data), data)
    lines: list[str] = []
    with db.exclusive("ingest"):
        ingest = subprocess.Popen(
            [*RAG, "ingest", str(corpus_dir), "--json", "--data-dir", str(data)],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert ingest.stderr is not None
        threading.Thread(target=lambda: lines.extend(ingest.stderr), daemon=True).start()  # type: ignore[arg-type]
        deadline = time.monotonic() + 120
        while not any("waiting up to" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.1)
    assert ingest.stdout is not None
    out = ingest.stdout.read()
    ingest.wait(timeout=240)
    db.close()
    assert any("Another ingest is writing" in line for line in lines), lines
    assert ingest.returncode == 0, lines
    assert len(json.loads(out)["added"]) == 5


def test_errors_are_messages_with_exit_codes(tmp_path: Path) -> None:
    empty = rag("ask", "   ", cwd=tmp_path)
    assert empty.returncode == 2 and "empty" in empty.stderr and "Traceback" not in empty.stderr
    missing = rag("ingest", str(tmp_path / "nope"), cwd=tmp_path)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    before = rag("ask", "What is China providing Russia?", cwd=tmp_path)
    assert before.returncode == 1 and "rag ingest" in before.stderr and "Traceback" not in before.stderr
    bad_date = rag("ask", "x", "--since", "yesterday", cwd=tmp_path)
    assert bad_date.returncode == 2 and "--since" in bad_date.stderr


def test_an_unusable_data_dir_is_named_without_a_traceback(tmp_path: Path) -> None:
    in_the_way = tmp_path / "data"
    in_the_way.write_text("not a folder")
    for where in (in_the_way, in_the_way / "below"):
        run = subprocess.run(
            [*RAG, "ask", "x"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=240,
            env={**os.environ, "RAG_DATA_DIR": str(where)},
        )
        assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
        assert f"Cannot use {where} as the data directory" in run.stderr and "RAG_DATA_DIR" in run.stderr


def test_doctor_on_a_missing_data_dir_says_so_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    run = rag("--data-dir", str(missing), "doctor", cwd=tmp_path)
    assert run.returncode == 1 and f"No data directory at {missing}" in " ".join(run.stdout.split())
    assert not missing.exists()


def test_progress_away_from_a_terminal_is_plain_lines(capsys: pytest.CaptureFixture[str]) -> None:
    """Under CI or `nohup`, where no bar is drawn, a long command still says how far it is."""
    from api.cli.app import PlainProgress

    bar = PlainProgress(disable=True, every=0.0)
    task = bar.add_task("Embedding articles", total=300)
    bar.update(task, completed=80)
    assert "Embedding articles: 80 of 300" in capsys.readouterr().err
    quiet = PlainProgress(disable=True, every=None)  # on a terminal Rich draws the bar instead
    quiet.update(quiet.add_task("x", total=2), completed=1)
    assert capsys.readouterr().err == ""


def test_data_dir_may_follow_the_command(corpus_dir: Path, tmp_path: Path) -> None:
    """`rag ingest corpus --data-dir d` failed with "No such option: --data-dir"."""
    added = rag("ingest", str(corpus_dir), "--data-dir", "elsewhere", "--json", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert (tmp_path / "elsewhere").is_dir() and not (tmp_path / "data").exists()
    listed = rag("documents", "--json", "--data-dir=elsewhere", cwd=tmp_path)
    assert len(json.loads(listed.stdout)) == 5


def test_a_data_dir_written_after_the_command_wins() -> None:
    from api.cli import hoisted

    assert hoisted(["--data-dir", "a", "config", "--data-dir", "b"]) == [
        "--data-dir",
        "a",
        "--data-dir",
        "b",
        "config",
    ]
    assert hoisted(["eval", "multihop", "--data-dir", "x"]) == ["eval", "multihop", "--data-dir", "x"]
    assert hoisted(["ask", "--", "--data-dir"]) == ["ask", "--", "--data-dir"]
