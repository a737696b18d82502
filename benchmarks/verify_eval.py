"""Reproduce the claim checker's development-set figures with the SHIPPED model
(rag/verification/model.json), and the data the fit script (verify_fit.py) reads.

    cd /work/main && HF_HUB_OFFLINE=1 nice -n 10 .venv/bin/python benchmarks/verify_eval.py \\
        --cache /work/lab/verify/cache

Prints, at the shipped threshold (pass, flag = share of unsupported flagged, balanced accuracy)
and as ROC AUC overall and per system / corpus / kind:
  - LFQA-Verification: the shipped model's scores, IN-SAMPLE (it was fitted on these sentences:
    flattering), beside the grouped cross-validated figures the fit stored in model.json;
  - FRANK: out of sample (the shipped model never saw FRANK): the cross-set figures;
  - synthetic claims from the MultiHop-RAG articles, a fresh draw (another seed than the fit's,
    same articles): per kind, the share passed (faithful kinds) or caught (corrupted kinds),
    and how many corrupted ones come out "contradicted" with the right kind of conflict;
  - calibration: mean score against the observed supported share, by score band;
  - with --labelled FILE (repeatable), a set of your own: JSON lines of
    {"claim": str, "evidence": str | [str, ...], "supported": bool, "stratum"?: str}, e.g.
    sentences of your newsroom's summaries judged by your editors; --sets none skips the three
    sets above.
Feature extraction takes ~3 min (no transformer: the shipped model reads none of its features);
--cache keeps the measured features outside the repository.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import pickle
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.embeddings import OnnxEmbedding  # noqa: E402
from rag.verification import ClaimChecker, Evidence, Verdict, features, synthetic  # noqa: E402
from rag.verification.model import MODEL_FILE  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
LFQA = DATASETS / "lfqa-verification" / "sentences.jsonl"
FRANK = DATASETS / "frank" / "summaries.jsonl.xz"
CORPUS = DATASETS / "multihop-rag" / "corpus.json"
PER_ARTICLE = 8  # synthetic claims per MultiHop-RAG article
SOURCES = ("claims", "evidence", "conflict", "features", "synthetic")  # whose code the cache depends on


@dataclass
class Dataset:
    """Claims with their evidence and labels; ``groups`` keep a question's (an article's) claims
    in one fold, ``strata`` say which system (corpus, corruption) each comes from."""

    name: str
    claims: list[str]
    evidence: list[list[Evidence]]
    supported: np.ndarray
    groups: np.ndarray
    strata: np.ndarray

    def __len__(self) -> int:
        return len(self.claims)


def load_lfqa() -> Dataset:
    rows = [json.loads(line) for line in LFQA.open(encoding="utf-8")]
    docs: dict[int, list[Evidence]] = {}
    for r in rows:  # one list per question, so its claims share one read of it
        docs.setdefault(r["question_id"], [Evidence(d["text"]) for d in r["documents"]])
    return Dataset(
        "lfqa",
        [r["sentence"] for r in rows],
        [docs[r["question_id"]] for r in rows],
        np.array([r["supported"] for r in rows]),
        np.array([r["question_id"] for r in rows]),
        np.array([r["system"] for r in rows]),
    )


def load_frank() -> Dataset:
    claims, evidence, labels, groups, strata = [], [], [], [], []
    articles: dict[str, list[Evidence]] = {}
    with lzma.open(FRANK, "rt", encoding="utf-8") as lines:
        for line in lines:
            r = json.loads(line)
            if r["sentence_labels"] is None:
                continue
            article = articles.setdefault(r["article"], [Evidence(r["article"])])
            for sentence, label in zip(r["sentences"], r["sentence_labels"], strict=True):
                claims.append(sentence)
                evidence.append(article)
                labels.append(label)
                groups.append(r["id"].split(":")[0])
                strata.append(r["corpus"])
    return Dataset("frank", claims, evidence, np.array(labels), np.array(groups), np.array(strata))


def load_synthetic(seed: int = 0) -> Dataset:
    corpus = json.loads(CORPUS.read_text(encoding="utf-8"))
    bodies = [a["body"] for a in corpus]
    examples = synthetic.make(bodies, [a["category"] for a in corpus], PER_ARTICLE, seed)
    pools: dict[tuple[int, int], list[Evidence]] = {}
    evidence = [
        pools.setdefault(
            (e.article, e.distractor), [Evidence(bodies[e.article]), Evidence(bodies[e.distractor])]
        )
        for e in examples
    ]
    return Dataset(
        f"synthetic{seed or ''}",
        [e.claim for e in examples],
        evidence,
        np.array([e.supported for e in examples]),
        np.array([e.article for e in examples]),
        np.array([e.kind for e in examples]),
    )


class CachedEmbedding:
    """An ``OnnxEmbedding`` whose sentence vectors are kept on disk by text, and whose token
    alignment features are kept by (claim, evidence) so a rerun embeds nothing twice."""

    def __init__(self, embed: OnnxEmbedding, folder: Path) -> None:
        self.embed, self.path = embed, folder / "vectors.pkl"
        self.vectors: dict[str, np.ndarray] = (
            pickle.loads(self.path.read_bytes()) if self.path.exists() else {}
        )

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        for i in range(0, len(new), 512):
            chunk = new[i : i + 512]
            self.vectors.update(zip(chunk, self.embed.embed_batch(chunk).astype(np.float16), strict=True))
        return np.array([self.vectors[t] for t in texts], dtype=np.float32)

    def embed_tokens(self, texts: list[str]) -> list[tuple[np.ndarray, list[tuple[int, int]]]]:
        return self.embed.embed_tokens(texts)

    def save(self) -> None:
        self.path.write_bytes(pickle.dumps(self.vectors))


def load_labelled(path: Path) -> Dataset:
    """A labelled set of the user's: claims, their evidence texts, a person's verdict."""
    rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    pools: dict[tuple[str, ...], list[Evidence]] = {}
    evidence = []
    for n, r in enumerate(rows, 1):
        if not isinstance(r.get("supported"), bool):
            sys.exit(f"{path}: claim {n}: 'supported' must be true or false, not {r.get('supported')!r}")
        texts = (r["evidence"],) if isinstance(r["evidence"], str) else tuple(r["evidence"])
        evidence.append(pools.setdefault(texts, [Evidence(t) for t in texts]))
    return Dataset(
        path.stem,
        [r["claim"] for r in rows],
        evidence,
        np.array([r["supported"] for r in rows], dtype=bool),
        np.arange(len(rows)),
        np.array([str(r.get("stratum", "all")) for r in rows]),
    )


def fingerprint(checker: ClaimChecker) -> str:
    """What measured features depend on: the code that measures them and the word weights."""
    package = ROOT / "rag" / "verification"
    digest = hashlib.sha256(json.dumps(checker.model.idf, sort_keys=True).encode())
    for name in SOURCES:
        digest.update((package / f"{name}.py").read_bytes())
    return digest.hexdigest()[:12]


def measure(data: Dataset, checker: ClaimChecker, folder: Path, families: set[str]) -> np.ndarray:
    """Every feature of every claim of ``data`` (``features.FEATURES`` columns), cached by the
    code that computes them; token features cached by claim and evidence text."""
    path = folder / f"{data.name}-{fingerprint(checker)}-{'-'.join(sorted(families))}.npy"
    if path.exists():
        return np.asarray(np.load(path))
    token_cache = folder / "tokens.pkl"
    known: dict[tuple[str, ...], dict[str, float]] = (
        pickle.loads(token_cache.read_bytes()) if token_cache.exists() else {}
    )
    rows = []
    step = 256
    for start in range(0, len(data), step):
        cases = checker.cases(data.claims[start : start + step], data.evidence[start : start + step])
        matrix = checker.measure(cases, families - {"tokens"})
        if "tokens" in families:
            keys = [(c.claim.text, *(c.pool.text(i) for i in c.alignment.pair)) for c in cases]
            todo = [c for c, k in zip(cases, keys, strict=True) if k not in known]
            for case, values in zip(todo, checker.token_features(todo) if todo else [], strict=True):
                known[(case.claim.text, *(case.pool.text(i) for i in case.alignment.pair))] = values
            for row, key in zip(matrix, keys, strict=True):
                for name, value in known[key].items():
                    row[features.FEATURES.index(name)] = value
        rows.append(matrix)
        print(f"  {data.name}: {min(start + step, len(data))}/{len(data)}", file=sys.stderr, flush=True)
    out = np.vstack(rows)
    np.save(path, out)
    token_cache.write_bytes(pickle.dumps(known))
    return out


def figures(scores: np.ndarray, labels: np.ndarray, strata: np.ndarray, threshold: float) -> dict[str, Any]:
    """ROC AUC overall and per stratum, pass rate, flag rate and balanced accuracy at ``threshold``."""
    passed = scores >= threshold
    pass_rate, flag_rate = float(passed[labels].mean()), float((~passed[~labels]).mean())
    per = {
        str(s): round(float(roc_auc_score(labels[strata == s], scores[strata == s])), 3)
        for s in np.unique(strata)
        if len(np.unique(labels[strata == s])) == 2
    }
    return {
        "auc": round(float(roc_auc_score(labels, scores)), 3),
        "pass": round(pass_rate, 3),
        "flag": round(flag_rate, 3),
        "balanced_accuracy": round((pass_rate + flag_rate) / 2, 3),
        "auc_by": per,
    }


def roc_auc_score(labels: np.ndarray, scores: np.ndarray) -> float:
    """The chance a supported claim scores above an unsupported one (ties count half)."""
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    positive = int(labels.sum())
    negative = len(labels) - positive
    return float((ranks[labels].sum() - positive * (positive + 1) / 2) / (positive * negative))


def show(title: str, result: dict[str, Any]) -> None:
    per = ", ".join(f"{k} {v}" for k, v in result["auc_by"].items())
    print(
        f"  {title}: ROC AUC {result['auc']} | at the threshold: pass {result['pass']}, "
        f"flag {result['flag']}, balanced accuracy {result['balanced_accuracy']} | AUC by {per}"
    )


def judge(checker: ClaimChecker, data: Dataset) -> tuple[np.ndarray, list[Any]]:
    """The shipped checker's calibrated score and judgement for every claim of ``data``."""
    judgements = []
    for start in range(0, len(data), 256):
        judgements.extend(checker.check(data.claims[start : start + 256], data.evidence[start : start + 256]))
    return np.array([j.score for j in judgements]), judgements


