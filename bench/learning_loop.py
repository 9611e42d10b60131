"""The whole learning loop with the real bundled policy (SmolLM2), on CPU or GPU, in one run.

Serves the bundled demo help center on 127.0.0.1 and, in a scratch data directory, runs what an admin
would: ``supportloop index``, ``supportloop simulate --votes N`` (simulated users vote on served
answers and on the policy's own sampled drafts), ``supportloop retrain`` on those simulated votes
(reward model → warm start on the liked answers → PPO or KTO → both versions answer the held-out
questions). With one ``--algorithm`` it prints, from the run's report: the held-out composite reward
of the current version (the baseline, measured in the same run) and the candidate, mean ± 95% CI, and
the gain in standard deviations; each dimension, citation rate and fact recall before/after; what the
warm start alone reached; KL; the reward model's held-out accuracy; seconds per PPO or KTO step; peak
memory; the gate's decision and the numbers it was made on. Target: reward up by ≥ 0.5 SD with fact
recall not lower.

With ``--algorithm all`` it retrains three times on the same simulated votes, each in its own copy of
the data directory (so the same held-out questions, the same seed), cheapest first: ``sft`` (the warm
start alone), ``kto`` (warm start + KTO) and ``ppo`` (warm start + PPO). It prints, for the untrained
version 0 (measured in the same run) and each algorithm, as each retrain ends: held-out composite
reward, fact recall and satisfaction with 95% intervals, training time, the retrain's wall time and peak
memory; then each one's paired reward gain over version 0, and the highest one's over each other, with
the gate's paired-bootstrap 95% intervals (the same held-out questions, so per-question differences).

    python bench/learning_loop.py [--votes 600] [--updates 20] [--batch-size 8] [--objective features]
                                  [--algorithm auto|ppo|kto|sft|all]

Each demo question gets 9 votes (3 voters on its served answer and on each of 2 drafts), so 600 votes
reach 67 of the 76 bundled questions and the split holds out 30 of them (the gate's
SUPPORTLOOP_GATE_MIN_QUESTIONS, at most half the questions), training on the other 37. Below about 540
votes fewer than 60 questions are reached, fewer than 30 can be held out, and the gate refuses the
candidate whatever it scores.

``--scenario tastes`` and ``--scenario poisoned`` measure the fast path alone (the reward model
retrained by one collect cycle, no policy update; ``bench/fast_path_scenarios.py`` says how):

    python bench/learning_loop.py --scenario tastes [--taste steps --taste short] [--votes 300]
                                  [--explore 0.15]
    python bench/learning_loop.py --scenario poisoned

Settings (SUPPORTLOOP_*) pass through. PPO and KTO use the GPU when torch sees one (bf16 through
accelerate). Time on two CPU cores: one PPO retrain of 600 votes with 8 updates of 4 prompts took 35–44
min (126–138 s per update, peak RSS about 15 GiB); ``all`` retrains three times after one simulate.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fast_path_scenarios import copy_data_dir, poisoned_scenario, run, tastes_scenario  # noqa: E402
from core.settings import Settings  # noqa: E402
from supportloop.demo_site import serve_demo_site  # noqa: E402
from supportloop.tastes import TASTES  # noqa: E402
from training.promotion import paired_gain  # noqa: E402

TARGET_SD = 0.5
ALGORITHMS = ("sft", "kto", "ppo")  # cheapest first: a bench stopped early has measured the most


def sd(estimate: dict[str, float]) -> float:
    return estimate["ci95"] * math.sqrt(estimate["n"]) / 1.96


def show(name: str, before: dict[str, float], after: dict[str, float]) -> None:
    if not after["n"]:
        print(f"{name:<16} (no questions with known facts)")
        return
    was, now = (f"{e['mean']:.3f} ± {e['ci95']:.3f}" for e in (before, after))
    print(f"{name:<16} {was}  →  {now}  (n={after['n']})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scenario",
        choices=["loop", "tastes", "poisoned"],
        default="loop",
        help="loop: the whole retrain; tastes, poisoned: the fast path alone",
    )
    parser.add_argument(
        "--votes",
        type=int,
        default=None,
        help="simulated votes (loop: 600, ≥ 540 for 30 held-out questions; tastes: 300 per taste)",
    )
    parser.add_argument(
        "--taste", action="append", choices=sorted(TASTES), help="tastes scenario: which (default: all)"
    )
    parser.add_argument(
        "--explore",
        type=float,
        default=Settings.model_fields["explore_share"].default,
        help="tastes scenario: SUPPORTLOOP_EXPLORE_SHARE while voting (default: the product's, %(default)s)",
    )
    parser.add_argument(
        "--harm-calibration",
        type=Path,
        default=None,
        help="tastes, poisoned: a harm reader's calibration (`supportloop harm calibrate`) for the model "
        "server in SUPPORTLOOP_LLM_URL, so that serving and the audit read requests through it",
    )
    parser.add_argument("--updates", type=int, default=20, help="PPO updates")
    parser.add_argument("--batch-size", type=int, default=8, help="prompts per PPO update")
    parser.add_argument("--objective", choices=["features", "pointwise", "pairwise"], default="features")
    parser.add_argument(
        "--algorithm",
        choices=[*ALGORITHMS, "auto", "all"],
        default="auto",
        help="how retraining tunes the policy (default: the product's auto, kto on a GPU and sft on a CPU)",
    )
    parser.add_argument(
        "--keep",
        default=None,
        help="keep the data directories in this new folder (votes/, one per algorithm)",
    )
    args = parser.parse_args()
    if args.scenario != "loop":
        fast_path(args)
        return
    args.votes = args.votes or 600
    algorithms = ALGORITHMS if args.algorithm == "all" else (args.algorithm,)
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(args.keep or tmp) / "votes"
        env = {
            **base_env(args),
            "SUPPORTLOOP_DATA_DIR": str(data_dir),
            "SUPPORTLOOP_PPO_UPDATES": str(args.updates),
            "SUPPORTLOOP_PPO_BATCH_SIZE": str(args.batch_size),
        }
        with serve_demo_site(0) as url:
            run(["index", url + "/"], env)
        simulate_s, _ = run(["simulate", "--votes", str(args.votes)], env)
        print(
            f"\n== learning loop: {args.votes} simulated votes (simulate took {simulate_s:.0f} s) ==",
            flush=True,
        )
        for algorithm in algorithms:
            retrain_dir = data_dir.with_name(algorithm)
            copy_data_dir(data_dir, retrain_dir)
            wall, peak = run(
                ["retrain"],
                {**env, "SUPPORTLOOP_DATA_DIR": str(retrain_dir), "SUPPORTLOOP_POLICY_ALGORITHM": algorithm},
            )
            [report_file] = sorted((retrain_dir / "reports").glob("retrain-*.json"))
            runs[algorithm] = {"report": json.loads(report_file.read_text()), "wall": wall, "peak": peak}
            if len(algorithms) > 1:  # a row as each run ends: a stopped bench still shows what it measured
                show_row(algorithm, runs[algorithm], first=len(runs) == 1)
    if len(runs) == 1:
        [(algorithm, only)] = runs.items()
        show_run(algorithm, only, args)
    else:
        compare(runs)


def base_env(args: argparse.Namespace) -> dict[str, str]:
    """Offline, a fast crawl of the local demo site, and retraining on the simulated votes."""
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "SUPPORTLOOP_CRAWL_RATE_PER_HOST": "1000",
        "SUPPORTLOOP_RETRAIN_FEEDBACK": "simulated",
        "SUPPORTLOOP_RETRAIN_MIN_VOTES": str(min(args.votes, 50)),
        "SUPPORTLOOP_REWARD_OBJECTIVE": args.objective,
    }


def fast_path(args: argparse.Namespace) -> None:
    """The ``tastes`` or ``poisoned`` scenario (``bench/fast_path_scenarios.py``): one collect cycle
    queues the fast path, never a full retrain."""
    args.votes = args.votes or 300
    env = {**base_env(args), "SUPPORTLOOP_RETRAIN_MIN_NEW_VOTES": "1000000"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.scenario == "tastes":
            tastes_scenario(
                work, env, args.taste or sorted(TASTES), args.votes, args.explore, args.harm_calibration
            )
        else:
            poisoned_scenario(work, env, 3, args.harm_calibration)


def show_run(algorithm: str, outcome: dict[str, Any], args: argparse.Namespace) -> None:
    """The one run in detail: every measure before/after, the warm start, KL, reward model, gate."""
    report = outcome["report"]
    before, after = report["evaluation"]["before"], report["evaluation"]["after"]
    pooled = math.sqrt((sd(before["reward"]) ** 2 + sd(after["reward"]) ** 2) / 2) or float("nan")
    gain_sd = (after["reward"]["mean"] - before["reward"]["mean"]) / pooled
    tuning = report["policy"]
    steps = len(tuning["history"])
    ran = report["algorithm"]  # what ``auto`` chose on this machine
    print(
        ran.upper()
        + (" (auto)" if algorithm == "auto" else "")
        + (f": {args.updates} updates × {args.batch_size}" if ran == "ppo" else "")
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
    if steps:
        per_step = tuning["seconds"] / steps
        print(f"{ran.upper()}: {per_step:.1f} s per step, {tuning['seconds']:.0f} s in all")
    else:
        print(f"{ran.upper()}: no update after the warm start; the warm-started policy is the candidate")
    print(f"wall time: retrain {outcome['wall']:.0f} s; peak memory {outcome['peak']:.0f} MiB")
    print(f"gate: {'; '.join(report['gate'])}")
    print("gate measures: " + ", ".join(f"{k} {v:.3f}" for k, v in report["gate_measures"].items()))


MEASURES = ("reward", "fact_recall", "satisfaction")
NAMES = {"sft": "SFT only", "ppo": "SFT + PPO", "kto": "SFT + KTO"}


def show_row(algorithm: str, outcome: dict[str, Any], first: bool) -> None:
    """One algorithm's line of the comparison; the first also prints the header and the untrained
    version 0, measured in the same run on the same held-out questions."""
    report = outcome["report"]
    if first:
        print(f"{'policy':<22}" + "".join(f"{m:<26}" for m in MEASURES) + "train s  retrain s  peak MiB")
        baseline = report["evaluation"]["before"]
        print(f"{'untrained (version 0)':<22}" + "".join(f"{estimate(baseline[m]):<26}" for m in MEASURES))
    after = report["evaluation"]["after"]
    train_s = report["sft"].get("seconds", 0.0) + report["policy"]["seconds"]
    print(
        f"{NAMES[algorithm]:<22}"
        + "".join(f"{estimate(after[m]):<26}" for m in MEASURES)
        + f"{train_s:>7.0f}  {outcome['wall']:>9.0f}  {outcome['peak']:>8.0f}",
        flush=True,
    )


def compare(runs: dict[str, dict[str, Any]]) -> None:
    """Which algorithm scored highest, and by how much on the same held-out questions: the paired
    bootstrap the promotion gate uses (per-question reward differences), against version 0 and against
    each other algorithm."""
    rewards = {a: r["report"]["evaluation"]["after"]["rewards"] for a, r in runs.items()}
    baseline = next(iter(runs.values()))["report"]["evaluation"]["before"]["rewards"]
    for algorithm, own in rewards.items():
        print(f"{NAMES[algorithm]} − version 0: {paired_gain(baseline, own)}")
    ranked = sorted(
        runs, key=lambda a: runs[a]["report"]["evaluation"]["after"]["reward"]["mean"], reverse=True
    )
    for other in ranked[1:]:
        gain = paired_gain(rewards[other], rewards[ranked[0]])
        verdict = "clearly higher" if gain.low > 0 else "not clearly higher"
        print(f"{NAMES[ranked[0]]} − {NAMES[other]}: {gain}: {verdict}")


def estimate(value: dict[str, float]) -> str:
    """mean ± 95% interval (n), or a dash where no question had the measure."""
    return f"{value['mean']:.3f} ± {value['ci95']:.3f} (n={value['n']})" if value["n"] else "—"


if __name__ == "__main__":
    main()
