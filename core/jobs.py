"""Long jobs (re-index, retrain, audit) as rows in ``job_runs``, and a worker thread that runs them.

An admin's ``/supportloop reindex`` must answer within Slack's three seconds, so the command only queues
a run; a worker claims queued runs of the kinds it knows, runs them one at a time, and reports progress
to whoever is watching that run (the bot posts it back where the command was issued). Runs live in the
database, so ``status`` shows them and a worker in another process can claim them; the claim is one
``UPDATE … WHERE status = 'queued'``, which only one worker can win.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from core import metrics
from core.database import Database
from core.errors import SupportLoopError
from core.tables import JobRunRecord, utcnow

log = logging.getLogger(__name__)

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"


@dataclass(frozen=True)
class JobRun:
    id: int
    kind: str
    status: str
    progress: float
    summary: dict[str, Any]
    params: dict[str, Any]
    requested_by: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, row: JobRunRecord) -> JobRun:
        return cls(
            row.id,
            row.kind,
            row.status,
            row.progress,
            dict(row.summary or {}),
            dict(row.params or {}),
            row.requested_by,
            row.created_at,
            row.started_at,
            row.finished_at,
        )


class JobQueue:
    """Job runs in the database: queue, claim, report progress, finish."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def enqueue(
        self, kind: str, params: dict[str, Any] | None = None, requested_by: str | None = None
    ) -> JobRun:
        with self.db.session() as session:
            row = JobRunRecord(kind=kind, status=QUEUED, params=params or {}, requested_by=requested_by)
            session.add(row)
            session.commit()
            return JobRun.of(row)

    def claim(self, kinds: Collection[str]) -> JobRun | None:
        """Mark the oldest queued run of one of ``kinds`` as running and return it; None if there is none."""
        with self.db.session() as session:
            candidates = session.scalars(
                select(JobRunRecord.id)
                .where(JobRunRecord.status == QUEUED, JobRunRecord.kind.in_(list(kinds)))
                .order_by(JobRunRecord.id)
                .limit(5)
            ).all()
            for run_id in candidates:
                won = session.execute(
                    update(JobRunRecord)
                    .where(JobRunRecord.id == run_id, JobRunRecord.status == QUEUED)
                    .values(status=RUNNING, started_at=utcnow())
                ).rowcount
                session.commit()
                if won:
                    return self.get(run_id)
        return None

    def report(self, run_id: int, progress: float) -> None:
        with self.db.session() as session:
            session.execute(
                update(JobRunRecord)
                .where(JobRunRecord.id == run_id)
                .values(progress=min(max(progress, 0), 1))
            )
            session.commit()

    def finish(self, run_id: int, ok: bool, summary: dict[str, Any]) -> JobRun:
        with self.db.session() as session:
            session.execute(
                update(JobRunRecord)
                .where(JobRunRecord.id == run_id)
                .values(
                    status=SUCCEEDED if ok else FAILED,
                    progress=1.0 if ok else JobRunRecord.progress,
                    finished_at=utcnow(),
                    summary=summary,
                )
            )
            session.commit()
        return self.get(run_id)

    def fail_interrupted(self, kinds: Collection[str]) -> list[int]:
        """Mark runs left ``running`` by a worker that died (killed, crashed) as failed; return their ids.

        Called when a worker starts: one worker runs a deployment's jobs, so a run still marked running
        then was interrupted, and the work it did (a half-trained model) was never made current.
        """
        with self.db.session() as session:
            stale = session.scalars(
                select(JobRunRecord.id).where(
                    JobRunRecord.status == RUNNING, JobRunRecord.kind.in_(list(kinds))
                )
            ).all()
            if stale:
                session.execute(
                    update(JobRunRecord)
                    .where(JobRunRecord.id.in_(stale))
                    .values(
                        status=FAILED,
                        finished_at=utcnow(),
                        summary={"error": "interrupted: the worker stopped before the job finished"},
                    )
                )
                session.commit()
        return list(stale)

    def get(self, run_id: int) -> JobRun:
        with self.db.session() as session:
            row = session.get(JobRunRecord, run_id)
            if row is None:
                raise SupportLoopError(f"There is no job run {run_id}.")
            return JobRun.of(row)

    def recent(self, limit: int = 5) -> list[JobRun]:
        with self.db.session() as session:
            rows = session.scalars(select(JobRunRecord).order_by(JobRunRecord.id.desc()).limit(limit)).all()
            return [JobRun.of(row) for row in rows]


Progress = Callable[[float, str], None]
"""What a job calls to report: fraction done (0–1) and a short line for humans."""

Job = Callable[[JobRun, Progress], str]
"""A job: does the work for a run, returns a one-line result; raises ``SupportLoopError`` on failure."""

Listener = Callable[[JobRun, str], None]
"""Hears about a watched run: the run as it now stands, and a line to show (started, progress, result)."""