def calibration(
    scores: np.ndarray, labels: np.ndarray, edges: tuple[float, ...] = (0, 0.2, 0.4, 0.6, 0.8, 1)
) -> str:
    """ "band: mean score -> supported share (claims)" per score band, and the expected
    calibration error (claim-weighted gap)."""
    parts, gap = [], 0.0
    for low, high in zip(edges, edges[1:], strict=False):
        inside = (scores >= low) & ((scores < high) if high < 1 else (scores <= high))
        if inside.any():
            mean, share = scores[inside].mean(), labels[inside].mean()
            gap += inside.sum() * abs(mean - share)
            parts.append(f"{low:.1f}-{high:.1f}: {mean:.2f} -> {share:.2f} ({inside.sum()})")
    return "; ".join(parts) + f" | ECE {gap / len(scores):.3f}"


def by_kind(data: Dataset, scores: np.ndarray, judgements: list[Any], threshold: float) -> None:
    """Synthetic claims per kind: passed (faithful) or caught (corrupted) at the threshold, and
    for a corruption, how many are "contradicted" with a conflict of its kind."""
    for kind in synthetic.FAITHFUL + synthetic.CORRUPTED:
        rows = np.flatnonzero(data.strata == kind)
        passed = float((scores[rows] >= threshold).mean())
        if kind in synthetic.FAITHFUL:
            wrong = sum(judgements[i].verdict is Verdict.CONTRADICTED for i in rows) / len(rows)
            print(
                f"  {kind:<14} {len(rows):>4} faithful: passed {passed:.3f} (called contradicted {wrong:.3f})"
            )
            continue
        kinds = Counter(judgements[i].conflict.kind for i in rows if judgements[i].conflict is not None)
        right = kinds[kind] + (
            kinds["name" if kind == "place" else "place"] if kind in ("name", "place") else 0
        )
        contradicted = sum(kinds.values()) / len(rows)
        print(
            f"  {kind:<14} {len(rows):>4} corrupted: caught {1 - passed:.3f}, "
            f"contradicted {contradicted:.3f} (with a {kind} conflict: {right / len(rows):.3f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--labelled", type=Path, action="append", default=[], help="a labelled JSONL set")
    parser.add_argument("--sets", default="lfqa,frank,synthetic", help="which development sets, or 'none'")
    args = parser.parse_args()
    checker = ClaimChecker(OnnxEmbedding())
    threshold = checker.model.threshold
    print(
        f"shipped model: {MODEL_FILE.name}, threshold {threshold}, "
        f"features {', '.join(checker.model.features)}"
    )
    sets = {name.strip().lower() for name in args.sets.split(",")}
    if sets - {"lfqa", "frank", "synthetic", "none"}:
        parser.error(f"--sets: unknown {', '.join(sorted(sets - {'lfqa', 'frank', 'synthetic'}))}")
    if "lfqa" in sets:
        show_lfqa(checker)
    if "frank" in sets:
        show_frank(checker)
    if "synthetic" in sets:
        show_synthetic(checker)
    for path in args.labelled:
        data = load_labelled(path)
        if data.supported.all() or not data.supported.any():
            sys.exit(f"{path}: needs claims of both labels, supported and not")
        scores, _ = judge(checker, data)
        print(f"{path.name}: {len(data)} claims, {int(data.supported.sum())} supported")
        show("all", figures(scores, data.supported, data.strata, threshold))
        print(f"  calibration: {calibration(scores, data.supported)}")


