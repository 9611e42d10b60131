"""Answer quality on two help centers: SupportLoop now, against the answerer of a baseline commit and
plain RAG, measured in the same run on the same questions.

For each help center (the Mastodon documentation rendered with site chrome, and the bundled demo site)
it serves the pages on 127.0.0.1, then for each system indexes them into a scratch data directory
with that system's own code and runs ``supportloop eval`` on the question split:

- ``now``: this checkout (its ``eval --baseline`` also gives ``plain-rag``: dense top-k, the two best
  chunks pasted, a cosine threshold for declines);
- ``baseline``: the answerer at ``--baseline-ref`` (default: the last commit before rerankers and
  calibrated declines), checked out into a temporary git worktree and run with the same packages;
- ``reader``, with ``--llm-url`` and ``--harm-calibration``: this checkout again, on the same index,
  with the model server reading each request for the harm check (``rag.harm_reader``), calibrated by
  ``supportloop harm calibrate`` (on dev rows only).

Every system's answers are scored here by one scorer (``rag.evaluation``), so the figures compare:
hit@1 (the first citation is an answering page), cited (any citation is), fact recall, median answer
length, decline rate per kind (a harmful request counts as declined when refused), injection success
and latency.

    python bench/answer_quality.py [--split test|dev] [--site mastodon|demo|both] [--limit N]
                                   [--baseline-ref REF | --no-baseline] [--json-dir DIR]
                                   [--llm-url URL --llm-model NAME --harm-calibration FILE]

The test split is what is reported (``tests/data/eval/README.md`` says how it was written); the dev
split is what thresholds and weights were chosen on.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # fakes.help_center renders the Mastodon docs

from fakes.help_center import render_mastodon_docs  # noqa: E402

from rag.evaluation import EvalQuestion, QuestionResult, fact_recall, load_eval_questions, summarize  # noqa: E402
from rag.harm_reader import CALIBRATION_FILE  # noqa: E402
from supportloop.demo_site import QUESTIONS_FILE, SITE_DIR, serve_demo_site  # noqa: E402

EVAL = ROOT / "tests" / "data" / "eval"
SPLITS = {
    ("mastodon", "test"): [EVAL / "mastodon_test.jsonl"],
    ("mastodon", "dev"): [
        ROOT / "tests" / "data" / "mastodon_questions.jsonl",
        EVAL / "mastodon_dev_extra.jsonl",
    ],
    ("demo", "test"): [EVAL / "demo_test.jsonl"],
    ("demo", "dev"): [QUESTIONS_FILE, EVAL / "demo_dev_extra.jsonl"],
}
BASELINE_REF = "a4d94af"  # main before the reranker, calibrated declines, refusals and composed answers
OLD_KINDS = {"in_scope", "out_of_scope", "adversarial"}
SHOWN = (
    "hit@1",
    "cited",
    "fact_recall",
    "median_answer_chars",
    "decline_rate",
    "injections",
    "injection_success",
)


def supportloop(args: list[str], env: dict[str, str]) -> None:
    command = [str(Path(sys.executable).with_name("supportloop")), *args]
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)


def run_system(
    code: Path, site_url: str | None, questions: Path, scratch: Path, plain: bool, **settings: str
) -> dict[str, list]:
    """Index with ``code``'s checkout (unless ``site_url`` is None: already indexed) and answer
    ``questions`` with ``settings`` (SUPPORTLOOP_… variables); the per-answer rows of each system."""
    env = {
        **os.environ,
        "PYTHONPATH": str(code),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "SUPPORTLOOP_DATA_DIR": str(scratch),
        "SUPPORTLOOP_CRAWL_RATE_PER_HOST": "1000",
        **settings,
    }
    if site_url is not None:
        supportloop(["index", site_url + "/"], env)
    report = scratch / "eval.json"
    supportloop(["eval", str(questions), "--json", str(report), *(["--baseline"] if plain else [])], env)
    return json.loads(report.read_text(encoding="utf-8"))["results"]


def rescore(questions: list[EvalQuestion], rows: list[dict]) -> list[QuestionResult]:
    """Score one system's answers with this checkout's scorer, whatever code produced them."""
    by_id = {q.id: q for q in questions}
    results = []
    for row in rows:
        q = by_id[row["id"]]
        pages = [urlsplit(url).path for url in row["citations"]]
        refused = bool(row.get("refused", False))
        text = row["answer"].lower()
        results.append(
            QuestionResult(
                id=q.id,
                kind=q.kind,
                answer=row["answer"],
                citations=row["citations"],
                declined=row["declined"] or refused,
                refused=refused,
                extractive=row.get("extractive", False),
                latency_s=row["latency_s"],
                hit1=bool(pages) and pages[0] in q.source if q.source else None,
                cited=any(p in q.source for p in pages) if q.source else None,
                fact_recall=fact_recall(row["answer"], q.facts),
                injected=any(f.lower() in text for f in q.forbidden) if q.kind == "adversarial" else None,
            )
        )
    return results


def question_file(site: str, split: str, scratch: Path, limit: int | None, old: bool) -> Path:
    """The split as one file; for an ``old`` system, kinds it doesn't know become out_of_scope."""
    lines = [
        line for path in SPLITS[site, split] for line in path.read_text(encoding="utf-8").splitlines() if line
    ]
    lines = lines[:limit] if limit else lines
    if old:
        rows = [json.loads(line) for line in lines]
        lines = [
            json.dumps(r | ({"kind": "out_of_scope"} if r["kind"] not in OLD_KINDS else {})) for r in rows
        ]
    path = scratch / f"{site}-{split}{'-old' if old else ''}.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def measure(
    site: str, site_dir: Path, args: argparse.Namespace, scratch: Path, baseline: Path | None
) -> dict:
    questions_file = question_file(site, args.split, scratch, args.limit, old=False)
    questions = load_eval_questions(questions_file)
    summaries = {}
    with serve_demo_site(0, site_dir) as url:
        rows = run_system(ROOT, url, questions_file, scratch / "now", True)
        summaries["now"] = summarize(rescore(questions, rows["supportloop"]))
        summaries["plain-rag"] = summarize(rescore(questions, rows["baseline"]))
        if args.harm_calibration:
            shutil.copyfile(args.harm_calibration, scratch / "now" / CALIBRATION_FILE)
            server = {"SUPPORTLOOP_LLM_URL": args.llm_url, "SUPPORTLOOP_LLM_MODEL": args.llm_model}
            rows = run_system(ROOT, None, questions_file, scratch / "now", False, **server)
            summaries["reader"] = summarize(rescore(questions, rows["supportloop"]))
        if baseline is not None:
            old_questions = question_file(site, args.split, scratch, args.limit, old=True)
            try:
                rows = run_system(baseline, url, old_questions, scratch / "baseline", False)
            except subprocess.CalledProcessError:  # its own error is printed above
                ref = args.baseline_ref
                print(f"The baseline at {ref} did not run with this checkout's packages; left out.")
            else:
                summaries["baseline"] = summarize(rescore(questions, rows["supportloop"]))
    print(f"\n== {site}, {args.split} split: {len(questions)} questions ==")
    print(f"{'metric':32s}" + "".join(f"{name:>12s}" for name in summaries))
    for key in (*SHOWN, "latency_p50_s", "latency_p95_s"):
        first = summaries["now"][key]
        for sub in first if isinstance(first, dict) else [None]:
            label = f"{key} {sub}" if sub else key
            values = [s[key][sub] if sub else s[key] for s in summaries.values()]
            print(f"{label:32s}" + "".join(f"{_fmt(v):>12s}" for v in values))
    return summaries


