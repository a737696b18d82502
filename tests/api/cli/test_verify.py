"""``rag verify`` as a user runs it: a table, --json, and exit codes for scripts."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.conftest import RAG, SEED


def rag(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250"}  # a wide terminal: the table's quotes on one line each
    return subprocess.run([*RAG, *args], cwd=cwd, capture_output=True, text=True, timeout=240, env=env)


def test_the_issue_example_against_the_seed_file(tmp_path: Path) -> None:
    text = (
        "China is providing Russia with geospatial satellite imagery for military use. "
        "China has sent Russia fighter jets."
    )
    shown = rag("verify", text, "--against", str(SEED), cwd=tmp_path)
    assert shown.returncode == 1, shown.stderr
    assert "supported" in shown.stdout and "geospatial satellite imagery" in shown.stdout
    as_json = rag("verify", text, "--against", str(SEED), "--json", cwd=tmp_path)
    assert as_json.returncode == 1
    body = json.loads(as_json.stdout)
    first, second = body["sentences"]
    assert (
        first["verdict"] == "supported" and "geospatial satellite imagery" in first["citations"][0]["quote"]
    )
    assert second["verdict"] != "supported"
    assert not (tmp_path / "data").exists()  # checked against the file: no index made


def test_exit_codes(tmp_path: Path) -> None:
    supported = rag(
        "verify",
        "China is providing Russia with geospatial satellite imagery for military use.",
        "--against",
        str(SEED),
        cwd=tmp_path,
    )
    assert supported.returncode == 0, supported.stderr
    missing = rag("verify", "Anything.", "--against", "nope.txt", cwd=tmp_path)
    assert missing.returncode == 2 and "no such file" in missing.stderr and "Traceback" not in missing.stderr
    assert rag("verify", "   ", "--against", str(SEED), cwd=tmp_path).returncode == 2
