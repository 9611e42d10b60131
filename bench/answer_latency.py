"""Answer latency on 2 cores, end to end: the default answer against the chat model's, and the
cross-encoder's second thread against one, in the same run.

Serves the bundled help center on 127.0.0.1, indexes it into a scratch data directory (or reuses
--data-dir), then answers the bundled questions (in scope, out of scope, injections):

- ``default``: what users get with the default settings: harm check, hybrid retrieval reranked by the
  cross-encoder, the answerability decision, and the answer composed from the pages; a cross-encoder
  call made while no other is scoring runs on two threads (``core.cross_encoder.lone_call_threads``);
- ``1 thread``: the same with every cross-encoder call on one thread (the setting before);
- ``... ×2``: the same two, answering two questions at a time (as ``make demo`` does on 2 cores);
- ``generate``: one at a time, with the local chat model writing the answer (checked against the pages).

Each row has its own cross-encoder, so no row reads scores another remembered. The four cross-encoder
rows run in two rounds, the second in the reverse order, each round with new cross-encoders: a row
measured later in a run came out faster (two at a time, one row's mean answer moved from 1.16 to 1.04 s
between first and last place), so a single pass ranks rows by their place as much as by their
setting. A row's figures pool both rounds; each round's mean is printed beside them. It prints p50/p95
of the ranking phase (harm check, retrieval, cross-encoder, answerability), of the composing phase, and
of the total, the ratios, and the process's peak RSS: all models loaded, as in ``supportloop serve``,
plus a cross-encoder per row and round, so the peak is above serve's.

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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from supportloop.logs import quiet_environment, setup_logging

quiet_environment()

from core.cross_encoder import CrossEncoder  # noqa: E402
from core.settings import Settings  # noqa: E402
from rag.answerer import Answer, Answerer, assemble  # noqa: E402
from rag.ingest import ingest_site  # noqa: E402
from supportloop.app import SupportLoop  # noqa: E402
from supportloop.demo_site import load_questions, serve_demo_site  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def answer_all(answerer: Answerer, questions: list[str], at_once: int = 1) -> list[Answer]:
    """``questions`` answered ``at_once`` at a time, after one warm-up answer (first-call allocations
    are not latency)."""
    answerer.answer(questions[0])
    with ThreadPoolExecutor(max_workers=at_once) as pool:
        return list(pool.map(answerer.answer, questions))


def summarise(answers: list[Answer]) -> dict[str, float]:
    """Latency percentiles of ``answers``: ranking, composing and total."""
    ranking = [a.retrieval_s for a in answers]
    composing = [a.generation_s for a in answers]
    total = [a.latency_s for a in answers]
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

        def answerer(threads: int | None, mode: str = s.answer_mode) -> Answerer:
            encoder = CrossEncoder(threads=threads)
            return assemble(
                loop.index, loop.embeddings, loop._generate, mode=mode, cross_encoder=encoder, **options
            )

        rows = {"default": (None, 1), "1 thread": (1, 1), "default ×2": (None, 2), "1 thread ×2": (1, 2)}
        rounds: dict[str, list[list[Answer]]] = {name: [] for name in rows}
        for order in (list(rows), list(reversed(rows))):
            for name in order:
                threads, at_once = rows[name]
                rounds[name].append(answer_all(answerer(threads), questions, at_once))
        results = {name: summarise([a for r in both for a in r]) for name, both in rounds.items()}
        round_means = {name: [summarise(r)["mean_total"] for r in both] for name, both in rounds.items()}
        results["generate"] = summarise(answer_all(answerer(None, "generate"), questions))
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"\n{len(questions)} questions, top_k={settings.top_k}; ×2: two at a time; generate: one round")
    print(f"{'':12} {'ranking p50/p95':>18} {'composing p50/p95':>20} {'total p50/p95':>18}  mean by round")
    for name, r in results.items():
        means = " / ".join(f"{mean:.3f}" for mean in round_means.get(name, []))
        print(
            f"{name:12} {r['ranking_p50']:8.3f}/{r['ranking_p95']:.3f} s"
            f" {r['composing_p50']:9.3f}/{r['composing_p95']:.3f} s"
            f" {r['total_p50']:8.3f}/{r['total_p95']:.3f} s  {means}"
        )
    ratios = {
        f"{a}/{b}": results[a]["total_p50"] / results[b]["total_p50"]
        for a, b in (("generate", "default"), ("default", "1 thread"), ("default ×2", "1 thread ×2"))
    }
    print("\ntotal p50 ratios: " + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items()))
    print(f"peak RSS {peak_gib:.2f} GiB")
    summary = {"questions": len(questions), **results, "round_means": round_means, "ratios": ratios}
    print(json.dumps(summary | {"peak_rss_gib": peak_gib}))


if __name__ == "__main__":
    main()
