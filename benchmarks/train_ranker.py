"""Fit the retrieval ranker's weights (``rag/ranker.json``) on MultiHop-RAG and print how well
they generalise (5-fold cross-validation by question) next to the weights shipped now. Two
models: with the clause-embedding features, and without them (``RAG_RANK_EMBEDDINGS=false``).

Each non-null question's candidate pool comes from the product's own ``Retriever.pool``; a
candidate is positive when it holds one of the question's gold facts (the paper's substring
test). The model is a logistic regression (L2, Newton steps) on standardised ``rag.rank``
features, folded back to raw feature weights. Every figure printed is the product's selection
(``rag.retrieve.select``) scored by ``rag.evaluate``; the cross-validated row scores each
question with weights fitted without it.

    .venv/bin/python benchmarks/train_ranker.py [--queries F] [--data-dir data-eval] [--write]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from rag.config import Settings
from rag.engine import Engine
from rag.evaluate import (
    K,
    QueryResult,
    load_queries,
    prepare_index,
    protocol_settings,
    report,
    score_retrieval,
)
from rag.rank import EMBEDDING_FEATURES, FEATURES, WEIGHTS_FILE, Ranker, features, model_name
from rag.retrieve import RRF_K, select

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "multihop-rag"
FOLDS = 5
L2 = 1.0


def fit(x: np.ndarray, y: np.ndarray) -> tuple[dict[str, float], float]:
    """Logistic regression; returns raw-feature weights and bias."""
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    z = np.column_stack([np.ones(len(x)), (x - mean) / std])
    w = np.zeros(z.shape[1])
    penalty = L2 * np.eye(len(w))
    penalty[0, 0] = 0.0
    for _ in range(30):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        gradient = z.T @ (p - y) + penalty @ w
        hessian = (z * (p * (1 - p))[:, None]).T @ z + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    raw = w[1:] / std
    return dict(zip(FEATURES, raw.tolist(), strict=True)), float(w[0] - raw @ mean)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DATA / "corpus.json")
    parser.add_argument("--queries", type=Path, default=DATA / "queries-dev.json")
    parser.add_argument("--data-dir", type=Path, default=Path("data-eval"))
    parser.add_argument("--write", action="store_true", help=f"save the full fit to {WEIGHTS_FILE}")
    args = parser.parse_args()

    queries = [q for q in load_queries(args.queries) if not q.is_null]
    engine = Engine(protocol_settings(Settings(rank_embeddings=True), args.data_dir))
    prepare_index(engine, args.corpus)
    rows = []  # per question: (pool, features, candidate texts, gold facts, type)
    for q in queries:
        pool = engine.retriever.pool(q.query, K)
        texts = {p.id: p.text for p in engine.store.passages([(cid, 0.0) for cid in pool.ids])}
        facts = [e.fact for e in q.evidence_list]
        rows.append((pool, features(pool, RRF_K), [texts[cid] for cid in pool.ids], facts, q.question_type))
    engine.close()
    labels = [
        np.array([score_retrieval([t], facts)[0] is not None for t in texts], float)
        for _, _, texts, facts, _ in rows
    ]

    def scores(scorers: list[Ranker], matrices: list[np.ndarray]) -> dict[str, object]:
        results = []
        for (pool, _, texts, facts, kind), ranker, x in zip(rows, scorers, matrices, strict=True):
            chosen = [texts[i] for i in select(pool, ranker.score(x), K)]
            first, found, ap = score_retrieval(chosen, facts)
            results.append(
                QueryResult(
                    question_type=kind,
                    latency_ms=0,
                    first_hit=first,
                    facts_found=found,
                    average_precision=ap,
                    facts=len(facts),
                )
            )
        out = report(results).dump()
        keep = ("hits@10", "hits@4", "mrr@10", "map@10", "evidence_recall@10")
        by_type = {t: s["evidence_recall@10"] for t, s in out["by_type"].items()}  # type: ignore[attr-defined]
        return {k: out[k] for k in keep} | {"evidence_recall@10 by type": by_type}

    models = {}
    for embeddings in (True, False):
        name = model_name(embeddings)
        matrices = [x if embeddings else _without_embeddings(x) for _, x, *_ in rows]

        def fit_on(idx: np.ndarray, matrices: list[np.ndarray] = matrices) -> Ranker:
            weights, bias = fit(
                np.vstack([matrices[i] for i in idx]), np.concatenate([labels[i] for i in idx])
            )
            return Ranker(weights, bias)

        print(f"== {name} model")
        print("shipped weights:", json.dumps(scores([Ranker.load(embeddings)] * len(rows), matrices)))
        order = np.random.default_rng(0).permutation(len(rows))
        held_out: list[Ranker | None] = [None] * len(rows)
        for f in range(FOLDS):
            test = order[f::FOLDS]
            ranker = fit_on(np.setdiff1d(order, test))
            for i in test:
                held_out[i] = ranker
        cross = scores([r for r in held_out if r is not None], matrices)
        print(f"{FOLDS}-fold cross-validated:", json.dumps(cross))
        full = fit_on(np.arange(len(rows)))
        print("fitted on all (in-sample):", json.dumps(scores([full] * len(rows), matrices)))
        weights = dict(zip(FEATURES, full.weights.round(6).tolist(), strict=True))
        models[name] = {"weights": weights, "bias": round(full.bias, 6), "cross_validated": cross}
    print(json.dumps(models, indent=2))
    if args.write:
        WEIGHTS_FILE.write_text(
            json.dumps({"trained_on": args.queries.name, "models": models}, indent=2) + "\n"
        )
        print(f"wrote {WEIGHTS_FILE}")


def _without_embeddings(x: np.ndarray) -> np.ndarray:
    """The features as a search without clause embeddings computes them (those columns 0)."""
    x = x.copy()
    x[:, [FEATURES.index(name) for name in EMBEDDING_FEATURES]] = 0.0
    return x


if __name__ == "__main__":
    main()
