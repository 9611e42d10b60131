"""The whole learning loop with the real bundled policy (SmolLM2), on CPU or GPU, in one run.

Serves the bundled demo help center on 127.0.0.1 and, in a scratch data directory, runs what an admin
would: ``supportloop index``, ``supportloop simulate --votes N`` (simulated users vote on served
answers and on the policy's own sampled drafts), ``supportloop retrain`` on those simulated votes
(reward model → warm start on the liked answers → PPO → both versions answer the held-out questions). Then it
prints, from the run's report: the held-out composite reward of the current version (the baseline,
measured in the same run) and the candidate, mean ± 95% CI, and the gain in standard deviations; each
dimension, citation rate and fact recall before/after; what the warm start alone reached; KL; the
reward model's held-out accuracy; seconds per PPO update; peak memory; the gate's decision and the
numbers it was made on. Target: reward up by ≥ 0.5 SD with fact recall not lower.

    python bench/learning_loop.py [--votes 600] [--updates 20] [--batch-size 8] [--objective pointwise]

Each demo question gets 9 votes (3 voters on its served answer and on each of 2 drafts), so 600 votes
reach 67 of the 76 bundled questions and the split holds out 30 of them (the gate's
SUPPORTLOOP_GATE_MIN_QUESTIONS, at most half the questions), training on the other 37. Below about 540
votes fewer than 60 questions are reached, fewer than 30 can be held out, and the gate refuses the
candidate whatever it scores.

Settings (SUPPORTLOOP_*) pass through. PPO uses the GPU when torch sees one (bf16 through accelerate).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from supportloop.demo_site import serve_demo_site  # noqa: E402

TARGET_SD = 0.5


def run(args: list[str], env: dict[str, str]) -> float:
    """Run a ``supportloop`` command; return its wall time."""
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("supportloop")), *args], check=True, env=env)
    return time.perf_counter() - started


def sd(estimate: dict[str, float]) -> float:
    return estimate["ci95"] * math.sqrt(estimate["n"]) / 1.96


def show(name: str, before: dict[str, float], after: dict[str, float]) -> None:
    if not after["n"]:
        print(f"{name:<16} (no questions with known facts)")
        return
    was, now = (f"{e['mean']:.3f} ± {e['ci95']:.3f}" for e in (before, after))
    print(f"{name:<16} {was}  →  {now}  (n={after['n']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--votes", type=int, default=600, help="simulated votes (≥ 540 for 30 held-out questions)"
    )
    parser.add_argument("--updates", type=int, default=20, help="PPO updates")
    parser.add_argument("--batch-size", type=int, default=8, help="prompts per PPO update")
    parser.add_argument("--objective", choices=["pointwise", "pairwise"], default="pointwise")
    parser.add_argument("--keep", default=None, help="use (and keep) this data directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(args.keep or tmp)
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "SUPPORTLOOP_DATA_DIR": str(data_dir),
            "SUPPORTLOOP_CRAWL_RATE_PER_HOST": "1000",
            "SUPPORTLOOP_RETRAIN_FEEDBACK": "simulated",
            "SUPPORTLOOP_RETRAIN_MIN_VOTES": str(min(args.votes, 50)),
            "SUPPORTLOOP_REWARD_OBJECTIVE": args.objective,
            "SUPPORTLOOP_PPO_UPDATES": str(args.updates),
            "SUPPORTLOOP_PPO_BATCH_SIZE": str(args.batch_size),
        }
        with serve_demo_site(0) as url:
            run(["index", url + "/"], env)
        simulate_s = run(["simulate", "--votes", str(args.votes)], env)
        retrain_s = run(["retrain"], env)
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        [report_file] = sorted((data_dir / "reports").glob("retrain-*.json"))
        report = json.loads(report_file.read_text())
    before, after = report["evaluation"]["before"], report["evaluation"]["after"]
    pooled = math.sqrt((sd(before["reward"]) ** 2 + sd(after["reward"]) ** 2) / 2) or float("nan")
    gain_sd = (after["reward"]["mean"] - before["reward"]["mean"]) / pooled
    ppo = report["ppo"]
    print(
        f"\n== learning loop: {args.votes} simulated votes, {args.updates} PPO updates × {args.batch_size} =="
    )
    print("held-out measure  current (baseline)  →  candidate")
    for name in ("reward", "satisfaction", "grounding", "ethics", "citation_rate", "fact_recall"):
        show(name, before[name], after[name])
    warm = report["sft"].get("evaluation")
    if warm:
        gain = (warm["reward"]["mean"] - before["reward"]["mean"]) / pooled
        print(
            f"after the warm start alone ({report['sft']['examples']} liked answers, "
            f"{report['sft']['seconds']:.0f} s): reward {warm['reward']['mean']:.3f} ({gain:+.2f} SD), "
            f"grounding {warm['grounding']['mean']:.3f}, fact recall {warm['fact_recall']['mean']:.3f}"
        )
    else:
        print(f"warm start: {report['sft']['skipped']}")
    fact_ok = (
        after["fact_recall"]["mean"] >= before["fact_recall"]["mean"] if after["fact_recall"]["n"] else True
    )
    verdict = "meets" if gain_sd >= TARGET_SD and fact_ok else "misses"
    print(f"reward gain: {gain_sd:+.2f} SD; fact recall not lower: {fact_ok}  → {verdict} the target")
    print(f"KL(candidate ‖ current) on held-out answers: {report['evaluation']['kl']:.3f} nats")
    print(f"reward model ({args.objective}): {report['reward_model']}")
    audit = report["audit"]
    print(f"audit of the reward model: {'passed' if audit['passed'] else 'failed'}; {audit['report']}")
    print(
        f"PPO: {ppo['seconds'] / max(len(ppo['history']), 1):.1f} s per update, {ppo['seconds']:.0f} s in all"
    )
    print(
        f"wall time: simulate {simulate_s:.0f} s, retrain {retrain_s:.0f} s; peak memory {peak_mib:.0f} MiB"
    )
    print(f"gate: {'; '.join(report['gate'])}")
    print("gate measures: " + ", ".join(f"{k} {v:.3f}" for k, v in report["gate_measures"].items()))


if __name__ == "__main__":
    main()
