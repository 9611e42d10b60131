"""One retraining run: feedback → reward model → PPO or KTO → evaluation → gated promotion.

1. Build the dataset from the votes (``training.datasets``), add the counter-examples the last audits
   kept, and train the reward model; it is saved under ``<data_dir>/reward_models/<version>/`` with
   its held-out accuracy.
2. Audit the reward model (``audit.suite``): fairness, adversarial probes, SHAP; its report goes to the
   reports directory and its failures become counter-examples for the next run.
3. Prompts are the training questions with the passages retrieved for them, built by ``build_messages``
   exactly as serving builds them (questions the help pages don't cover are left out: serving declines
   those without the model).
4. Warm start (``training.sft``): the current version is fine-tuned on the liked answers to the training
   questions, when there are enough of them.
5. The algorithm ``SUPPORTLOOP_POLICY_ALGORITHM`` names tunes that policy (``_tune`` is the one place that
   chooses): PPO against the composite reward, with its KL penalty to it; KTO on the liked and disliked
   answers themselves, with the warm-started policy as its reference; or nothing more (``sft``: the
   warm-started policy is the candidate). The result is saved as the next version. The warm-started
   policy alone is evaluated too, so the report shows what each stage added.
6. Both versions answer the held-out questions (``training.evaluation``): composite reward and each
   dimension, citation rate, fact recall where the expected facts are known, and the candidate's KL to
   the current version. The split holds out at least the gate's ``min_questions`` question groups
   when the votes cover twice that many, so the gate can promote at all.
7. The candidate is registered with those numbers and its audit status, and made current only if the
   gate (``training.promotion``) lets it through: enough held-out questions, a paired-bootstrap reward
   gain whose 95% lower bound is above 0, KL under its limit (a failed audit always stops it).
8. The run's report (JSON and HTML with the tuning curves, naming the algorithm) goes to the reports
   directory.

A run that fails anywhere leaves the current version serving: the candidate is registered only after it
is complete and made current only by the last step.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from audit.report import write_audit_report
from audit.suite import AuditResult, AuditSettings, load_counter_examples, run_audit, save_counter_examples
from core.database import Database
from core.errors import SupportLoopError
from core.llm import DtypeName
from core.registry import ModelRegistry, ModelVersion, clear_leftovers
from rag.grounding import GroundingChecker
from rag.passage import Passage
from rag.prompt import build_messages
from training.datasets import FeedbackDataset, Source, build_dataset, with_counter_examples
from training.evaluation import HeldOutPrompt, evaluate_version, kl_divergence, load_version
from training.kto import KTOPolicyTrainer, KTOSettings
from training.policy import PolicyTrainer, PolicyTrainingResult
from training.ppo import PPOPolicyTrainer, PPOSettings
from training.promotion import GateDecision, GateSettings, VersionScores, gate
from training.report import write_report
from training.reward import CompositeReward, RewardWeights, TextRewardModel
from training.reward_model import Objective, train_reward_model
from training.sft import SFTSettings, demonstrations, fine_tune, voted_answers

log = logging.getLogger(__name__)
Retrieve = Callable[[str], list[Passage]]
"""The passages serving would put in the prompt for a question (empty: the question is not covered)."""
Algorithm = Literal["ppo", "kto", "sft"]


def chosen_algorithm(setting: Algorithm | Literal["auto"]) -> Algorithm:
    """The algorithm a retrain runs for ``SUPPORTLOOP_POLICY_ALGORITHM``: ``auto`` is KTO where a GPU
    runs it in minutes, and the warm start alone on a CPU, where KTO's 108 voted answers take 20 of a
    retrain's 32 minutes on 2 cores (``docs/learning-loop.md``, "Retraining on a CPU worker")."""
    if setting != "auto":
        return setting
    import torch

    return "kto" if torch.cuda.is_available() else "sft"


