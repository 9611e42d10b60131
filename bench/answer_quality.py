"""Answer quality on two help centers, SupportLoop against a plain RAG baseline, in one run.

Renders the Mastodon documentation (with site chrome) and serves it and the bundled demo site on
127.0.0.1, indexes each into a scratch data directory with ``supportloop index``, then runs
``supportloop eval QUESTIONS --baseline`` on each question set and prints both tables: hit@1/hit@5,
fact recall, median answer length, decline rate per kind, prompt-injection success, latency.

    python bench/answer_quality.py [--limit N] [--site mastodon|demo|both] [--json-dir DIR]

Settings (SUPPORTLOOP_*) pass through, e.g. SUPPORTLOOP_ANSWER_MODE=extractive or
SUPPORTLOOP_RETRIEVAL=dense to measure an alternative.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # fakes.help_center renders the Mastodon docs

from fakes.help_center import render_mastodon_docs  # noqa: E402

from supportloop.demo_site import QUESTIONS_FILE, SITE_DIR, serve_demo_site  # noqa: E402

MASTODON_QUESTIONS = ROOT / "tests" / "data" / "mastodon_questions.jsonl"


def run(args: list[str], env: dict[str, str]) -> None:
    command = [str(Path(sys.executable).with_name("supportloop")), *args]
    subprocess.run(command, check=True, env=env)


def measure(name: str, site_dir: Path, questions: Path, args: argparse.Namespace, scratch: Path) -> None:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "SUPPORTLOOP_DATA_DIR": str(scratch / name),
        "SUPPORTLOOP_CRAWL_RATE_PER_HOST": "1000",
    }
    with serve_demo_site(0, site_dir) as url:
        run(["index", url + "/"], env)
    print(f"\n== {name}: {questions.name} ==", flush=True)
    extra = ["--limit", str(args.limit)] if args.limit else []
    if args.json_dir:
        extra += ["--json", str(Path(args.json_dir) / f"{name}.json")]
    run(["eval", str(questions), "--baseline", *extra], env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions of each set")
    parser.add_argument("--site", choices=["mastodon", "demo", "both"], default="both")
    parser.add_argument("--json-dir", default=None, help="write <site>.json with every answer here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        if args.site in ("mastodon", "both"):
            site = scratch / "mastodon-site"
            render_mastodon_docs(site)
            measure("mastodon", site, MASTODON_QUESTIONS, args, scratch)
        if args.site in ("demo", "both"):
            measure("demo", SITE_DIR, QUESTIONS_FILE, args, scratch)


if __name__ == "__main__":
    main()