def _fmt(value: object) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--split", choices=["test", "dev"], default="test")
    parser.add_argument("--site", choices=["mastodon", "demo", "both"], default="both")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions of each set")
    parser.add_argument("--baseline-ref", default=BASELINE_REF, help="git commit of the baseline answerer")
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline commit")
    parser.add_argument("--json-dir", default=None, help="write <site>.json with every summary here")
    parser.add_argument("--llm-url", help="a model server for the `reader` system (SUPPORTLOOP_LLM_URL)")
    parser.add_argument("--llm-model", default="supportloop", help="its model name (SUPPORTLOOP_LLM_MODEL)")
    parser.add_argument(
        "--harm-calibration", type=Path, help="harm_reader.json from `supportloop harm calibrate` for it"
    )
    args = parser.parse_args()
    if bool(args.llm_url) != bool(args.harm_calibration):
        parser.error("--llm-url and --harm-calibration go together")
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        baseline = None
        if not args.no_baseline:
            baseline = scratch / "baseline-code"
            subprocess.run(
                [
                    "git",
                    "-C",
                    str(ROOT),
                    "worktree",
                    "add",
                    "--detach",
                    "-q",
                    str(baseline),
                    args.baseline_ref,
                ],
                check=True,
            )
        try:
            sites = ["mastodon", "demo"] if args.site == "both" else [args.site]
            for site in sites:
                site_dir = SITE_DIR
                if site == "mastodon":
                    site_dir = scratch / "mastodon-site"
                    render_mastodon_docs(site_dir)
                work = scratch / site
                work.mkdir()
                summaries = measure(site, site_dir, args, work, baseline)
                if args.json_dir:
                    out = Path(args.json_dir) / f"{site}-{args.split}.json"
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_text(json.dumps(summaries, indent=2), encoding="utf-8")
        finally:
            if baseline is not None:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(baseline)], check=False
                )


if __name__ == "__main__":
    main()
