"""Retrieval evaluation on MultiHop-RAG (Tang & Yang, COLM 2024) with the paper's protocol.

Inputs: the benchmark's ``corpus.json`` and a queries file (``query, answer, question_type,
evidence_list[{fact, source, ...}]``). Output: an ``EvalReport`` — Hits@10/@4, MRR@10, MAP@10,
evidence recall@10, refusal accuracy on null queries, answered rate on the others, per-query
retrieval latency — overall and per question type.

Protocol (as upstream): the corpus is chunked to at most 256 tokens, each query retrieves the
top 10 chunks through the product's own retrieval (the same ``Retriever.search`` that
``/v1/ask`` uses, including the outlet/date filters it infers), null queries are left out of the
retrieval metrics, and a chunk hits when a gold fact with spaces and newlines removed is a
substring of the chunk with spaces and newlines removed.

MAP@10 follows upstream ``retrieval_evaluate.py`` (yixuantt/MultiHop-RAG) exactly: walking the
top 10, a chunk that contains gold facts not found earlier adds (number of such new facts) /
rank; the sum is divided by min(number of gold facts, 10). Refusal is judged on the product's
full answer (``Engine.ask``), so it measures what a user would get.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rag.config import Settings
from rag.errors import BadInput
from rag.ingest import Progress as IngestProgress
from rag.models import Answer, Passage
from rag.retrieval.ranker import fitted_on

if TYPE_CHECKING:
    from rag.engine import Engine

K = 10
PROTOCOL_CHUNK_TOKENS = 256
NULL_TYPE = "null_query"

Progress = Callable[[int, int], None]


class Evidence(BaseModel):
    fact: str
    source: str | None = None
    title: str | None = None
    published_at: str | None = None


class BenchmarkQuery(BaseModel):
    query: str
    answer: str = ""
    question_type: str = "unknown"
    evidence_list: list[Evidence] = Field(default_factory=list)

    @property
    def is_null(self) -> bool:
        return self.question_type == NULL_TYPE or not self.evidence_list


class QueryResult(BaseModel):
    """One query's outcome; retrieval fields are None for null queries."""

    question_type: str
    first_hit: int | None = None  # 1-based rank of the first hitting chunk
    facts: int = 0
    facts_found: int = 0
    average_precision: float = 0.0
    refused: bool | None = None
    latency_ms: float


