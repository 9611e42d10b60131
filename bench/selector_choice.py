"""Can the chat model choose among the composer's answers? The measurement behind a selector.

The tuned chat model could decide what users see in two ways: write the answer (fact recall 0.32 in
about 5.5 s on 2 cores, README "Answer quality"), or choose among the grounded answers the composer
offers (``rag.compose.Composer.alternatives``). This measures the second on the in-scope dev questions
of both help centers. The chat model (SmolLM2-135M, version 0) reads the question and the
alternatives, numbered, the heuristic's first, each cut to ``--chars`` characters and labelled with
its length and how many pages it cites. Its choice is the likeliest next token among the numbers:
one forward pass, no decoding. Per taste (``supportloop.tastes``), it prints:

- the time of that pass, in serving's precision (bfloat16 where the CPU has it);
- the share of choices that meet the taste, and their fact recall, for the heuristic (always 1), a
  fixed other place (always 2, 3 or 4: what learning only where the liked answer usually sits would
  give), the best possible choice, version 0, and version 0 fine-tuned for ``--epochs`` on half of
  the demo questions, once per ``--seeds``. The fine-tuned model is judged on the other half, and on
  the Mastodon questions, a site it never saw.

The fine-tune's targets are the taste's own verdicts, not votes (the first alternative that meets
the taste, else the heuristic's): this is what the model learns from clean labels, at best.

    python bench/selector_choice.py [--taste short|one-page] [--chars 200] [--epochs 3] [--seeds 3]
                                    [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.answer_quality import SPLITS  # noqa: E402
from bench.explore_cost import alternatives_of  # noqa: E402
from bench.follow_ups import open_indexed  # noqa: E402
from rag.evaluation import fact_recall, load_eval_questions  # noqa: E402
from supportloop.tastes import SHORT_CHARS, Served, answers  # noqa: E402

if TYPE_CHECKING:
    import torch

SPLIT_SEED = 21  # the demo questions' halves, as the tastes bench shuffles its questions
SYSTEM = (
    "You choose which candidate answer to show a customer. Every candidate is quoted from the help pages."
)


@dataclass(frozen=True)
class Option:
    text: str
    pages: int
    meets: dict[str, bool]  # taste → whether this answer meets it
    recall: float  # fact recall (0 where the question lists no facts)


@dataclass(frozen=True)
class Choice:
    question: str
    options: list[Option]  # the heuristic's first

    def liked(self, taste: str) -> int:
        """The first option that meets ``taste``, else the heuristic's: the best possible choice, and
        the fine-tune's target."""
        return next((k for k, option in enumerate(self.options) if option.meets[taste]), 0)


def choices(site: str, data_dir: Path) -> list[Choice]:
    """Each in-scope dev question of ``site`` with the composer's alternatives and what they meet."""
    questions = [
        q for path in SPLITS[(site, "dev")] for q in load_eval_questions(path) if q.kind == "in_scope"
    ]
    print(f"{site}: indexing the pages and composing answers to {len(questions)} questions…", flush=True)
    rows = []
    for q, alternatives in zip(questions, alternatives_of(site, data_dir, questions), strict=True):
        options = []
        for text, cited in alternatives:
            correct = answers(q, Served(text, cited))
            meets = {"short": correct and len(text) <= SHORT_CHARS, "one-page": correct and len(cited) == 1}
            options.append(Option(text, len(cited), meets, fact_recall(text, q.facts) or 0.0))
        if len(options) > 1:  # a single answer leaves nothing to choose
            rows.append(Choice(q.question, options))
    return rows


