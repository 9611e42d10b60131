"""Follow-up questions in threads: does the follow-up's answer cite the right page when it is condensed
with the thread (``rag.condense``), and when it is asked on its own, as it was before? Both in one run,
on both help centers, on the conversation sets of ``tests/data/eval`` (README there: how they were
written and split; the dev split adds the dev-only ``conversations_<site>_dev_extra.jsonl``).

For each help center (the Mastodon documentation rendered with site chrome, and the bundled demo site)
it serves the pages on 127.0.0.1, indexes them with this checkout's code, and answers each conversation's
follow-up in its thread (after the first turn) and on its own. Printed per split: "cited" (any citation
is an answering page), hit@1 (the first citation is), fact recall, and how many follow-ups were
rewritten.

    python bench/follow_ups.py [--site mastodon|demo|both] [--split dev|test|both] [--data-dir DIR]

``--data-dir`` keeps each help center's index in DIR/<site> and reuses it on the next run (indexing the
Mastodon docs takes minutes on two cores); without it the indexes go to a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # fakes.help_center renders the Mastodon docs
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from fakes.help_center import render_mastodon_docs  # noqa: E402

from core.settings import Settings  # noqa: E402
from rag.condense import condense  # noqa: E402
from rag.evaluation import (  # noqa: E402
    EvalConversation,
    evaluate_follow_ups,
    load_conversations,
    summarize,
)
from rag.ingest import ingest_site  # noqa: E402
from supportloop.app import SupportLoop  # noqa: E402
from supportloop.demo_site import SITE_DIR, serve_demo_site  # noqa: E402

EVAL = ROOT / "tests" / "data" / "eval"
SHOWN = ("cited", "hit@1", "fact_recall")


def open_indexed(site: str, data_dir: Path, **settings: Any) -> SupportLoop:
    """A SupportLoop over ``data_dir`` with ``site`` indexed (kept from an earlier run if it is there);
    ``settings`` override the defaults (e.g. ``answer_mode``)."""
    loop = SupportLoop(Settings(data_dir=data_dir, crawl_rate_per_host=1000, **settings))
    if loop.index.collection.count() == 0:
        site_dir = SITE_DIR
        if site == "mastodon":
            site_dir = data_dir / "site"
            render_mastodon_docs(site_dir)
        with serve_demo_site(0, site_dir) as url:
            ingest_site([url + "/"], loop.index, loop.settings)
    return loop


def conversation_set(site: str, split: str) -> list[EvalConversation]:
    """A help center's conversations of ``split``; dev adds the dev-only extra file."""
    conversations = load_conversations(EVAL / f"conversations_{site}.jsonl", split)
    extra = EVAL / f"conversations_{site}_dev_extra.jsonl"
    if split == "dev" and extra.exists():
        conversations += load_conversations(extra, split)
    return conversations


def measure(site: str, splits: list[str], data_dir: Path) -> None:
    with open_indexed(site, data_dir) as loop:
        answer = loop.answerer.answer
        for split in splits:
            conversations = conversation_set(site, split)
            rewritten = sum(condense(c.turns[-1], c.turns[:-1]) is not None for c in conversations)
            summaries = {
                "condensed": summarize(evaluate_follow_ups(conversations, answer)),
                "alone": summarize(evaluate_follow_ups(conversations, answer, with_thread=False)),
            }
            print(f"\n== {site}, {split}: {len(conversations)} follow-ups, {rewritten} rewritten ==")
            print(f"{'metric':14s}" + "".join(f"{name:>12s}" for name in summaries))
            for key in SHOWN:
                print(f"{key:14s}" + "".join(f"{s[key]:>12.3f}" for s in summaries.values()))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--site", choices=["mastodon", "demo", "both"], default="both")
    parser.add_argument("--split", choices=["dev", "test", "both"], default="both")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the indexes here (DIR/<site>)")
    args = parser.parse_args()
    sites = ["mastodon", "demo"] if args.site == "both" else [args.site]
    splits = ["dev", "test"] if args.split == "both" else [args.split]
    with tempfile.TemporaryDirectory() as tmp:
        for site in sites:
            measure(site, splits, (args.data_dir or Path(tmp)) / site)


if __name__ == "__main__":
    main()
