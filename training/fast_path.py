"""The fast path: a reward model retrained from the latest votes serves within minutes, no policy update.

The served version's reward model picks among the composer's alternative answers (``rag.answerer``), so
a new reward model alone changes what users see. This run trains one on all votes so far and, if it
passes the gate, makes it live as a new model version whose policy is the current one unchanged (its
files are hard links, so no weights are copied). Being a version, it is listed by ``supportloop models``,
reported like any promotion, and rolled back like any version.

The gate, like a version's:

- the audit of the reward model passes (``audit.suite``: fairness, adversarial probes, the cases);
  SHAP explanations, which decide nothing and are the audit's slowest part, are left to the
  scheduled audit (``SUPPORTLOOP_AUDIT_CRON``) and ``supportloop audit``, so a taste serves within
  minutes;
- on the held-out questions it ranks a liked answer above a disliked one to the same question more
  often than what serves now (the current version's reward model, or, where it has none, chance:
  0.5), since ranking the composer's alternatives is its job, and not by luck: as in the full
  retrain's gate (``training.promotion.paired_gain``), a paired bootstrap over the held-out pairs
  (per pair, right or wrong now against right or wrong with the new model) must put the 95% lower
  bound of the gain above 0. With ~20 held-out pairs, one pair is 0.05 of pair accuracy, and a model
  that learnt nothing once went live at 0.545 against chance's 0.5;
- it predicts the majority vote at least as well (always predicting the commoner vote, where no
  reward model serves). Without held-out pairs, it must predict the majority vote better.

PPO or KTO (``training.pipeline``) remain the slow path, which changes the policy itself.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from audit.suite import load_counter_examples
from core.database import Database
from core.registry import ModelRegistry, clear_leftovers
from rag.grounding import GroundingChecker
from training.datasets import FeedbackDataset, build_dataset, with_counter_examples
from training.pipeline import RetrainPaths, RetrainSettings, audit_reward_model
from training.promotion import PairedGain, paired_gain
from training.reward import CompositeReward
from training.reward_model import (
    METADATA,
    evaluate_reward_model,
    load_reward_model,
    pair_hits,
    train_reward_model,
)

if TYPE_CHECKING:
    from training.feature_reward import FeatureRewardModel
    from training.reward_model import RewardModel

    Scorer = RewardModel | FeatureRewardModel

log = logging.getLogger(__name__)
KIND = "reward model only"  # ``metrics["kind"]`` of a fast-path version


@dataclass(frozen=True)
class FastPathResult:
    version: int
    promoted: bool
    reasons: list[str]  # why it was not promoted (empty when it was)
    accuracy: float  # the new reward model's held-out accuracy
    baseline: float  # what serves now, on the same held-out answers
    seconds: float
    pair_accuracy: float | None = None  # held-out pairs ranked right (None: no held-out pairs)
    baseline_pairs: float | None = None  # the same for what serves now

    def summary(self) -> str:
        verdict = "promoted" if self.promoted else "not promoted: " + "; ".join(self.reasons)
        pairs = ""
        if self.pair_accuracy is not None and self.baseline_pairs is not None:
            pairs = f", pairs ranked right {self.baseline_pairs:.3f} → {self.pair_accuracy:.3f}"
        return (
            f"reward-model version {self.version} {verdict}; held-out accuracy {self.baseline:.3f} → "
            f"{self.accuracy:.3f}{pairs}; {self.seconds:.0f} s"
        )


def refresh_reward_model(
    db: Database,
    registry: ModelRegistry,
    checker: GroundingChecker,
    paths: RetrainPaths,
    settings: RetrainSettings,
    progress: Callable[[float, str], None] = lambda fraction, line: None,
) -> FastPathResult:
    """Train, audit and (through the gate) serve a new reward model over the current policy."""
    started = time.perf_counter()
    data = build_dataset(db, source=settings.feedback, min_votes=settings.min_votes)
    data = with_counter_examples(data, load_counter_examples(paths.audit))
    progress(0.05, f"dataset: {len(data.train)} training and {len(data.test)} held-out answers")
    reward_model = train_reward_model(data, settings.reward_objective)
    current = registry.current()
    serving = _serving_reward_model(paths.reward_models / str(current.id))
    baseline = _serving_metrics(data, serving)
    gain = _pair_gain(data, reward_model, serving)
    version_id, target = registry.next_path()
    clear_leftovers(paths.reward_models, version_id)
    reward_model.save(paths.reward_models / str(version_id))
    accuracy = reward_model.metrics.get("accuracy", 0.0)
    pair_accuracy = reward_model.metrics.get("pair_accuracy")  # only where there are held-out pairs
    progress(0.4, f"reward model: held-out {reward_model.metrics} (serving now: {baseline})")
    audit, audit_report = audit_reward_model(
        CompositeReward(checker, settings.weights, reward_model),
        settings.audit,
        False,  # no SHAP: see the module doc
        paths,
        version_id,
        context={"reward model training data": data.decisions},
        progress=lambda fraction, line: progress(0.4 + 0.5 * fraction, f"audit: {line}"),
    )
    progress(0.9, audit.summary())
    reasons = [] if audit.passed else [f"the audit failed: {'; '.join(audit.reasons)}"]
    reasons += _held_out_reasons(accuracy, gain, baseline)
    _share_policy(current.path, target)
    metrics = {
        "kind": KIND,
        "reward_model": reward_model.metrics,
        "baseline_accuracy": baseline["accuracy"],
        "baseline_pair_accuracy": baseline.get("pair_accuracy"),
        "pair_gain": None if gain is None else {"mean": gain.mean, "ci95_low": gain.low, "n": gain.n},
        "gate": reasons,
        "dataset": data.decisions,
        "audit_report": str(audit_report),
    }
    status = "passed" if audit.passed else "failed"
    registry.register(version_id, target, parent_id=current.id, metrics=metrics, audit_status=status)
    if not reasons:
        registry.activate(version_id)
    result = FastPathResult(
        version_id,
        not reasons,
        reasons,
        accuracy,
        baseline["accuracy"],
        time.perf_counter() - started,
        pair_accuracy,
        baseline.get("pair_accuracy"),
    )
    progress(1.0, result.summary())
    return result


def _serving_reward_model(folder: Path) -> Scorer | None:
    """The current version's reward model, or None where it has none (it then serves the heuristic)."""
    return load_reward_model(folder) if (folder / METADATA).exists() else None