class Selector:
    """The chat model reading numbered candidates and naming one (see the module doc)."""

    def __init__(self, folder: Path, chars: int) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModelForCausalLM.from_pretrained(folder, dtype="float32")  # as trained
        self.chars = chars
        self.digits = [self.tokenizer.encode(str(k), add_special_tokens=False)[0] for k in range(1, 10)]

    def prompt(self, choice: Choice) -> str:
        lines = []
        for k, option in enumerate(choice.options, start=1):
            text = option.text.replace("\n", " ")
            if len(text) > self.chars:
                text = text[: self.chars].rsplit(" ", 1)[0] + " …"
            plural = "s" if option.pages > 1 else ""
            lines.append(f"[{k}] ({len(option.text)} characters, {option.pages} page{plural}) {text}")
        user = (
            f"Question: {choice.question}\n\nCandidates:\n" + "\n".join(lines)
            + "\n\nReply with the number of the best candidate."
        )  # fmt: skip
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def logits(self, choice: Choice) -> torch.Tensor:
        ids = self.tokenizer(self.prompt(choice), return_tensors="pt").input_ids
        return self.model(ids).logits[0, -1, self.digits[: len(choice.options)]]

    def choose(self, rows: Sequence[Choice]) -> tuple[list[int], list[float]]:
        """The chosen option of each row and the seconds each forward pass took."""
        import torch

        from core.llm import resolve_dtype

        self.model.to(resolve_dtype("auto", "cpu")).eval()
        picks, seconds = [], []
        with torch.no_grad():
            for row in rows:
                started = time.perf_counter()
                picks.append(int(self.logits(row).argmax()))
                seconds.append(time.perf_counter() - started)
        return picks, seconds

    def fine_tune(self, rows: Sequence[Choice], taste: str, epochs: int, seed: int) -> float:
        """Cross-entropy on the number of each row's target (see the module doc), in float32, the rows
        in an order drawn from ``seed``; seconds taken. Call it before ``choose``, which casts the
        model to serving's precision."""
        import torch

        torch.manual_seed(seed)
        self.model.train()
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=2e-5)
        order, draw, started = list(rows), random.Random(seed), time.perf_counter()
        for _ in range(epochs):
            draw.shuffle(order)
            for row in order:
                target = torch.tensor([row.liked(taste)])
                loss = torch.nn.functional.cross_entropy(self.logits(row)[None], target)
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()
        return time.perf_counter() - started


def report(name: str, rows: Sequence[Choice], picks: Sequence[int], taste: str) -> None:
    meets = statistics.mean(row.options[k].meets[taste] for row, k in zip(rows, picks, strict=True))
    recall = statistics.mean(row.options[k].recall for row, k in zip(rows, picks, strict=True))
    counts = [list(picks).count(k) for k in range(max(len(r.options) for r in rows))]
    print(f"    {name:<44} meets {meets:.3f}  fact recall {recall:.3f}  picks per number {counts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taste", action="append", choices=["short", "one-page"])
    parser.add_argument("--chars", type=int, default=200, help="each candidate cut to this many characters")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3, help="fine-tunes per taste, each its own row order")
    parser.add_argument("--data-dir", type=Path, help="keep the indexed help centers here between runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="selector-") as scratch:
        data = args.data_dir or Path(scratch)
        demo, mastodon = choices("demo", data / "demo"), choices("mastodon", data / "mastodon")
        with open_indexed("demo", data / "demo") as loop:
            base = loop.registry.current().path
    random.Random(SPLIT_SEED).shuffle(demo)
    train, held_out = demo[: len(demo) // 2], demo[len(demo) // 2 :]
    version_0 = Selector(base, args.chars)
    zero, seconds = version_0.choose(held_out)
    lengths = [len(version_0.tokenizer(version_0.prompt(r)).input_ids) for r in held_out + mastodon]
    print(f"one pass: median {statistics.median(seconds):.3f} s, prompts median "
          f"{statistics.median(lengths):.0f} tokens, at most {max(lengths)}")  # fmt: skip
    for taste in args.taste or ["short", "one-page"]:
        print(f"== {taste}: {len(train)} demo questions to train, {len(held_out)} held out, "
              f"{len(mastodon)} Mastodon ==")  # fmt: skip
        for name, rows in (("demo, held-out half", held_out), ("Mastodon, never seen", mastodon)):
            print(f"  {name}")
            report("heuristic (always 1)", rows, [0] * len(rows), taste)
            for k in range(1, 4):  # what learning the usual place of the liked answer alone gives
                report(
                    f"always {k + 1} (or the last)", rows, [min(k, len(r.options) - 1) for r in rows], taste
                )
            report("best possible", rows, [r.liked(taste) for r in rows], taste)
            if rows is held_out:
                report("version 0", rows, zero, taste)
        for seed in range(args.seeds):
            selector = Selector(base, args.chars)
            tuned_s = selector.fine_tune(train, taste, args.epochs, seed)
            print(
                f"  seed {seed}: fine-tuned on {len(train)} questions, {args.epochs} epochs, {tuned_s:.0f} s"
            )
            for name, rows in (("demo, held-out half", held_out), ("Mastodon, never seen", mastodon)):
                report(f"fine-tuned, {name}", rows, selector.choose(rows)[0], taste)


if __name__ == "__main__":
    main()
