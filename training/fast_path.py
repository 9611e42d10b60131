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
- on questions it has not seen, it ranks a liked answer above a disliked one to the same question
  more often than what serves now (the current version's reward model, or, where it has none,
  chance: 0.5), since ranking the composer's alternatives is its job, and not by luck: as in the full
  retrain's gate (``training.promotion.paired_gain``), a paired bootstrap over the pairs (per pair,
  right or wrong now against right or wrong with the new training) must put the 95% lower bound of
  the gain above 0;
- it predicts the majority vote no worse beyond luck than what serves now (always predicting the
  commoner vote, where no reward model serves): the 95% upper bound of the paired accuracy gain is
  not below 0. Votes are mostly 👎, so the commoner vote is a hard bar to clear by a point estimate,
  and a tie within one answer said nothing. Without pairs, it must predict the majority vote better
  beyond luck.

"Not seen" is cross-fitted (``training.datasets.cross_folds``): the votes are split ``FOLDS`` ways by
question, and each fold is judged by a reward model trained on the other folds, so every vote is
both trained on (the model that serves is trained on all of them) and judged unseen. A fixed held-out
fifth of 300 votes left ~10 pairs, where one pair is 0.1 of pair accuracy: a model that learnt nothing
once went live at 0.545 against chance's 0.5, and a real taste could not show a gain beyond luck. The
current version's reward model may have been trained on some of these votes, which favours it: the
check errs towards keeping what serves. The cost is ``FOLDS`` more trainings: seconds with the default
``features`` reward model, minutes each with the fine-tuned ones.

PPO or KTO (``training.pipeline``) remain the slow path, which changes the policy itself.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from audit.suite import load_counter_examples
from core.database import Database
from core.registry import ModelRegistry, clear_leftovers
from rag.grounding import GroundingChecker
from training.datasets import (
    FeedbackDataset,
    LabelledAnswer,
    PreferencePair,
    build_dataset,
    cross_folds,
    with_counter_examples,
)
from training.pipeline import RetrainPaths, RetrainSettings, audit_reward_model
from training.promotion import PairedGain, paired_gain
from training.reward import CompositeReward
from training.reward_model import (
    METADATA,
    answer_hits,
    load_reward_model,
    pair_hits,
    train_reward_model,
)

if TYPE_CHECKING:
    from audit.fairness import CounterExample
    from training.feature_reward import FeatureRewardModel
    from training.reward_model import Objective, RewardModel

    Scorer = RewardModel | FeatureRewardModel

log = logging.getLogger(__name__)
KIND = "reward model only"  # ``metrics["kind"]`` of a fast-path version
FOLDS = 5  # cross-fitting: each question group judged once by a model trained on the other four fifths