@dataclass(frozen=True)
class RetrainSettings:
    feedback: Source = "real"
    min_votes: int = 50
    reward_objective: Objective = "features"
    weights: RewardWeights = field(default_factory=RewardWeights)
    algorithm: Algorithm = "kto"
    sft: SFTSettings = field(default_factory=SFTSettings)
    ppo: PPOSettings = field(default_factory=PPOSettings)
    kto: KTOSettings = field(default_factory=KTOSettings)
    gate: GateSettings = field(default_factory=GateSettings)
    max_new_tokens: int = 64
    dtype: DtypeName = "auto"  # of the held-out answers: serving's (SUPPORTLOOP_LLM_DTYPE)
    audit: AuditSettings = field(default_factory=AuditSettings)
    explain: bool = True  # SHAP in the audit (the slowest part of it)


@dataclass(frozen=True)
class RetrainPaths:
    reward_models: Path
    reports: Path
    audit: Path  # where the audit keeps its counter-examples

    @classmethod
    def under(cls, data_dir: Path) -> RetrainPaths:
        """The standard layout in a data directory."""
        return cls(data_dir / "reward_models", data_dir / "reports", data_dir / "audit")


@dataclass(frozen=True)
class RetrainResult:
    version: int
    promoted: bool
    decision: GateDecision
    before: VersionScores
    after: VersionScores
    reward_model: dict[str, float]
    kl: float
    report: Path
    audit_passed: bool
    audit_report: Path

    def summary(self) -> str:
        verdict = "promoted" if self.promoted else "not promoted: " + "; ".join(self.decision.reasons)
        return (
            f"version {self.version} {verdict}; composite reward {self.before.reward} → {self.after.reward}; "
            f"report: {self.report}; audit: {self.audit_report}"
        )