class JobWorker:
    """Runs queued jobs of the kinds it has a ``Job`` for, one at a time, in a background thread."""

    def __init__(self, queue: JobQueue, jobs: dict[str, Job], poll_s: float = 2.0) -> None:
        self.queue = queue
        self.jobs = jobs
        self.poll_s = poll_s
        self._listeners: dict[int, Listener] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, run_id: int, listener: Listener) -> None:
        """Tell ``listener`` when run ``run_id`` starts, progresses and ends (in this worker)."""
        with self._lock:
            self._listeners[run_id] = listener
        self._wake.set()

    def start(self) -> None:
        """Start (or start again after ``stop``): first mark runs a dead worker left ``running`` failed.

        Only one worker of a deployment runs at a time (the scheduler lease), so such runs are orphans.
        """
        self._stop.clear()
        for run_id in self.queue.fail_interrupted(self.jobs):
            log.warning("job %s was interrupted when the worker last stopped; marked failed", run_id)
        self._thread = threading.Thread(target=self._serve, name="job-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        """Stop after the job in progress (if any) ends."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_pending(self) -> int:
        """Run every queued job this worker can run, now, in this thread; returns how many ran."""
        ran = 0
        while not self._stop.is_set() and (run := self.queue.claim(self.jobs)) is not None:
            self._run(run)
            ran += 1
        return ran

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_pending()
            except Exception:  # a broken database must not kill the worker; it retries at the next poll
                log.exception("job worker could not claim a job")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _tell(self, run: JobRun, line: str) -> None:
        with self._lock:
            listener = self._listeners.get(run.id)
        if listener is None:
            return
        try:
            listener(run, line)
        except Exception:  # a listener that cannot post must not fail the job
            log.exception("could not report on job %s", run.id)

    def _run(self, run: JobRun) -> None:
        log.info("job %s (%s) started", run.id, run.kind)
        self._tell(run, started_line(run))
        last_told = 0.0

        def progress(fraction: float, line: str) -> None:
            nonlocal last_told
            self.queue.report(run.id, fraction)
            if fraction - last_told >= 0.25:  # a few updates, not one per page
                last_told = fraction
                self._tell(self.queue.get(run.id), f"Job #{run.id} ({run.kind}): {line}")

        try:
            result = self.jobs[run.kind](run, progress)
        except Exception as exc:
            known = isinstance(exc, SupportLoopError)
            # A known failure (too few votes, a site down) is news for the run's listener, not a bug.
            level = logging.INFO if known else logging.ERROR
            log.log(level, "job %s failed: %s", run.id, exc, exc_info=not known)
            message = str(exc) if known else f"{type(exc).__name__}: {exc} (details in the log)"
            finished = self.queue.finish(run.id, False, {"error": message})
            metrics.JOB_RUNS.labels(run.kind, FAILED).inc()
            self._tell(finished, ended_line(finished))
        else:
            finished = self.queue.finish(run.id, True, {"result": result})
            metrics.JOB_RUNS.labels(run.kind, SUCCEEDED).inc()
            self._tell(finished, ended_line(finished))
        with self._lock:
            self._listeners.pop(run.id, None)


def started_line(run: JobRun) -> str:
    return f"Job #{run.id} ({run.kind}) started."


def ended_line(run: JobRun) -> str:
    if run.status == SUCCEEDED:
        return f"Job #{run.id} ({run.kind}) finished: {run.summary.get('result', '')}"
    return f"Job #{run.id} ({run.kind}) failed: {run.summary.get('error', 'no reason recorded')}"


class RunWatcher:
    """Tells listeners how runs go that a worker in *another* process runs, by reading ``job_runs``.

    A bot replica queues an admin's job; the deployment's worker runs it. The replica polls the watched
    runs every ``poll_s`` and reports the start, each further quarter of progress, and the end, in the
    worker's own words. The polling thread runs only while something is watched.
    """

    def __init__(self, queue: JobQueue, poll_s: float = 3.0) -> None:
        self.queue = queue
        self.poll_s = poll_s
        self._watched: dict[int, tuple[Listener, str, float]] = {}  # run id → listener, status, progress told
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()

    def watch(self, run_id: int, listener: Listener) -> None:
        with self._lock:
            self._watched[run_id] = (listener, QUEUED, 0.0)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._poll, name="job-run-watcher", daemon=True)
                self._thread.start()

    def close(self) -> None:
        self._closed.set()
        if self._thread is not None:
            self._thread.join(self.poll_s + 5)

    def _poll(self) -> None:
        while not self._closed.wait(self.poll_s):
            with self._lock:
                watched = dict(self._watched)
                if not watched:
                    self._thread = None
                    return
            for run_id, (listener, status, told) in watched.items():
                try:
                    self._check(run_id, listener, status, told)
                except Exception:  # the database may be briefly unreachable: try again at the next poll
                    log.exception("could not read job run %s", run_id)

    def _check(self, run_id: int, listener: Listener, status: str, told: float) -> None:
        run = self.queue.get(run_id)
        lines = []
        if status == QUEUED and run.status != QUEUED:
            lines.append(started_line(run))
        if run.status == RUNNING and run.progress - told >= 0.25:
            told = run.progress
            lines.append(f"Job #{run.id} ({run.kind}): {round(run.progress * 100)}% done")
        if run.status in (SUCCEEDED, FAILED):
            lines.append(ended_line(run))
        for line in lines:
            try:
                listener(run, line)
            except Exception:  # a listener that cannot post must not stop the others
                log.exception("could not report on job %s", run.id)
        with self._lock:
            if run.status in (SUCCEEDED, FAILED):
                self._watched.pop(run_id, None)
            else:
                self._watched[run_id] = (listener, run.status, told)
