"""The LLM judge (RAG_VERIFIER=llm) against people's labels, beside the local checker alone.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/verify_llm.py --base-url http://127.0.0.1:8080/v1 \\
        [--model local] [--texts 30] [--set lfqa|frank] [--seed 0]

Samples whole texts (an LFQA answer, or a FRANK summary) so the judge gets one call per text as
in the product, checks each with `Verifier` in `llm` mode against any OpenAI-compatible server,
and prints, on the same sentences: the local checker's verdicts, the LLM's own verdicts, and
the shipped combination (the LLM's verdict, the mean of both scores), each as pass / flag /
balanced accuracy and ROC AUC of the score, plus the texts where the LLM failed (the local
verdicts stand there, marked degraded) and seconds per text. With the local Qwen model
(`make local-llm`, then `rag llm-server`), a text takes tens of seconds on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import logging
import lzma
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from verify_eval import FRANK, LFQA, roc_auc_score  # noqa: E402

from rag.config import Settings  # noqa: E402
from rag.embeddings import local_embedding  # noqa: E402
from rag.judge import Verifier  # noqa: E402
from rag.llm import LLMClient  # noqa: E402
from rag.verification import ClaimChecker, Evidence, Verdict  # noqa: E402


def texts(name: str, count: int, seed: int) -> list[tuple[list[str], list[Evidence], list[bool]]]:
    """``count`` random texts: each its sentences, its evidence and people's labels (LFQA: one
    system's answer to one question; FRANK: one summary of one article)."""
    found: list[tuple[list[str], list[Evidence], list[bool]]] = []
    if name == "lfqa":
        by_answer: dict[tuple[object, object], list[dict]] = defaultdict(list)
        for line in LFQA.open(encoding="utf-8"):
            r = json.loads(line)
            by_answer[(r["question_id"], r["system"])].append(r)
        for rows in by_answer.values():
            docs = [Evidence(d["text"]) for d in rows[0]["documents"]]
            found.append(([r["sentence"] for r in rows], docs, [bool(r["supported"]) for r in rows]))
    else:
        with lzma.open(FRANK, "rt", encoding="utf-8") as lines:
            for line in lines:
                r = json.loads(line)
                if r["sentence_labels"] is not None:
                    found.append(
                        (r["sentences"], [Evidence(r["article"])], [bool(v) for v in r["sentence_labels"]])
                    )
    random.Random(seed).shuffle(found)
    return found[:count]


def row(name: str, passed: np.ndarray, scores: np.ndarray, labels: np.ndarray) -> str:
    pass_rate = passed[labels].mean() if labels.any() else float("nan")
    flag = (~passed[~labels]).mean() if (~labels).any() else float("nan")
    auc = roc_auc_score(labels, scores) if 0 < labels.sum() < len(labels) else float("nan")
    return f"{name:<22} {pass_rate:>6.3f} {flag:>6.3f} {(pass_rate + flag) / 2:>8.3f} {auc:>7.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--model", default="local")
    parser.add_argument("--texts", type=int, default=30)
    parser.add_argument("--set", choices=["lfqa", "frank"], default="lfqa")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("httpx2").setLevel(logging.WARNING)

    settings = Settings(
        llm_base_url=args.base_url, llm_model=args.model, llm_timeout=args.timeout, verifier="llm"
    )
    checker = ClaimChecker(local_embedding(settings))
    verifier = Verifier(checker, LLMClient(settings), "llm")
    local_s, local_v, llm_v, combined_s, labels, seconds, failed = [], [], [], [], [], [], 0
    for n, (claims, docs, people) in enumerate(texts(args.set, args.texts, args.seed), start=1):
        evidence = [docs] * len(claims)
        local = checker.check(claims, evidence)
        start = time.perf_counter()
        checked = verifier.check(claims, evidence)
        seconds.append(time.perf_counter() - start)
        if checked.degraded_reason:
            failed += 1
            print(f"text {n}: degraded: {checked.degraded_reason}", flush=True)
            continue
        local_s += [j.score for j in local]
        local_v += [j.verdict is Verdict.SUPPORTED for j in local]
        llm_v += [j.verdict is Verdict.SUPPORTED for j in checked.judgements]
        combined_s += [j.score for j in checked.judgements]
        labels += people
        print(f"text {n}: {len(claims)} sentences, {seconds[-1]:.1f} s", flush=True)

    y = np.array(labels, dtype=bool)
    print(
        f"\n{args.set}: {len(seconds)} texts, {len(y)} sentences judged ({y.mean():.2f} supported), "
        f"{failed} texts degraded; {np.median(seconds):.1f} s a text (p50)"
    )
    print(f"{'':<22} {'pass':>6} {'flag':>6} {'balanced':>8} {'ROC AUC':>7}")
    print(row("local checker", np.array(local_v), np.array(local_s), y))
    print(row("LLM verdicts (shipped)", np.array(llm_v), np.array(combined_s), y))


if __name__ == "__main__":
    main()