def retrain(
    db: Database,
    registry: ModelRegistry,
    retrieve: Retrieve,
    checker: GroundingChecker,
    paths: RetrainPaths,
    settings: RetrainSettings,
    progress: Callable[[float, str], None] = lambda fraction, line: None,
    facts: Mapping[str, Sequence[str]] | None = None,
) -> RetrainResult:
    """Run the loop; ``facts`` are the expected facts of known questions (for fact recall)."""
    data = build_dataset(
        db,
        source=settings.feedback,
        min_votes=settings.min_votes,
        min_test_groups=settings.gate.min_questions,  # else the gate could never promote
    )
    data = with_counter_examples(data, load_counter_examples(paths.audit))
    progress(0.05, f"dataset: {len(data.train)} training and {len(data.test)} held-out answers")
    reward_model = train_reward_model(data, settings.reward_objective)
    current = registry.current()
    version_id, target = registry.next_path()
    clear_leftovers(paths.reward_models, version_id)
    reward_model.save(paths.reward_models / str(version_id))
    progress(0.15, f"reward model: held-out {reward_model.metrics}")
    reward = CompositeReward(checker, settings.weights, reward_model)
    audit, audit_report = audit_reward_model(
        reward,
        settings.audit,
        settings.explain,
        paths,
        version_id,
        context={"reward model training data": data.decisions},
    )
    progress(0.25, audit.summary())

    train_prompts = _prompts([a.question for a in data.train], retrieve)
    test_prompts = _prompts([a.question for a in data.test], retrieve)
    if not train_prompts or not test_prompts:
        raise SupportLoopError(
            "The voted questions are not covered by the indexed help pages: nothing to train on."
        )
    facts = facts or {}
    tokens = settings.max_new_tokens
    before, _ = evaluate_version(load_version(current, settings.dtype), test_prompts, reward, tokens, facts)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{version_id}-warm-", dir=target.parent))  # cleared if killed
    try:
        policy, sft, warm = _warm_start(
            current, data, train_prompts, test_prompts, reward, settings, facts, scratch, progress
        )
        history = _tune(current, policy, sft, data, train_prompts, reward, settings, target, progress)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    progress(0.7, f"{settings.algorithm}: {len(history.history)} steps in {history.seconds:.0f} s")

    candidate_model = load_version(ModelVersion(version_id, target), settings.dtype)
    if settings.algorithm == "sft" and warm is not None:  # the candidate is the policy just evaluated
        after, answers = warm
    else:
        after, answers = evaluate_version(candidate_model, test_prompts, reward, tokens, facts)
    kl = kl_divergence(candidate_model, load_version(current, settings.dtype), test_prompts, answers)
    decision = gate(before, after, kl, settings.gate, audit.reasons)
    progress(0.95, f"evaluated: composite reward {before.reward} → {after.reward}, KL {kl:.3f}")
    report_path = write_report(
        paths.reports,
        version_id,
        {
            "version": version_id,
            "parent": current.id,
            "promoted": decision.promote,
            "gate": decision.reasons,
            "gate_measures": decision.measures,
            "dataset": data.decisions,
            "reward_model": reward_model.metrics,
            "audit": {"passed": audit.passed, "reasons": audit.reasons, "report": str(audit_report)},
            "sft": sft,
            "algorithm": settings.algorithm,
            "policy": {
                "settings": _algorithm_settings(settings),
                "history": history.history,
                "seconds": history.seconds,
            },
            "evaluation": {"before": asdict(before), "after": asdict(after), "kl": kl},
        },
    )
    metrics = {
        "reward": after.reward.mean,
        "reward_ci95": after.reward.ci95,
        "grounding": after.grounding.mean,
        "satisfaction": after.satisfaction.mean,
        "ethics": after.ethics.mean,
        "citation_rate": after.citation_rate.mean,
        "fact_recall": after.fact_recall.mean if after.fact_recall.n else None,
        "reward_before": before.reward.mean,
        "kl": kl,
        "reward_model": reward_model.metrics,
        "sft_examples": sft.get("examples", 0),
        "algorithm": settings.algorithm,
        "policy_steps": len(history.history),
        "policy_settings": _algorithm_settings(settings),
        "dataset": data.decisions,
        "report": str(report_path),
        "audit_report": str(audit_report),
    }
    status = "passed" if audit.passed else "failed"
    registry.register(version_id, target, parent_id=current.id, metrics=metrics, audit_status=status)
    if decision.promote:
        registry.activate(version_id)
    progress(1.0, "promoted" if decision.promote else "kept the current version")
    return RetrainResult(
        version_id,
        decision.promote,
        decision,
        before,
        after,
        reward_model.metrics,
        kl,
        report_path,
        audit.passed,
        audit_report,
    )


def audit_reward_model(
    reward: CompositeReward,
    settings: AuditSettings,
    explain: bool,
    paths: RetrainPaths,
    version: int,
    context: Mapping[str, object] | None = None,
    progress: Callable[[float, str], None] = lambda fraction, line: None,
) -> tuple[AuditResult, Path]:
    """Audit ``reward``'s reward model (and the composite reward), write the report as ``version``'s,
    and keep the failures as counter-examples for the next run."""
    if reward.reward_model is None:
        raise SupportLoopError("There is no reward model to audit.")
    context = {
        "reward model held-out metrics": reward.reward_model.metrics,
        "composite reward weights": asdict(reward.weights),
        **(context or {}),
    }
    result = run_audit(
        reward.reward_model,
        settings,
        checker=reward.checker,
        composite=reward.totals,
        explain=explain,
        context=context,
        progress=progress,
    )
    report = write_audit_report(paths.reports, version, result)
    save_counter_examples(paths.audit, result.counter_examples)
    return result, report