@dataclass(frozen=True)
class FastPathResult:
    version: int
    promoted: bool
    reasons: list[str]  # why it was not promoted (empty when it was)
    accuracy: float  # the new training's accuracy on unseen questions (cross-fitted)
    baseline: float  # what serves now, on the same answers
    seconds: float
    pair_accuracy: float | None = None  # pairs ranked right, cross-fitted (None: no pairs)
    baseline_pairs: float | None = None  # the same for what serves now
    pairs: int = 0  # how many pairs those are: what the gate's confidence rests on

    def summary(self) -> str:
        verdict = "promoted" if self.promoted else "not promoted: " + "; ".join(self.reasons)
        pairs = ""
        if self.pair_accuracy is not None and self.baseline_pairs is not None:
            pairs = (
                f", pairs ranked right {self.baseline_pairs:.3f} → {self.pair_accuracy:.3f} (n={self.pairs})"
            )
        return (
            f"reward-model version {self.version} {verdict}; cross-fitted accuracy {self.baseline:.3f} → "
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
    votes = build_dataset(db, source=settings.feedback, min_votes=settings.min_votes, test_fraction=0)
    examples = load_counter_examples(paths.audit)
    progress(0.05, f"dataset: {len(votes.train)} answers, {len(votes.train_pairs)} pairs")
    unseen = _cross_fitted(votes, examples, settings.reward_objective, progress)
    data = with_counter_examples(votes, examples)
    reward_model = train_reward_model(data, settings.reward_objective)
    reward_model.metrics = unseen.metrics
    current = registry.current()
    serving = _serving_reward_model(paths.reward_models / str(current.id))
    comparison = _compare(unseen, serving)
    baseline, gain = comparison.baseline, comparison.pairs
    version_id, target = registry.next_path()
    clear_leftovers(paths.reward_models, version_id)
    reward_model.save(paths.reward_models / str(version_id))
    accuracy = unseen.metrics.get("accuracy", 0.0)
    pair_accuracy = unseen.metrics.get("pair_accuracy")  # only where there are pairs
    progress(0.4, f"reward model: cross-fitted {unseen.metrics} (serving now: {baseline})")
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
    reasons += _held_out_reasons(comparison)
    _share_policy(current.path, target)
    metrics = {
        "kind": KIND,
        "reward_model": reward_model.metrics,
        "baseline_accuracy": baseline["accuracy"],
        "baseline_pair_accuracy": baseline.get("pair_accuracy"),
        "pair_gain": None if gain is None else {"mean": gain.mean, "ci95_low": gain.low, "n": gain.n},
        "accuracy_gain": {"mean": comparison.accuracy.mean, "ci95_high": comparison.accuracy.high},
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
        len(unseen.pairs),
    )
    progress(1.0, result.summary())
    return result


def _serving_reward_model(folder: Path) -> Scorer | None:
    """The current version's reward model, or None where it has none (it then serves the heuristic)."""
    return load_reward_model(folder) if (folder / METADATA).exists() else None


@dataclass(frozen=True)
class CrossFitted:
    """Every voted answer and pair, each judged by a reward model trained without its question."""

    answers: list[LabelledAnswer]
    pairs: list[PreferencePair]
    answer_hits: list[float]  # 1.0 where the majority vote is predicted (``reward_model.answer_hits``)
    pair_hits: list[float]  # 1.0 where the liked answer scored above the disliked one

    @property
    def metrics(self) -> dict[str, float]:
        """In ``evaluate_reward_model``'s terms, so reports read them alike."""
        metrics: dict[str, float] = {
            "held_out_answers": len(self.answers),
            "held_out_pairs": len(self.pairs),
            "cross_fitted_folds": FOLDS,
        }
        if self.answers:
            metrics["accuracy"] = round(float(np.mean(self.answer_hits)), 4)
        if self.pairs:
            metrics["pair_accuracy"] = round(float(np.mean(self.pair_hits)), 4)
        return metrics


def _cross_fitted(
    votes: FeedbackDataset,
    examples: list[CounterExample],
    objective: Objective,
    progress: Callable[[float, str], None],
) -> CrossFitted:
    """Train on all folds but one (with the audit's counter-examples) and judge the one, ``FOLDS``
    times (see the module doc)."""
    unseen = CrossFitted([], [], [], [])
    for n, fold in enumerate(cross_folds(votes, FOLDS), start=1):
        # Trained on the training side alone: the held-out side is scored once, here, per item.
        training = replace(with_counter_examples(fold, examples), test=[], test_pairs=[])
        model = train_reward_model(training, objective)
        unseen.answers.extend(fold.test)
        unseen.pairs.extend(fold.test_pairs)
        unseen.answer_hits.extend(answer_hits(model, fold.test).tolist())
        unseen.pair_hits.extend(pair_hits(model, fold.test_pairs).tolist())
        progress(0.05 + 0.2 * n / FOLDS, f"cross-fitting: fold {n} of {FOLDS} judged")
    return unseen


@dataclass(frozen=True)
class Comparison:
    """The new training against what serves now, per unseen answer and per pair (paired bootstraps)."""

    accuracy: PairedGain  # per answer: 1 where the majority vote is predicted
    pairs: PairedGain | None  # per pair: 1 where the liked answer scores higher; None without pairs
    baseline: dict[str, float]  # what serves now: "accuracy" and, with pairs, "pair_accuracy"


def _compare(unseen: CrossFitted, serving: Scorer | None) -> Comparison:
    """What chooses answers now, on the same answers and pairs: the current version's reward model or,
    without one, always predicting the commoner vote and ranking by chance (0.5 a pair)."""
    if serving is None:
        labels = [answer.label for answer in unseen.answers]
        commoner = int(labels.count(1) > labels.count(0))
        answers_now = [float(label == commoner) for label in labels]
        pairs_now = [0.5] * len(unseen.pairs)
    else:
        answers_now = answer_hits(serving, unseen.answers).tolist()
        pairs_now = pair_hits(serving, unseen.pairs).tolist()
    baseline = {"accuracy": round(float(np.mean(answers_now)), 4) if answers_now else 0.0}
    if unseen.pairs:
        baseline["pair_accuracy"] = round(float(np.mean(pairs_now)), 4)
    return Comparison(
        _paired(answers_now, unseen.answer_hits),
        _paired(pairs_now, unseen.pair_hits) if unseen.pairs else None,
        baseline,
    )


def _paired(now: list[float], new: list[float]) -> PairedGain:
    """``training.promotion.paired_gain`` over items given in the same order."""
    return paired_gain({str(i): v for i, v in enumerate(now)}, {str(i): v for i, v in enumerate(new)})


def _held_out_reasons(comparison: Comparison) -> list[str]:
    """Why the check on unseen questions fails (see the module doc), or nothing."""
    accuracy, pairs, now = comparison.accuracy, comparison.pairs, comparison.baseline
    if pairs is None:
        if accuracy.low > 0:
            return []
        return [f"accuracy could be no better than what serves now ({now['accuracy']:.3f}): gain {accuracy}"]
    reasons = []
    if not pairs.low > 0:  # also refuses NaN
        reasons.append(
            f"pairs ranked right on unseen questions could be no better than what serves now "
            f"({now['pair_accuracy']:.3f}): paired gain {pairs}, its 95% lower bound not above 0"
        )
    if accuracy.high < 0:
        reasons.append(
            f"accuracy is below what serves now ({now['accuracy']:.3f}) beyond luck: paired gain {accuracy}"
        )
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
