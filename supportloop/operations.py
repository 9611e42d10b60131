"""Admin operations behind ``/supportloop``: status, jobs and rollback, as the bots' ``AdminBackend``.

The bots only see the ``AdminBackend`` protocol; this is the application's implementation of it, with
the jobs a worker in this process runs: re-indexing, retraining and auditing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bots.admin import JobTicket, StatusReport
from core.errors import SupportLoopError
from core.jobs import JobRun, Progress
from core.lease import SCHEDULER_LEASE, Lease

if TYPE_CHECKING:
    from audit.suite import AuditResult, AuditSettings
    from supportloop.app import SupportLoop


class Operations:
    """``AdminBackend`` over a running ``SupportLoop``."""

    def __init__(self, loop: SupportLoop, platforms: Callable[[], list[str]] = list) -> None:
        self.loop = loop
        self.platforms = platforms

    def status(self) -> StatusReport:
        loop = self.loop
        version = loop.registry.current_id()
        if loop.settings.model_path is not None:
            model = f"folder {loop.settings.model_path}"
        else:
            model = "version 0 (not prepared yet)" if version is None else f"version {version}"
        stats = loop.index.stats()
        counts = loop.records.counts()
        return StatusReport(
            model=model,
            index_pages=stats.pages,
            index_chunks=stats.chunks,
            answers=counts.answers,
            upvotes=counts.upvotes,
            downvotes=counts.downvotes,
            recent_jobs=loop.jobs.recent(5),
            platforms=self.platforms(),
        )

    def start_job(self, kind: str, requested_by: str, listener: Callable[[str], None]) -> JobTicket:
        """Queue the job and have its progress told to ``listener``, by whichever process runs it."""
        loop = self.loop
        run = loop.jobs.enqueue(kind, requested_by=requested_by)
        if kind not in loop.worker.jobs:
            return JobTicket(run, False)
        if loop.jobs_run_here():
            loop.worker.watch(run.id, lambda _run, line: listener(line))
            return JobTicket(run, True)
        loop.run_watcher.watch(run.id, lambda _run, line: listener(line))
        return JobTicket(
            run, Lease(loop.db, SCHEDULER_LEASE, loop.settings.lease_ttl_s).holder_now() is not None
        )

    def rollback(self, version: int) -> str:
        before = self.loop.registry.current_id()
        self.loop.use_model(self.loop.registry.activate(version))
        return f"Now serving model version {version} (was {before})."


def reindex_job(loop: SupportLoop) -> Callable[[JobRun, Progress], str]:
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


def retrain_job(loop: SupportLoop) -> Callable[[JobRun, Progress], str]:
    """Learn from the votes: reward model, PPO, evaluation; the candidate goes live only through the gate."""

    def run(_run: JobRun, progress: Progress) -> str:
        from supportloop.demo_site import load_questions
        from training.pipeline import RetrainPaths, RetrainSettings, retrain
        from training.ppo import PPOSettings
        from training.reward import RewardWeights
        from training.sft import SFTSettings

        s = loop.settings
        settings = RetrainSettings(
            feedback=s.retrain_feedback,
            min_votes=s.retrain_min_votes,
            reward_objective=s.reward_objective,
            weights=RewardWeights.from_settings(s),
            sft=SFTSettings(epochs=s.sft_epochs),
            ppo=PPOSettings(
                updates=s.ppo_updates, batch_size=s.ppo_batch_size, response_length=s.ppo_response_length
            ),
            margin=s.promotion_margin,
            max_new_tokens=s.max_new_tokens,
            audit=audit_settings(loop),
            explain=s.audit_shap,
        )
        answerer = loop.answerer
        result = retrain(
            loop.db,
            loop.registry,
            lambda question: answerer.relevant(answerer.retrieve(question)),
            answerer.checker,
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


def audit_settings(loop: SupportLoop) -> AuditSettings:
    from audit.suite import AuditSettings

    s = loop.settings
    return AuditSettings(
        fairness_threshold=s.audit_fairness_threshold, max_win_rate=s.audit_max_win_rate, cases=s.audit_cases
    )


def audit_version(loop: SupportLoop, version: int | None, progress: Progress) -> tuple[AuditResult, Path]:
    """Audit the reward model a version was trained against (the current version's by default).

    The report goes to the reports directory, the version's audit status is updated, and the failures
    are kept as counter-examples for the next retraining.
    """
    from training.pipeline import RetrainPaths, audit_reward_model
    from training.reward import CompositeReward, RewardWeights
    from training.reward_model import RewardModel

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
        loop.answerer.checker, RewardWeights.from_settings(s), RewardModel.load(folder)
    )
    result, report = audit_reward_model(
        composite, audit_settings(loop), s.audit_shap, paths, version, progress=progress
    )
    loop.registry.set_audit_status(version, "passed" if result.passed else "failed")
    progress(1.0, result.summary())
    return result, report


def audit_job(loop: SupportLoop) -> Callable[[JobRun, Progress], str]:
    """Re-audit the current version's reward model (weekly, or an admin's ``/supportloop audit``)."""

    def run(_run: JobRun, progress: Progress) -> str:
        result, report = audit_version(loop, None, progress)
        return f"{result.summary()} Report: {report}"

    return run


def score_answers(loop: SupportLoop, limit: int = 500) -> int:
    """Store the composite reward's breakdown with each answer that has none yet; return how many.

    Satisfaction comes from the current version's reward model (0.5 before the first retraining);
    factual accuracy from the passages the answer was based on, as indexed now.
    """
    from training.pipeline import RetrainPaths
    from training.reward import CompositeReward, RewardWeights
    from training.reward_model import RewardModel

    answers = loop.records.unscored_answers(limit)
    if not answers:
        return 0
    version = loop.registry.current_id()
    folder = RetrainPaths.under(loop.settings.data_dir).reward_models / str(version)
    reward_model = RewardModel.load(folder) if version is not None and folder.is_dir() else None
    composite = CompositeReward(
        loop.answerer.checker, RewardWeights.from_settings(loop.settings), reward_model
    )
    for answer in answers:
        score = composite.score(answer.question, answer.answer, loop.index.passages(answer.passage_ids))
        breakdown = {
            "satisfaction": round(score.satisfaction, 4),
            "factual_accuracy": round(score.grounding, 4),
            "ethics": score.ethics,
            "total": round(score.total, 4),
            "reward_model": version if reward_model is not None else None,
        }
        loop.records.store_reward(answer.id, breakdown)
    return len(answers)
