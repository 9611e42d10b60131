"""Admin operations behind ``/supportloop``: status, jobs and rollback, as the bots' ``AdminBackend``.

The bots only see the ``AdminBackend`` protocol; this is the application's implementation of it, with
the jobs a worker in this process can run (re-indexing today; training and auditing register theirs
when they exist).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bots.admin import JobTicket, StatusReport
from core.errors import SupportLoopError
from core.jobs import JobRun, Progress

if TYPE_CHECKING:
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
        run = self.loop.jobs.enqueue(kind, requested_by=requested_by)
        will_run = kind in self.loop.worker.jobs
        if will_run:
            self.loop.worker.watch(run.id, lambda _run, line: listener(line))
        return JobTicket(run, will_run)

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
        from training.pipeline import RetrainSettings, retrain
        from training.ppo import PPOSettings
        from training.reward import RewardWeights

        s = loop.settings
        settings = RetrainSettings(
            feedback=s.retrain_feedback,
            min_votes=s.retrain_min_votes,
            reward_objective=s.reward_objective,
            weights=RewardWeights.from_settings(s),
            ppo=PPOSettings(
                updates=s.ppo_updates, batch_size=s.ppo_batch_size, response_length=s.ppo_response_length
            ),
            margin=s.promotion_margin,
            max_new_tokens=s.max_new_tokens,
        )
        answerer = loop.answerer
        result = retrain(
            loop.db,
            loop.registry,
            lambda question: answerer.relevant(answerer.retrieve(question)),
            answerer.checker,
            (s.data_dir / "reward_models", s.data_dir / "reports"),
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