def _serving_metrics(data: FeedbackDataset, serving: Scorer | None) -> dict[str, float]:
    """Held-out accuracy and pair accuracy of what chooses answers now: the current version's reward
    model, or (without one) always predicting the commoner vote and ranking by chance."""
    if serving is not None:
        metrics = evaluate_reward_model(serving, data.test, data.test_pairs)
        return {"accuracy": metrics.get("accuracy", 0.0)} | (
            {"pair_accuracy": metrics["pair_accuracy"]} if "pair_accuracy" in metrics else {}
        )
    labels = [answer.label for answer in data.test]
    majority = round(max(labels.count(0), labels.count(1)) / len(labels), 4) if labels else 0.0  # as metrics
    return {"accuracy": majority} | ({"pair_accuracy": 0.5} if data.test_pairs else {})


def _pair_gain(data: FeedbackDataset, candidate: Scorer, serving: Scorer | None) -> PairedGain | None:
    """The paired bootstrap of held-out pairs ranked right, the new reward model against what serves
    now (chance, 0.5 a pair, where no reward model serves); None without held-out pairs."""
    if not data.test_pairs:
        return None
    new = pair_hits(candidate, data.test_pairs)
    now = [0.5] * len(new) if serving is None else pair_hits(serving, data.test_pairs)
    return paired_gain(
        {str(i): float(v) for i, v in enumerate(now)}, {str(i): float(v) for i, v in enumerate(new)}
    )


def _held_out_reasons(accuracy: float, gain: PairedGain | None, serving: dict[str, float]) -> list[str]:
    """Why the held-out check fails (see the module doc), or nothing."""
    if gain is None:  # no held-out pairs
        if accuracy > serving["accuracy"]:
            return []
        return [f"held-out accuracy {accuracy:.3f} is not above what serves now ({serving['accuracy']:.3f})"]
    reasons = []
    if not gain.low > 0:  # also refuses NaN
        reasons.append(
            f"held-out pairs ranked right could be no better than what serves now "
            f"({serving['pair_accuracy']:.3f}): paired gain {gain}, its 95% lower bound not above 0"
        )
    if accuracy < (now := serving["accuracy"]):
        reasons.append(f"held-out accuracy {accuracy:.3f} is below what serves now ({now:.3f})")
    return reasons


def _share_policy(source: Path, target: Path) -> None:
    """``target`` holds the policy at ``source`` unchanged: hard links where the filesystem allows
    (versions are never written after they are saved), else copies; staged, so a kill leaves no half
    folder (``clear_leftovers`` removes the staging folder)."""

    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    staging = target.parent / f".{target.name}-shared"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging, copy_function=link_or_copy)
    staging.rename(target)