def _warm_start(
    current: ModelVersion,
    data: FeedbackDataset,
    train_prompts: Sequence[HeldOutPrompt],
    test_prompts: Sequence[HeldOutPrompt],
    reward: CompositeReward,
    settings: RetrainSettings,
    facts: Mapping[str, Sequence[str]],
    scratch: Path,
    progress: Callable[[float, str], None],
) -> tuple[Path, dict[str, Any], tuple[VersionScores, list[str]] | None]:
    """The policy tuning starts from, what the report says of it, and its held-out scores and answers:
    the current version fine-tuned on liked answers (saved in ``scratch``, evaluated on the held-out
    prompts), or the current version itself (not evaluated again) when the warm start is off or has
    too few liked answers. With ``sft`` that evaluation is the candidate's: answering the held-out
    questions takes minutes on a CPU, so it is not done twice."""
    examples = demonstrations(data.train, {p.question: p.conversation for p in train_prompts})
    if not settings.sft.epochs:
        return current.path, {"skipped": "turned off (SUPPORTLOOP_SFT_EPOCHS=0)"}, None
    if len(examples) < settings.sft.min_examples:
        return (
            current.path,
            {"skipped": f"{len(examples)} liked answers, fewer than {settings.sft.min_examples}"},
            None,
        )
    policy = scratch / "policy"
    result = fine_tune(
        current.path,
        examples,
        policy,
        settings.sft,
        lambda done, total: progress(0.25 + 0.15 * done / total, f"warm start: step {done} of {total}"),
    )
    backend = load_version(ModelVersion(current.id, policy), settings.dtype)
    scores, answers = evaluate_version(backend, test_prompts, reward, settings.max_new_tokens, facts)
    progress(0.4, f"warm start on {result.examples} liked answers: held-out reward {scores.reward}")
    return policy, {**asdict(result), "evaluation": asdict(scores)}, (scores, answers)


def _tune(
    current: ModelVersion,
    policy: Path,
    sft: Mapping[str, Any],
    data: FeedbackDataset,
    train_prompts: Sequence[HeldOutPrompt],
    reward: CompositeReward,
    settings: RetrainSettings,
    target: Path,
    progress: Callable[[float, str], None],
) -> PolicyTrainingResult:
    """Tune the warm-started ``policy`` with the configured algorithm and save the result as ``target``:
    the one place the algorithm is chosen, so each run is the same loop around a different trainer."""
    if settings.algorithm == "sft":
        if "skipped" in sft:
            raise SupportLoopError(
                "SUPPORTLOOP_POLICY_ALGORITHM=sft (and auto, on a CPU) trains only the warm start, and it "
                f"was skipped: {sft['skipped']}. Collect more liked answers, or choose ppo or kto."
            )
        os.replace(policy, target)  # the warm-started policy, already a complete folder beside target
        return PolicyTrainingResult([], 0.0)
    conversations = {p.question: p.conversation for p in train_prompts}
    trainer: PolicyTrainer
    if settings.algorithm == "kto":
        trainer = KTOPolicyTrainer(policy, voted_answers(data.train, conversations), settings.kto)
    else:
        text_reward = TextRewardModel(reward, _tokenizer(current))
        trainer = PPOPolicyTrainer(policy, text_reward, list(conversations.values()), settings.ppo)
    name = settings.algorithm.upper()
    result = trainer.train(
        lambda done, total: progress(0.4 + 0.3 * done / max(total, 1), f"{name}: step {done} of {total}")
    )
    trainer.save(target)
    return result


def _algorithm_settings(settings: RetrainSettings) -> dict[str, Any]:
    """The settings of the algorithm that tuned the policy, for the report and the version's metrics."""
    chosen = {"ppo": settings.ppo, "kto": settings.kto, "sft": settings.sft}[settings.algorithm]
    return asdict(chosen)


def _prompts(questions: Sequence[str], retrieve: Retrieve) -> list[HeldOutPrompt]:
    prompts = []
    for question in dict.fromkeys(questions):
        passages = retrieve(question)
        if passages:
            prompts.append(HeldOutPrompt(question, passages, build_messages(question, passages)))
    return prompts


def _tokenizer(version: ModelVersion) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(version.path)
