"""`rag eval multihop`: the paper's scoring, and a retrieval-quality floor on a fixed subset.

The subset is the first 12 dev queries and 3 null ones; its corpus is the articles their
evidence comes from plus a same-outlet distractor each, so ingesting it takes seconds while
retrieval must still pick the right article and chunk among look-alikes from the same outlets.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from rag.config import Settings
from rag.embeddings import OnnxEmbedding
from rag.engine import Engine
from rag.errors import BadInput
from rag.evaluate import (
    EvalReport,
    Evaluator,
    load_queries,
    prepare_index,
    protocol_settings,
    report,
    score_retrieval,
)
from tests.conftest import MULTIHOP, RAG

SUBSET = 12  # the first 12 dev queries, plus the next NULLS null queries
NULLS = 3
DISTRACTORS_PER_OUTLET = 1


def test_scores_follow_the_paper() -> None:
    facts = ["Alpha beta\ngamma.", "Delta epsilon."]
    chunks = ["nothing here", "text Alpha  beta gamma. more", "x", "Delta epsilon. and Alpha beta gamma."]
    first, found, ap = score_retrieval(chunks, facts)
    assert first == 2 and found == 2
    # upstream MAP@10: rank 2 finds one new fact (1/2), rank 4 finds the other (1/4); / min(2, 10)
    assert ap == pytest.approx((1 / 2 + 1 / 4) / 2)
    assert score_retrieval(["unrelated"] * 10 + ["Delta epsilon."], facts) == (None, 0, 0.0)


def test_bad_queries_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="not found"):
        load_queries(tmp_path / "missing.json")
    (tmp_path / "q.json").write_text('{"query": "x"}')
    with pytest.raises(BadInput, match="JSON list"):
        load_queries(tmp_path / "q.json")
    (tmp_path / "q.json").write_text('[{"question": "x"}]')
    with pytest.raises(BadInput, match="query"):
        load_queries(tmp_path / "q.json")


@pytest.fixture(scope="module")
def subset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if not (MULTIHOP / "corpus.json").exists():
        pytest.skip("MultiHop-RAG dataset not present in ../shared/datasets")
    corpus = json.loads((MULTIHOP / "corpus.json").read_text())
    every = json.loads((MULTIHOP / "queries-dev.json").read_text())
    nulls = [q for q in every[SUBSET:] if q["question_type"] == "null_query"][:NULLS]
    queries = every[:SUBSET] + nulls
    needed = {e["title"] for q in queries for e in q["evidence_list"]}
    outlets = {a["source"] for a in corpus if a["title"] in needed}
    articles = [a for a in corpus if a["title"] in needed]
    for outlet in sorted(outlets):
        others = [a for a in corpus if a["source"] == outlet and a["title"] not in needed]
        articles += others[:DISTRACTORS_PER_OUTLET]
    folder = tmp_path_factory.mktemp("multihop")
    (folder / "corpus.json").write_text(json.dumps(articles))
    (folder / "queries.json").write_text(json.dumps(queries))
    return folder / "corpus.json", folder / "queries.json"


@pytest.fixture(scope="module")
def evaluated(
    subset: tuple[Path, Path], embed: OnnxEmbedding, tmp_path_factory: pytest.TempPathFactory
) -> tuple[EvalReport, Path]:
    """The subset indexed and evaluated in-process (sharing the session's embedding model)."""
    corpus, queries = subset
    index = tmp_path_factory.mktemp("idx")
    engine = Engine(protocol_settings(Settings(_env_file=None), index), embed=embed)
    try:
        prepare_index(engine, corpus)
        results = Evaluator(engine).run(load_queries(queries))
    finally:
        engine.close()
    return report(results), index


@pytest.mark.slow
def test_retrieval_and_refusals_clear_the_floor(evaluated: tuple[EvalReport, Path]) -> None:
    scores = evaluated[0].dump()
    assert scores["n_queries"] == SUBSET + NULLS
    assert set(scores["by_type"]) >= {"inference_query", "comparison_query", "null_query"}
    # Floors well under what this subset scores, far above a broken retriever.
    assert scores["hits@10"] >= 0.85
    assert scores["mrr@10"] >= 0.6
    assert scores["evidence_recall@10"] >= 0.6
    assert scores["refusal_accuracy"] >= 0.75 and scores["answered_rate"] >= 0.85
    assert 0 < scores["latency_ms_p50"] <= scores["latency_ms_p95"]


def rag(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RAG, *args], cwd=cwd, capture_output=True, text=True, timeout=240)


@pytest.mark.slow
def test_cli_reuses_the_index_and_prints_table_and_json(
    subset: tuple[Path, Path], evaluated: tuple[EvalReport, Path], tmp_path: Path
) -> None:
    corpus, queries = subset
    args = ["eval", "multihop", "--corpus", str(corpus), "--queries", str(queries)]
    args += ["--data-dir", str(evaluated[1]), "--limit", "6", "--skip-answers"]
    as_json = rag(*args, "--json", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    scores = json.loads(as_json.stdout)
    assert scores["n_queries"] == 6 and scores["refusal_accuracy"] is None
    assert scores["hits@10"] >= 0.8
    table = rag(*args, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "hits@10" in table.stdout and "inference" in table.stdout


def test_eval_cli_errors(tmp_path: Path) -> None:
    missing = rag("eval", "multihop", "--corpus", "nope.json", "--queries", "nope.json", cwd=tmp_path)
    assert missing.returncode == 2 and "not found" in missing.stderr and "Traceback" not in missing.stderr