def show_lfqa(checker: ClaimChecker) -> None:
    threshold, stored = checker.model.threshold, checker.model.figures
    lfqa = load_lfqa()
    scores, _ = judge(checker, lfqa)
    print("LFQA-Verification (supported = majority 'supported'), 3,310 sentences")
    show(
        "in-sample, shipped model (fitted on these: flattering)",
        figures(scores, lfqa.supported, lfqa.strata, threshold),
    )
    if "lfqa_cross_validated" in stored:
        show("cross-validated by question (from the fit)", stored["lfqa_cross_validated"])
    print(f"  calibration (in-sample): {calibration(scores, lfqa.supported)}")


def show_frank(checker: ClaimChecker) -> None:
    threshold = checker.model.threshold
    frank = load_frank()
    scores, _ = judge(checker, frank)
    print("FRANK sentences with a label (cross-set: the shipped model never saw FRANK)")
    show("all", figures(scores, frank.supported, frank.strata, threshold))
    for corpus in ("cnndm", "xsum"):
        rows = frank.strata == corpus
        show(corpus, figures(scores[rows], frank.supported[rows], frank.strata[rows], threshold))
    print(f"  calibration: {calibration(scores, frank.supported)}")


def show_synthetic(checker: ClaimChecker) -> None:
    fresh = load_synthetic(seed=1)
    scores, judgements = judge(checker, fresh)
    auc = roc_auc_score(fresh.supported, scores)
    print(f"synthetic (MultiHop-RAG, seed 1), {len(fresh)} claims: ROC AUC {auc:.3f}")
    by_kind(fresh, scores, judgements, checker.model.threshold)


if __name__ == "__main__":
    main()
