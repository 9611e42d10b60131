"""Answer latency over the bundled demo questions, split into retrieval and generation, fp32 vs bf16.

Serves the bundled help center on 127.0.0.1, indexes it into a scratch data directory (or reuses
--data-dir), then answers the same questions one at a time with the current model in float32 and in
bfloat16, in the same run, and prints p50/p95 per phase and the fp32/bf16 ratio.

    python bench/answer_latency.py [--limit 24] [--max-new-tokens 64] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from supportloop.logs import quiet_environment, setup_logging

quiet_environment()

from core.llm import TransformersChatBackend  # noqa: E402
from core.settings import Settings  # noqa: E402
from rag.answerer import Answerer  # noqa: E402
from rag.grounding import GroundingChecker  # noqa: E402
from rag.ingest import ingest_site  # noqa: E402
from supportloop.app import SupportLoop  # noqa: E402
from supportloop.demo_site import load_questions, serve_demo_site  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(loop: SupportLoop, dtype: str, questions: list[str], max_new_tokens: int) -> dict[str, float]:
    backend = TransformersChatBackend(loop.registry.current(), dtype, loop.settings.torch_threads)
    s = loop.settings
    answerer = Answerer(
        loop.index,
        lambda conversation, limit: backend.generate([conversation], limit)[0],
        GroundingChecker(loop.embeddings),
        mode="generate",
        top_k=s.top_k,
        min_relevance=s.min_relevance,
        max_citations=s.max_citations,
        max_new_tokens=max_new_tokens,
    )
    answerer.answer(questions[0])  # warm-up: first-call allocations are not latency
    retrieval, generation, total = [], [], []
    for question in questions:
        answer = answerer.answer(question)
        retrieval.append(answer.retrieval_s)
        generation.append(answer.generation_s)
        total.append(answer.latency_s)
    return {
        f"{name}_{q}": percentile(values, level)
        for name, values in (("retrieval", retrieval), ("generation", generation), ("total", total))
        for q, level in (("p50", 0.5), ("p95", 0.95))
    } | {"mean_total": statistics.fmean(total)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=24, help="questions to answer per precision")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="answer length limit")
    parser.add_argument("--data-dir", type=Path, help="reuse this data directory (default: a scratch one)")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="supportloop-bench-"))
    settings = Settings(data_dir=data_dir)
    setup_logging(settings.log_file, "INFO")
    questions = [q.question for q in load_questions() if q.kind == "in_scope"][: args.limit]
    with SupportLoop(settings) as loop, serve_demo_site(0) as url:
        started = time.perf_counter()
        report = ingest_site([url + "/"], loop.index, settings)
        print(
            f"indexed {report.pages} pages / {report.chunks} chunks in {time.perf_counter() - started:.1f} s"
        )
        results = {
            dtype: measure(loop, dtype, questions, args.max_new_tokens) for dtype in ("float32", "bfloat16")
        }
    limits = f"up to {args.max_new_tokens} new tokens, top_k={settings.top_k}"
    print(f"\n{len(questions)} questions, one at a time, {limits}")
    print(f"{'':10} {'retrieval p50/p95':>20} {'generation p50/p95':>20} {'total p50/p95':>18}")
    for dtype, r in results.items():
        print(
            f"{dtype:10} {r['retrieval_p50']:9.3f}/{r['retrieval_p95']:.3f} s"
            f" {r['generation_p50']:9.2f}/{r['generation_p95']:.2f} s"
            f" {r['total_p50']:8.2f}/{r['total_p95']:.2f} s"
        )
    ratio = results["float32"]["total_p50"] / results["bfloat16"]["total_p50"]
    print(f"\nratio fp32/bf16 total p50: {ratio:.2f}x")
    print(
        json.dumps(
            {
                "questions": len(questions),
                "max_new_tokens": args.max_new_tokens,
                **results,
                "ratio_fp32_over_bf16_p50": ratio,
            }
        )
    )


if __name__ == "__main__":
    main()
