"""Which answer mode serves a help center better: its pages' own sentences (``extractive``) or a chat
model writing from the same passages (``generate``), on the same index and the same questions.

The default is ``extractive``, chosen by measurement with the models that run here. A deployment with
a model server (``SUPPORTLOOP_LLM_URL``: vLLM, TGI, Ollama) may host one that writes better; this says
whether it does, on these questions, before anyone sets ``SUPPORTLOOP_ANSWER_MODE=generate``:

    python bench/answer_modes.py [--site demo|mastodon] [--split dev|test] [--limit N]
                                 [--llm-url URL [--llm-model NAME]] [--max-new-tokens N]
                                 [--data-dir DIR]

Without ``--llm-url`` the local chat model writes (the current model version). As in serving, a
generated answer that its passages don't support sentence by sentence is replaced by the extractive
one, so the ``generate`` column is what users would see. Printed: each mode's answer-quality figures
(``rag.evaluation``), the paired difference in fact recall over the in-scope questions both answered
(generate − extractive, with a 95% bootstrap interval), and, for the generated answers that passed the
check, their fact recall against the extractive answers to the same questions.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.answer_quality import SPLITS  # noqa: E402
from bench.follow_ups import open_indexed  # noqa: E402
from core.settings import Settings  # noqa: E402
from rag.evaluation import EvalQuestion, QuestionResult, evaluate, load_eval_questions, summarize  # noqa: E402
from training.promotion import paired_gain  # noqa: E402

SHOWN = (
    "hit@1",
    "cited",
    "fact_recall",
    "median_answer_chars",
    "extractive_rate",
    "latency_p50_s",
    "latency_p95_s",
)


def questions_of(site: str, split: str, limit: int | None) -> list[EvalQuestion]:
    """Every kind of question in the split (declines count too: a mode must not answer what it shouldn't)."""
    questions = [q for path in SPLITS[site, split] for q in load_eval_questions(path)]
    return questions[:limit] if limit else questions


def answer_both(
    site: str, data_dir: Path, questions: list[EvalQuestion], args: argparse.Namespace
) -> dict[str, list[QuestionResult]]:
    """Each mode's scored answers, the extractive first; the first indexes the help center (unless an
    earlier run did), the second reuses the index."""
    results = {}
    for mode in ("extractive", "generate"):
        with open_indexed(
            site,
            data_dir,
            answer_mode=mode,
            llm_url=args.llm_url,
            llm_model=args.llm_model,
            max_new_tokens=args.max_new_tokens,
        ) as loop:
            progress = _progress if mode == "generate" else None
            results[mode] = evaluate(questions, loop.answerer.answer, on_result=progress)
    return results


def _progress(result: QuestionResult) -> None:
    written = not result.extractive and not result.declined
    print(f"  {result.id}: {result.latency_s:.1f} s{', written' if written else ''}", flush=True)


def report(site: str, split: str, results: dict[str, list[QuestionResult]]) -> None:
    summaries = {mode: summarize(rows) for mode, rows in results.items()}
    print(f"\n== {site}, {split}: {len(results['extractive'])} questions ==")
    print(f"{'metric':22s}" + "".join(f"{mode:>12s}" for mode in summaries))
    for key in SHOWN:
        values = [s[key] for s in summaries.values()]
        print(f"{key:22s}" + "".join("–".rjust(12) if v is None else f"{v:>12.3f}" for v in values))
    recall = {mode: _fact_recall(rows) for mode, rows in results.items()}
    gain = paired_gain(recall["extractive"], recall["generate"])
    print(
        f"fact recall, generate − extractive: {gain.mean:+.3f}"
        f" (95% CI {gain.low:+.3f} to {gain.high:+.3f}, n={gain.n})"
    )
    written = {r.id for r in results["generate"] if not r.extractive and r.id in recall["generate"]}
    if written:
        mine = statistics.mean(recall["generate"][i] for i in written)
        theirs = statistics.mean(recall["extractive"][i] for i in written)
        print(
            f"written answers that passed the check: {len(written)},"
            f" fact recall {mine:.3f} (extractive {theirs:.3f})"
        )
    else:
        print("no written answer passed the check: every generate answer was the extractive one")


def _fact_recall(rows: list[QuestionResult]) -> dict[str, float]:
    return {r.id: r.fact_recall for r in rows if r.kind == "in_scope" and r.fact_recall is not None}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--site", choices=["demo", "mastodon"], default="demo")
    parser.add_argument("--split", choices=["dev", "test"], default="dev")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions of the split")
    parser.add_argument(
        "--llm-url", default=None, help="an OpenAI-compatible model server; default: the local model"
    )
    parser.add_argument("--llm-model", default="supportloop", help="model name sent to the server")
    parser.add_argument(
        "--max-new-tokens", type=int, default=Settings().max_new_tokens, help="longest written answer"
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the index here between runs")
    args = parser.parse_args()
    questions = questions_of(args.site, args.split, args.limit)
    with tempfile.TemporaryDirectory() as tmp:
        results = answer_both(args.site, args.data_dir or Path(tmp), questions, args)
    report(args.site, args.split, results)


if __name__ == "__main__":
    main()
