"""Every benchmark script still starts: the figures in the notes are printed by these scripts,
and one that no longer imports (a module moved under it) would only be found by the next person
who needs its numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "benchmarks").glob("*.py"))


def test_there_are_benchmarks() -> None:
    assert len(SCRIPTS) >= 10


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_a_benchmark_prints_its_usage(script: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        [sys.executable, str(script), "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "usage:" in run.stdout


@pytest.mark.slow
def test_the_checker_is_scored_on_a_users_own_labelled_sentences(tmp_path: Path) -> None:
    """A newsroom scores the shipped checker on sentences its editors judged."""
    article = "The council approved 3 new bus routes on Monday. The mayor said fares stay at 2 pounds."
    rows = [
        {"claim": "The council approved 3 new bus routes.", "evidence": article, "supported": True},
        {"claim": "Fares stay at 2 pounds, the mayor said.", "evidence": [article], "supported": True},
        {"claim": "The council approved 5 new bus routes.", "evidence": article, "supported": False},
        {"claim": "The council rejected the new stadium.", "evidence": article, "supported": False},
    ]
    labelled = tmp_path / "editors.jsonl"
    labelled.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    run = subprocess.run(
        [sys.executable, "benchmarks/verify_eval.py", "--sets", "none", "--labelled", str(labelled)],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        cwd=ROOT,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "editors.jsonl: 4 claims, 2 supported" in run.stdout
    assert "ROC AUC 1.0" in run.stdout and "balanced accuracy 1.0" in run.stdout