class Scores(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    n_queries: int
    hits_at_10: float | None = Field(None, alias="hits@10")
    hits_at_4: float | None = Field(None, alias="hits@4")
    mrr_at_10: float | None = Field(None, alias="mrr@10")
    map_at_10: float | None = Field(None, alias="map@10")
    evidence_recall_at_10: float | None = Field(None, alias="evidence_recall@10")
    refusal_accuracy: float | None = None
    answered_rate: float | None = None
    latency_ms_p50: float
    latency_ms_p95: float


class EvalReport(Scores):
    by_type: dict[str, Scores] = Field(default_factory=dict)
    # Set when the shipped ranker was fitted on these very queries: the scores above are then
    # in-sample, and these (its cross-validation on them) are what unseen questions get.
    ranker_cross_validated: dict[str, object] | None = None
    # ... and from models fitted only on the questions citing none of the scored ones' articles:
    # what a corpus the ranker has never seen gets.
    ranker_unseen_articles: dict[str, object] | None = None

    def dump(self) -> dict[str, object]:
        return self.model_dump(by_alias=True)


def _squash(text: str) -> str:
    return text.replace(" ", "").replace("\n", "")


def score_retrieval(chunks: list[str], facts: list[str]) -> tuple[int | None, int, float]:
    """(first hit rank, facts found in the top 10, average precision as upstream)."""
    gold = [_squash(f) for f in facts]
    found: list[str] = []
    first: int | None = None
    ap = 0.0
    for rank, chunk in enumerate((_squash(c) for c in chunks[:K]), start=1):
        if not any(g in chunk for g in gold):
            continue
        first = first or rank
        new = [g for g in gold if g in chunk and g not in found]
        found.extend(new)
        ap += len(new) / rank
    return first, len(found), ap / min(len(gold), K)


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def summarize(results: list[QueryResult]) -> Scores:
    answerable = [r for r in results if r.question_type != NULL_TYPE]
    nulls = [r for r in results if r.question_type == NULL_TYPE]
    latencies = [r.latency_ms for r in results] or [0.0]
    return Scores(
        n_queries=len(results),
        hits_at_10=_mean([float(r.first_hit is not None) for r in answerable]),
        hits_at_4=_mean([float(r.first_hit is not None and r.first_hit <= 4) for r in answerable]),
        mrr_at_10=_mean([1.0 / r.first_hit if r.first_hit else 0.0 for r in answerable]),
        map_at_10=_mean([r.average_precision for r in answerable]),
        evidence_recall_at_10=(
            round(sum(r.facts_found for r in answerable) / sum(r.facts for r in answerable), 4)
            if answerable
            else None
        ),
        refusal_accuracy=_mean([float(bool(r.refused)) for r in nulls if r.refused is not None]),
        answered_rate=_mean([float(not r.refused) for r in answerable if r.refused is not None]),
        latency_ms_p50=round(float(np.percentile(latencies, 50)), 2),
        latency_ms_p95=round(float(np.percentile(latencies, 95)), 2),
    )


def report(results: list[QueryResult]) -> EvalReport:
    overall = summarize(results)
    types = sorted({r.question_type for r in results})
    by_type = {t: summarize([r for r in results if r.question_type == t]) for t in types}
    return EvalReport(**overall.model_dump(), by_type=by_type)


def load_queries(path: Path, limit: int | None = None) -> list[BenchmarkQuery]:
    """Read a queries file; ``limit`` keeps the first N records (null ones included), as upstream."""
    if limit is not None and limit < 1:
        raise BadInput("--limit must be a positive number.")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"Queries file not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"Queries file {path} is not valid JSON: {exc}") from None
    if not isinstance(raw, list):
        raise BadInput(f"Queries file {path} must hold a JSON list of queries.")
    try:
        queries = [BenchmarkQuery.model_validate(q) for q in raw[:limit]]
    except ValidationError as exc:
        first = exc.errors()[0]
        raise BadInput(f"Queries file {path}: {first['loc']}: {first['msg']}") from None
    if not queries:
        raise BadInput(f"Queries file {path} holds no queries.")
    return queries


class Evaluator:
    """Runs benchmark queries through an engine's retrieval (and, optionally, its answers)."""

    def __init__(self, engine: Engine, answers: bool = True) -> None:
        self.engine = engine
        self.answers = answers

    def run_one(self, q: BenchmarkQuery) -> QueryResult:
        started = time.perf_counter()
        passages: list[Passage] = self.engine.retriever.search(q.query, K)
        latency = (time.perf_counter() - started) * 1000
        refused = None
        if self.answers:
            answer: Answer = self.engine.ask(q.query)
            refused = answer.refused
        kind = NULL_TYPE if q.is_null else q.question_type
        result = QueryResult(question_type=kind, refused=refused, latency_ms=round(latency, 3))
        if not q.is_null:
            facts = [e.fact for e in q.evidence_list]
            result.first_hit, result.facts_found, result.average_precision = score_retrieval(
                [p.text for p in passages], facts
            )
            result.facts = len(facts)
        return result

    def run(self, queries: list[BenchmarkQuery], progress: Progress | None = None) -> list[QueryResult]:
        self.engine.retriever.search(queries[0].query, K)  # loads BM25 and warms caches once
        results = []
        for i, q in enumerate(queries, start=1):
            results.append(self.run_one(q))
            if progress:
                progress(i, len(queries))
        return results


def protocol_settings(settings: Settings, data_dir: Path) -> Settings:
    """The settings for an evaluation index: the user's, with chunks capped at 256 tokens."""
    size = min(settings.chunk_size, PROTOCOL_CHUNK_TOKENS)
    overlap = min(settings.chunk_overlap, size // 2)
    return settings.model_copy(update={"data_dir": data_dir, "chunk_size": size, "chunk_overlap": overlap})


def prepare_index(engine: Engine, corpus: Path, progress: IngestProgress | None = None) -> None:
    """Index ``corpus`` into the engine's data dir, reusing what is already there and current."""
    if not corpus.is_file():
        raise BadInput(f"Corpus file not found: {corpus}")
    others = [f for f in engine.store.known_files() if Path(f) != corpus.resolve()]
    if others:
        raise BadInput(
            f"{engine.store.data_dir} also indexes other files ({others[0]}, ...); "
            "evaluate in a folder of its own (--data-dir)."
        )
    ingested = engine.ingest([corpus], progress=progress)
    if ingested.skipped:
        raise BadInput(f"Could not read the corpus {corpus}: {ingested.skipped[0].reason}")


def run_multihop(
    settings: Settings,
    corpus: Path,
    queries_file: Path,
    data_dir: Path,
    limit: int | None = None,
    answers: bool = True,
    ingest_progress: IngestProgress | None = None,
    progress: Progress | None = None,
) -> EvalReport:
    """Index ``corpus`` in ``data_dir`` (or reuse it), run the queries, score them."""
    from rag.engine import Engine

    queries = load_queries(queries_file, limit)
    engine = Engine(protocol_settings(settings, data_dir))
    try:
        prepare_index(engine, corpus, ingest_progress)
        result = report(Evaluator(engine, answers).run(queries, progress))
        digest = hashlib.sha256(queries_file.read_bytes()).hexdigest()
        result.ranker_cross_validated = fitted_on(digest, engine.settings.rank_embeddings)
        result.ranker_unseen_articles = fitted_on(
            digest, engine.settings.rank_embeddings, figures="unseen_articles"
        )
        return result
    finally:
        engine.close()
