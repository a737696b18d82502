"""Answer quality of the LLM path on MultiHop-RAG dev questions (prints figures).

For the first N dev questions: the share of answer sentences the checker finds supported,
citations removed (numbers pointing at no passage shown), refusals on the null questions
(whose answer is not in the corpus) and on the others, answers containing the gold answer,
degraded answers, and seconds per answer.

Needs an index of the benchmark corpus (default chunking) and an LLM:

    .venv/bin/rag llm-server &            # prints RAG_LLM_BASE_URL
    .venv/bin/rag --data-dir data-eval ingest ../shared/datasets/multihop-rag/corpus.json  # ~10 min
    RAG_LLM_BASE_URL=http://127.0.0.1:8080/v1 .venv/bin/python benchmarks/answer_quality.py \\
        --data-dir data-eval --limit 100 --out /tmp/answers.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from rag.config import Settings
from rag.engine import Engine

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "multihop-rag"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data-eval"))
    parser.add_argument("--queries", type=Path, default=DATA / "queries-dev.json")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--step", type=int, default=1, help="Every n-th of those (a quicker sample).")
    parser.add_argument("--timeout", type=float, default=180.0, help="Seconds allowed per LLM answer.")
    parser.add_argument("--out", type=Path, help="Write each answer as a JSON line here.")
    parser.add_argument("--report", type=Path, help="Only print the figures of an earlier --out file.")
    args = parser.parse_args()
    if args.report:
        report([json.loads(line) for line in args.report.read_text().splitlines() if line.strip()])
        return

    settings = Settings(data_dir=args.data_dir, answerer="llm", llm_timeout=args.timeout)
    engine = Engine(settings)
    queries = json.loads(args.queries.read_text())[: args.limit : args.step]
    out = args.out.open("w") if args.out else None
    rows = []
    for i, q in enumerate(queries, start=1):
        started = time.perf_counter()
        answer = engine.ask(q["query"])
        seconds = time.perf_counter() - started
        checked = [s for s in answer.sentences if not answer.refused]
        gold = str(q.get("answer", "")).strip().lower()
        row = {
            "type": q["question_type"],
            "null": q["question_type"] == "null_query",
            "seconds": seconds,
            "degraded": answer.degraded,
            "refused": answer.refused,
            "sentences": len(checked),
            "supported": sum(s.supported for s in checked),
            "removed": len(answer.removed_citations),
            "citations": len(answer.citations),
            "gold_in_answer": bool(gold) and gold in answer.answer.lower(),
        }
        rows.append(row)
        if out:
            out.write(
                json.dumps({**row, "question": q["query"], "answer": answer.model_dump(mode="json")}) + "\n"
            )
            out.flush()
        print(
            f"{i:3d} {row['type'][:10]:10s} {seconds:5.1f}s supported {row['supported']}/{row['sentences']}"
            f" removed {row['removed']} refused {answer.refused} degraded {answer.degraded}",
            flush=True,
        )
    engine.close()
    report(rows)


def report(rows: list[dict]) -> None:
    answered = [r for r in rows if not r["degraded"]]
    nulls = [r for r in answered if r["null"]]
    others = [r for r in answered if not r["null"]]
    sentences = sum(r["sentences"] for r in answered)
    supported = sum(r["supported"] for r in answered)
    with_sentences = [r for r in answered if r["sentences"]]
    removed = sum(r["removed"] for r in answered)
    seconds = sorted(r["seconds"] for r in answered) or [0.0]
    p90 = seconds[int(0.9 * (len(seconds) - 1))]
    print(f"\nquestions: {len(rows)}  (LLM answers: {len(answered)}, degraded: {len(rows) - len(answered)})")
    print(f"sentences supported: {supported}/{sentences} = {supported / max(sentences, 1):.3f}")
    fully = sum(r["supported"] == r["sentences"] for r in with_sentences)
    print(f"answers with every sentence supported: {fully}/{len(with_sentences)}")
    kept = sum(r["citations"] for r in answered)
    print(f"citations removed: {removed} (in {sum(r['removed'] > 0 for r in answered)} answers; {kept} kept)")
    print(f"refusals on null questions: {sum(r['refused'] for r in nulls)}/{len(nulls)}")
    print(f"refusals on answerable questions: {sum(r['refused'] for r in others)}/{len(others)}")
    print(f"gold answer in the text (answerable): {sum(r['gold_in_answer'] for r in others)}/{len(others)}")
    mean, median = statistics.mean(seconds), statistics.median(seconds)
    print(f"seconds per answer: mean {mean:.1f}, median {median:.1f}, p90 {p90:.1f}")


if __name__ == "__main__":
    main()
