"""The admin service: the one place that status, jobs, model versions, settings, conversations,
knowledge gaps and requests for a person are read and changed, whether from the CLI, ``/supportloop``
in a chat or the web console.

Going through one service keeps the three from drifting apart (a rollback does the same everywhere). It
implements the bots' ``AdminBackend`` and receives the application as an ``AdminDeployment``, so it
imports nothing of the application shell; the shell builds it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from bots.admin import JobTicket, StatusReport
from core.escalations import Escalations, EscalationView
from core.jobs import JobQueue, JobRun, JobWorker, Progress
from core.lease import SCHEDULER_LEASE, Lease
from core.run_watcher import RunWatcher
from core.settings import ENV_PREFIX, Settings, is_secret
from core.tables import ModelVersionRecord
from supportloop import history
from supportloop.gaps import GAP_DISTANCE, ClosestPage, Gap, find_gaps
from supportloop.job_kinds import Deployment, audit_version

if TYPE_CHECKING:
    from audit.suite import AuditResult
    from core.embedder import LazyEmbeddings


class AdminDeployment(Deployment, Protocol):
    """What the admin service uses of the running application, besides what the jobs use."""

    platforms: list[str]

    @property
    def jobs(self) -> JobQueue: ...

    @property
    def worker(self) -> JobWorker: ...

    @property
    def run_watcher(self) -> RunWatcher: ...

    @property
    def embeddings(self) -> LazyEmbeddings: ...

    def jobs_run_here(self) -> bool: ...


@dataclass(frozen=True)
class SettingRow:
    """One setting as admins may see it: secrets show only whether they are set."""

    env_var: str
    default: str
    current: str
    description: str


@dataclass(frozen=True)
class VersionView:
    """A model version with the HTML reports written for it (names under the reports directory)."""

    record: ModelVersionRecord
    reports: list[str]


class AdminService:
    """``AdminBackend`` and everything else an admin can see or do, over a running application."""

    def __init__(self, loop: AdminDeployment) -> None:
        self.loop = loop
        # The last gap report and what it was made from: the home page asks on every visit, and
        # embedding a few thousand questions each time would make it slow.
        self._gaps: tuple[object, list[Gap]] | None = None
        self._gaps_lock = threading.Lock()

    @property
    def reports_dir(self) -> Path:
        return self.loop.settings.data_dir / "reports"

    def status(self) -> StatusReport:
        """What runs and what was learned; runs whose process died are marked failed first, so status
        never shows a killed retrain as running."""
        loop = self.loop
        loop.jobs.reap_stale()
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
            platforms=list(loop.platforms),
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

    def jobs(self, limit: int = 20) -> list[JobRun]:
        """The latest runs, runs whose process died marked failed first (as in ``status``)."""
        self.loop.jobs.reap_stale()
        return self.loop.jobs.recent(limit)

    def versions(self) -> list[VersionView]:
        """Every model version, newest first, with its training and audit reports where they exist."""
        return [
            VersionView(
                record,
                [
                    f"{kind}-{record.id}.html"
                    for kind in ("retrain", "audit")
                    if (self.reports_dir / f"{kind}-{record.id}.html").is_file()
                ],
            )
            for record in self.loop.registry.versions()
        ]

    def report_path(self, name: str) -> Path | None:
        """The report file called ``name``, if it is one (never a path outside the reports directory)."""
        if "/" in name or "\\" in name or name.startswith(".") or not name.endswith(".html"):
            return None
        path = self.reports_dir / name
        return path if path.is_file() else None

    def rollback(self, version: int) -> str:
        """Serve ``version`` (older or newer) from the next answer on; a running ``serve`` follows."""
        before = self.loop.registry.current_id()
        self.loop.use_model(self.loop.registry.activate(version))
        return f"Now serving model version {version} (was {before})."

    def audit(self, version: int | None, progress: Progress) -> tuple[AuditResult, Path]:
        """Audit a version's reward model now, in this process (the CLI's ``audit``)."""
        return audit_version(self.loop, version, progress)

    def settings(self) -> list[SettingRow]:
        """Every setting with its environment variable; secrets only say whether they are set."""
        current: Settings = self.loop.settings
        rows = []
        for name, spec in Settings.model_fields.items():
            value = getattr(current, name)
            if is_secret(name):
                shown = "(set)" if value is not None and value != spec.default else "(unset or default)"
                default = "(secret)"
            else:
                shown, default = _show(value), _show(spec.default)
            rows.append(SettingRow(f"{ENV_PREFIX}{name.upper()}", default, shown, spec.description or ""))
        return rows

    def conversations(self, wanted: history.ConversationFilter) -> list[history.Conversation]:
        return history.conversations(self.loop.db, wanted)

    def platforms(self) -> list[str]:
        return history.platforms(self.loop.db)

    def escalations(self, status: str) -> list[EscalationView]:
        """Requests for a person with ``status`` (open, taken, closed), newest first."""
        return Escalations(self.loop.db).listed(status)

    def take_escalation(self, escalation_id: int, taken_by: str) -> bool:
        """Record that ``taken_by`` answers an open request; False if it was taken (or closed) already."""
        return Escalations(self.loop.db).take(escalation_id, taken_by)

    def close_escalation(self, escalation_id: int) -> bool:
        """Record that a request for a person is dealt with; False if it was closed already."""
        return Escalations(self.loop.db).close(escalation_id)

    def last_downvote(self) -> history.Downvote | None:
        return history.last_downvote(self.loop.db)

    def gaps(self, distance: float = GAP_DISTANCE) -> list[Gap]:
        """Declined and 👎 questions clustered by meaning, each with the closest page in the index.

        Clustered again only when those questions (or their reasons) changed since the last call.
        """
        index = self.loop.index
        unhelped = history.unhelped(self.loop.db)
        key = (distance, [(u.answer_id, len(u.reasons)) for u in unhelped])
        with self._gaps_lock:
            if self._gaps is not None and self._gaps[0] == key:
                return self._gaps[1]

            def closest(question: str) -> ClosestPage | None:
                found = index.search(question, 1, "dense")
                return ClosestPage(found[0].source, found[0].title, found[0].score) if found else None

            gaps = find_gaps(unhelped, self.loop.embeddings.embed_documents, closest, distance)
            self._gaps = (key, gaps)
            return gaps


def _show(value: object) -> str:
    return "(unset)" if value is None else str(value)
