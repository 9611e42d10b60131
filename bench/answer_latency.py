"""Answer latency on 2 cores, one question at a time, end to end: the default answer against the chat
model's, in the same run.

Serves the bundled help center on 127.0.0.1, indexes it into a scratch data directory (or reuses
--data-dir), then answers the bundled questions (in scope, out of scope, injections) one at a time:

- ``default``: what users get with the default settings: harm check, hybrid retrieval reranked by the
  cross-encoder, the answerability decision, and the answer composed from the pages;
- ``generate``: the same, with the local chat model writing the answer (checked against the pages).

It prints p50/p95 of the ranking phase (harm check, retrieval, cross-encoder, answerability), of the
composing phase, and of the total, their ratio, and the process's peak RSS (all models loaded, as in
``supportloop serve``).

    python bench/answer_latency.py [--limit 40] [--max-new-tokens 64] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from supportloop.logs import quiet_environment, setup_logging

quiet_environment()

from core.settings import Settings  # noqa: E402
from rag.answerer import Answerer, assemble  # noqa: E402
from rag.ingest import ingest_site  # noqa: E402
from supportloop.app import SupportLoop  # noqa: E402
from supportloop.demo_site import load_questions, serve_demo_site  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(answerer: Answerer, questions: list[str]) -> dict[str, float]:
    answerer.answer(questions[0])  # warm-up: first-call allocations are not latency
    ranking, composing, total = [], [], []
    for question in questions:
        answer = answerer.answer(question)
        ranking.append(answer.retrieval_s)
        composing.append(answer.generation_s)
        total.append(answer.latency_s)
    return {
        f"{name}_{q}": percentile(values, level)
        for name, values in (("ranking", ranking), ("composing", composing), ("total", total))
        for q, level in (("p50", 0.5), ("p95", 0.95))
    } | {"mean_total": statistics.fmean(total)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=40, help="questions to answer per system")
    parser.add_argument(
        "--max-new-tokens", type=int, default=64, help="answer length limit of the chat model"
    )
    parser.add_argument("--data-dir", type=Path, help="reuse this data directory (default: a scratch one)")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="supportloop-bench-"))
    settings = Settings(data_dir=data_dir)
    setup_logging(settings.log_file, "INFO")
    questions = [q.question for q in load_questions()][: args.limit]
    with SupportLoop(settings) as loop, serve_demo_site(0) as url:
        started = time.perf_counter()
        report = ingest_site([url + "/"], loop.index, settings)
        print(
            f"indexed {report.pages} pages / {report.chunks} chunks in {time.perf_counter() - started:.1f} s"
        )
        s = loop.settings
        options = {"top_k": s.top_k, "max_citations": s.max_citations, "max_new_tokens": args.max_new_tokens}
        results = {"default": measure(loop.answerer, questions)}
        generate = assemble(loop.index, loop.embeddings, loop._generate, mode="generate", **options)
        results["generate"] = measure(generate, questions)
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"\n{len(questions)} questions, one at a time, top_k={settings.top_k}")
    print(f"{'':10} {'ranking p50/p95':>18} {'composing p50/p95':>20} {'total p50/p95':>18}")
    for name, r in results.items():
        print(
            f"{name:10} {r['ranking_p50']:8.3f}/{r['ranking_p95']:.3f} s"
            f" {r['composing_p50']:9.3f}/{r['composing_p95']:.3f} s"
            f" {r['total_p50']:8.3f}/{r['total_p95']:.3f} s"
        )
    ratio = results["generate"]["total_p50"] / results["default"]["total_p50"]
    print(f"\nratio generate/default total p50: {ratio:.2f}x; peak RSS {peak_gib:.2f} GiB")
    print(json.dumps({"questions": len(questions), **results, "ratio": ratio, "peak_rss_gib": peak_gib}))


if __name__ == "__main__":
    main()
