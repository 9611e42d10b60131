"""The long jobs a worker runs: re-indexing, retraining, auditing, and scoring answers for the scheduler.

They receive the application as a ``Deployment``: the few parts they use, so this module needs nothing of
the application shell and the shell (``supportloop.app``) can import it without an import circle.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from core.database import Database
from core.errors import SupportLoopError
from core.jobs import JobRun, Progress
from core.records import Records
from core.registry import ModelRegistry, ModelVersion
from core.settings import Settings

if TYPE_CHECKING:
    from audit.suite import AuditResult, AuditSettings
    from rag.answerer import Answerer
    from rag.index import HelpIndex
    from training.pipeline import RetrainSettings


class Deployment(Protocol):
    """What the jobs use of the running application (``supportloop.app.SupportLoop`` provides it)."""

    settings: Settings
    db: Database
    registry: ModelRegistry
    records: Records

    @property
    def index(self) -> HelpIndex: ...

    @property
    def answerer(self) -> Answerer: ...

    def use_model(self, version: ModelVersion) -> None: ...


def reindex_job(loop: Deployment) -> Callable[[JobRun, Progress], str]:
    """Re-crawl every indexed site from where its last crawl started (cheap: unchanged pages are skipped)."""
    from rag.ingest import ingest_site

    def run(_run: JobRun, progress: Progress) -> str:
        seeds = loop.index.crawl_seeds()
        if not seeds:
            raise SupportLoopError(
                "Nothing to re-index yet: index a help site first (`supportloop index URL`)."
            )
        lines = []
        for done, (site, seed) in enumerate(sorted(seeds.items()), start=1):
            report = ingest_site(seed["start_urls"], loop.index, loop.settings, sitemaps=seed["sitemaps"])
            lines.append(
                f"{site}: {report.pages} pages, {report.changed} changed, {report.removed} removed, "
                f"{report.failed} failed"
            )
            progress(done / len(seeds), lines[-1])
        return "; ".join(lines)

    return run


def retrain_job(loop: Deployment) -> Callable[[JobRun, Progress], str]:
    """Learn from the votes: reward model, the policy tuned as SUPPORTLOOP_POLICY_ALGORITHM says,
    evaluation; the candidate goes live only through the gate."""

    def run(_run: JobRun, progress: Progress) -> str:
        from supportloop.demo_site import load_questions
        from training.pipeline import RetrainPaths, retrain

        s = loop.settings
        settings = retrain_settings(loop)
        result = retrain(
            loop.db,
            loop.registry,
            loop.answerer.passages_for,
            loop.answerer.checker,
            RetrainPaths.under(s.data_dir),
            settings,
            progress,
            facts={q.question: q.facts for q in load_questions() if q.facts},
        )
        if not result.promoted:
            return result.summary()
        version = loop.registry.current()
        loop.use_model(version)
        if s.hub_repo and s.hub_token:
            from training.hub import push_version

            try:
                url = push_version(version, s.hub_repo, s.hub_token.get_secret_value())
                return f"{result.summary()}; pushed to {url}"
            except SupportLoopError as exc:
                return f"{result.summary()}; {exc}"
        return result.summary()

    return run


def fast_path_job(loop: Deployment) -> Callable[[JobRun, Progress], str]:
    """Retrain the reward model alone from the votes; through the gate it chooses the served answers
    (``training.fast_path``) as a new version over the same policy, within minutes."""

    def run(_run: JobRun, progress: Progress) -> str:
        from training.fast_path import refresh_reward_model
        from training.pipeline import RetrainPaths

        result = refresh_reward_model(
            loop.db,
            loop.registry,
            loop.answerer.checker,
            RetrainPaths.under(loop.settings.data_dir),
            retrain_settings(loop),
            progress,
        )
        if result.promoted:
            loop.use_model(loop.registry.current())
        return result.summary()

    return run


def retrain_settings(loop: Deployment) -> RetrainSettings:
    """The learning settings of both paths, from the deployment's settings."""
    from training.kto import KTOSettings
    from training.pipeline import RetrainSettings, chosen_algorithm
    from training.ppo import PPOSettings
    from training.promotion import GateSettings
    from training.reward import RewardWeights
    from training.sft import SFTSettings

    s = loop.settings
    return RetrainSettings(
        feedback=s.retrain_feedback,
        min_votes=s.retrain_min_votes,
        reward_objective=s.reward_objective,
        weights=RewardWeights.from_settings(s),
        algorithm=chosen_algorithm(s.policy_algorithm),
        sft=SFTSettings(epochs=s.sft_epochs),
        ppo=PPOSettings(
            updates=s.ppo_updates, batch_size=s.ppo_batch_size, response_length=s.ppo_response_length
        ),
        kto=KTOSettings(
            beta=s.kto_beta,
            learning_rate=s.kto_learning_rate,
            epochs=s.kto_epochs,
            batch_size=s.kto_batch_size,
            lora=s.kto_lora,
        ),
        gate=GateSettings(
            margin=s.promotion_margin, min_questions=s.gate_min_questions, max_kl=s.gate_max_kl
        ),
        max_new_tokens=s.max_new_tokens,
        dtype=s.llm_dtype,
        audit=audit_settings(loop),
        explain=s.audit_shap,
    )


