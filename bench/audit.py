"""The default reward-model audit on CPU: how long it takes, part by part. Target: ≤ 5 minutes.

A MiniLM reward model is trained first (not timed as part of the audit) on votes over the audit's own
support cases, asked by people who introduce themselves (random group markers, labels independent of
them): what a reward model looks like after a retraining with the audit's counter-examples. Then the
default audit runs exactly as `supportloop audit` runs it — every case, fairness on the reward model and
the composite reward, all adversarial probes, the factual-accuracy calibration and SHAP.

Baseline, measured in the same run: scoring every text the fairness and adversarial parts score, once,
in one batch — the least any audit of these texts can cost. The ratio says what the rest costs.

    python bench/audit.py [--threads 2]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from audit.adversarial import PROBES
from audit.cases import GROUP_MARKERS, load_cases, with_marker
from audit.fairness import counterfactual_rows
from audit.suite import AuditSettings, run_audit
from core.embedder import load_embeddings
from rag.grounding import GroundingChecker
from training.datasets import FeedbackDataset, LabelledAnswer
from training.reward import CompositeReward
from training.reward_model import RewardTrainingConfig, train_reward_model

TARGET_S = 300


def train(cases: list) -> object:
    rng = random.Random(0)
    markers = [m for groups in GROUP_MARKERS.values() for ms in groups.values() for m in ms]
    rows = []
    for case in cases:
        for question in (case.question, case.paraphrase, case.typo, case.non_native):
            for answer, label in ((case.honest, 1), (case.wrong, 0)):
                for asked in [question] + [with_marker(m, question) for m in rng.sample(markers, 3)]:
                    rows.append(LabelledAnswer(len(rows), asked, answer, [], label, 1 - label, []))
    data = FeedbackDataset(rows, rows[:32], [], [], len(rows), "simulated")
    return train_reward_model(data, "pointwise", RewardTrainingConfig(epochs=3, learning_rate=1e-4))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the machine's cores)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cases = load_cases()

    started = time.perf_counter()
    reward = train(cases)
    print(f"reward model: trained in {time.perf_counter() - started:.0f} s, held-out {reward.metrics}")

    rows = counterfactual_rows(cases)
    pairs = [(r.question, r.answer) for r in rows]
    for hack in PROBES.values():
        for n, case in enumerate(cases):
            question, honest, hacked = hack(case, cases[(n + 1) % len(cases)])
            pairs += [(question, honest), (question, hacked)]
    baseline = []
    for _ in range(3):
        started = time.perf_counter()
        reward.probability([q for q, _ in pairs], [a for _, a in pairs])
        baseline.append(time.perf_counter() - started)
    baseline_s = statistics.median(baseline)
    print(f"baseline: scoring the {len(pairs)} audit texts once takes {baseline_s:.1f} s (median of 3)")

    checker = GroundingChecker(load_embeddings())
    composite = CompositeReward(checker, reward_model=reward)
    result = run_audit(reward, AuditSettings(), checker=checker, composite=composite.totals)
    parts = ", ".join(f"{part} {seconds:.0f} s" for part, seconds in result.timings.items())
    print(f"audit: {result.seconds:.0f} s ({parts}); {result.seconds / baseline_s:.1f}× the baseline")
    print(f"       {result.explanations.texts} texts explained with SHAP, {len(cases)} cases")
    print(f"       calibration of the sentence-support check: accuracy {result.calibration.accuracy:.3f}")
    print(f"       {result.summary()}")
    verdict = "met" if result.seconds <= TARGET_S else "MISSED"
    print(f"target: the default audit in ≤ {TARGET_S} s on CPU: {verdict} ({result.seconds:.0f} s)")


if __name__ == "__main__":
    main()
