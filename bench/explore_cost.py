"""What exploring costs the answers users see: each of the composer's alternatives against the
heuristic's answer, on a help center's in-scope questions.

``SUPPORTLOOP_EXPLORE_SHARE`` serves that share of chat answers as another alternative, the one explored
least so far, so in the long run each of the others as often (``rag.answerer``). This indexes a help
center into a scratch data directory, composes every alternative for each question from the passages
serving would use, and scores each with the answer-quality scorer (``rag.evaluation.fact_recall``;
correct as in ``supportloop.tastes.answers``: an answering page cited and at least half the facts).
It prints the heuristic's figures, an explored answer's (the mean over the other alternatives, per
question) and the mix served at a share.

    python bench/explore_cost.py [--site demo|mastodon] [--split dev|test] [--share 0.15]

Dev is the default: the share was chosen on it.
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
from rag.evaluation import EvalQuestion, fact_recall, load_eval_questions  # noqa: E402
from supportloop.tastes import Served, answers, cited_paths  # noqa: E402

Scores = tuple[float | None, bool]  # fact recall (None: no facts), correct
Alternative = tuple[str, frozenset[str]]  # an answer's text and the URL paths of the pages it cites


def alternatives_of(site: str, data_dir: Path, questions: list[EvalQuestion]) -> list[list[Alternative]]:
    """Per question, the composer's alternatives, the heuristic's first, with ``site`` indexed in
    ``data_dir``."""
    rows = []
    with open_indexed(site, data_dir) as loop:
        answerer = loop.answerer
        for q in questions:
            passages = answerer.passages_for(q.question)
            rows.append([
                (option.text, cited_paths(answerer.citations([passages[i] for i in option.used] or passages)))
                for option in answerer.composer.alternatives(q.question, passages)
            ])  # fmt: skip
    return rows


def alternative_scores(site: str, data_dir: Path, questions: list[EvalQuestion]) -> list[list[Scores]]:
    """Per question, each alternative's scores, the heuristic's first (``alternatives_of``)."""
    return [
        [(fact_recall(text, q.facts), answers(q, Served(text, cited))) for text, cited in row]
        for q, row in zip(questions, alternatives_of(site, data_dir, questions), strict=True)
    ]


def summary(scores: list[list[Scores]]) -> tuple[float, float]:
    """Mean fact recall (over questions with facts) and share correct, of one answer per question given
    as the mean over ``scores``' alternatives for that question."""
    recalls = [statistics.mean(f) for row in scores if (f := [r for r, _ in row if r is not None])]
    correct = [statistics.mean(ok for _, ok in row) for row in scores]
    return statistics.mean(recalls), statistics.mean(correct)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--site", choices=["demo", "mastodon"], default="demo")
    parser.add_argument("--split", choices=["dev", "test"], default="dev")
    parser.add_argument("--share", type=float, default=0.15, help="the explore share to price")
    args = parser.parse_args()
    files = SPLITS[(args.site, args.split)]
    questions = [q for path in files for q in load_eval_questions(path) if q.kind == "in_scope"]
    with tempfile.TemporaryDirectory(prefix="explore-cost-") as scratch:
        rows = alternative_scores(args.site, Path(scratch), questions)
    heuristic = summary([row[:1] for row in rows])
    explored = summary([row[1:] or row[:1] for row in rows])
    served = tuple((1 - args.share) * h + args.share * e for h, e in zip(heuristic, explored, strict=True))
    alternatives = statistics.mean(len(row) for row in rows)
    print(f"{args.site} {args.split}: {len(rows)} in-scope questions, {alternatives:.1f} alternatives each")
    for name, (recall, correct) in (
        ("heuristic", heuristic),
        ("explored", explored),
        (f"served at share {args.share}", served),
    ):
        print(f"  {name:<24} fact recall {recall:.3f}  correct {correct:.3f}")


if __name__ == "__main__":
    main()