def audit_settings(loop: Deployment) -> AuditSettings:
    from audit.suite import AuditSettings

    s = loop.settings
    return AuditSettings(
        fairness_threshold=s.audit_fairness_threshold, max_win_rate=s.audit_max_win_rate, cases=s.audit_cases
    )


def audit_version(loop: Deployment, version: int | None, progress: Progress) -> tuple[AuditResult, Path]:
    """Audit the reward model a version was trained against (the current version's by default).

    The report goes to the reports directory, the version's audit status is updated, and the failures
    are kept as counter-examples for the next retraining.
    """
    from training.pipeline import RetrainPaths, audit_reward_model
    from training.reward import CompositeReward, RewardWeights
    from training.reward_model import load_reward_model

    s = loop.settings
    version = loop.registry.current_id() if version is None else version
    if version is None and s.model_path is not None:
        raise SupportLoopError(
            "The served model is the folder in SUPPORTLOOP_MODEL_PATH, which has no reward model: name a "
            "version (`supportloop audit VERSION`)."
        )
    if version is None:
        raise SupportLoopError("There is no model version yet: nothing to audit.")
    paths = RetrainPaths.under(s.data_dir)
    folder = paths.reward_models / str(version)
    if not folder.is_dir():
        raise SupportLoopError(
            f"Model version {version} has no reward model to audit: versions get one when they are "
            "trained from feedback (`supportloop retrain`)."
        )
    progress(0.05, f"auditing the reward model of version {version}")
    composite = CompositeReward(
        loop.answerer.checker, RewardWeights.from_settings(s), load_reward_model(folder)
    )
    result, report = audit_reward_model(
        composite, audit_settings(loop), s.audit_shap, paths, version, progress=progress
    )
    loop.registry.set_audit_status(version, "passed" if result.passed else "failed")
    progress(1.0, result.summary())
    return result, report


def audit_job(loop: Deployment) -> Callable[[JobRun, Progress], str]:
    """Re-audit the current version's reward model (weekly, or an admin's ``/supportloop audit``)."""

    def run(_run: JobRun, progress: Progress) -> str:
        result, report = audit_version(loop, None, progress)
        return f"{result.summary()} Report: {report}"

    return run


def score_answers(loop: Deployment, limit: int = 500) -> int:
    """Store the composite reward's breakdown with each answer that has none yet; return how many.

    Satisfaction comes from the current version's reward model (0.5 before the first retraining);
    factual accuracy from the passages the answer was based on, as indexed now.
    """
    from training.pipeline import RetrainPaths
    from training.reward import CompositeReward, RewardWeights
    from training.reward_model import load_reward_model

    answers = loop.records.unscored_answers(limit)
    if not answers:
        return 0
    version = loop.registry.current_id()
    folder = RetrainPaths.under(loop.settings.data_dir).reward_models / str(version)
    reward_model = load_reward_model(folder) if version is not None and folder.is_dir() else None
    composite = CompositeReward(
        loop.answerer.checker, RewardWeights.from_settings(loop.settings), reward_model
    )
    for answer in answers:
        passages = loop.index.passages(answer.passage_ids)
        score = composite.score(answer.standalone_question, answer.answer, passages)
        breakdown = {
            "satisfaction": round(score.satisfaction, 4),
            "factual_accuracy": round(score.grounding, 4),
            "ethics": score.ethics,
            "total": round(score.total, 4),
            "reward_model": version if reward_model is not None else None,
        }
        loop.records.store_reward(answer.id, breakdown)
    return len(answers)
