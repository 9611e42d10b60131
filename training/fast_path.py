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
- on the held-out voted answers it predicts the majority vote better than what serves now: the current
  version's reward model, or, where it has none, always predicting the commoner vote.

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

from audit.suite import load_counter_examples
from core.database import Database
from core.registry import ModelRegistry, clear_leftovers
from rag.grounding import GroundingChecker
from training.datasets import FeedbackDataset, build_dataset, with_counter_examples
from training.pipeline import RetrainPaths, RetrainSettings, audit_reward_model
from training.reward import CompositeReward
from training.reward_model import METADATA, RewardModel, evaluate_reward_model, train_reward_model

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

    def summary(self) -> str:
        verdict = "promoted" if self.promoted else "not promoted: " + "; ".join(self.reasons)
        return (
            f"reward-model version {self.version} {verdict}; held-out accuracy {self.baseline:.3f} → "
            f"{self.accuracy:.3f}; {self.seconds:.0f} s"
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
    baseline = _serving_accuracy(data, paths.reward_models / str(current.id))
    version_id, target = registry.next_path()
    clear_leftovers(paths.reward_models, version_id)
    reward_model.save(paths.reward_models / str(version_id))
    accuracy = reward_model.metrics.get("accuracy", 0.0)
    progress(0.4, f"reward model: held-out accuracy {accuracy:.3f} (serving now: {baseline:.3f})")
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
    if not accuracy > baseline:
        reasons.append(f"held-out accuracy {accuracy:.3f} is not above what serves now ({baseline:.3f})")
    _share_policy(current.path, target)
    metrics = {
        "kind": KIND,
        "reward_model": reward_model.metrics,
        "baseline_accuracy": baseline,
        "gate": reasons,
        "dataset": data.decisions,
        "audit_report": str(audit_report),
    }
    status = "passed" if audit.passed else "failed"
    registry.register(version_id, target, parent_id=current.id, metrics=metrics, audit_status=status)
    if not reasons:
        registry.activate(version_id)
    result = FastPathResult(
        version_id, not reasons, reasons, accuracy, baseline, time.perf_counter() - started
    )
    progress(1.0, result.summary())
    return result


def _serving_accuracy(data: FeedbackDataset, folder: Path) -> float:
    """Held-out accuracy of what chooses answers now: the current version's reward model, or (without
    one) always predicting the commoner vote."""
    if (folder / METADATA).exists():
        return evaluate_reward_model(RewardModel.load(folder), data.test, data.test_pairs).get(
            "accuracy", 0.0
        )
    labels = [answer.label for answer in data.test]
    return max(labels.count(0), labels.count(1)) / len(labels) if labels else 0.0


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
