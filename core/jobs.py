"""Long jobs (re-index, retrain, audit) as rows in ``job_runs``, and a worker thread that runs them.

An admin's ``/supportloop reindex`` must answer within Slack's three seconds, so the command only queues
a run; a worker claims queued runs of the kinds it knows, runs them one at a time, and reports progress
to whoever is watching that run (the bot posts it back where the command was issued). Runs live in the
database, so ``status`` shows them and a worker in another process can claim them; the claim is one
``UPDATE … WHERE status = 'queued'``, which only one worker can win.

A running run carries its ``owner`` (host, pid and start of the process running it) and a heartbeat that
a thread of that process renews. Several processes run jobs (the deployment's worker, a CLI ``retrain``),
so "running when I start" says nothing about whether a run's process is alive; a stale heartbeat does.
Whoever notices one (``status``, a worker, the next run) marks that run failed, and a process that
finishes a run it no longer owns records nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update

from core import metrics
from core.database import Database
from core.errors import SupportLoopError
from core.tables import JobRunRecord, utcnow

log = logging.getLogger(__name__)

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
STALE_S = 60.0  # default of SUPPORTLOOP_JOB_STALE_S: no heartbeat for this long means the process died
BEATS_PER_STALE = 6  # heartbeats within the stale age, so a few slow database writes are not a death
_STARTED = utcnow()  # when this process loaded the job code: tells a reused pid from this process


def process_owner() -> str:
    """This process as the owner of a run: ``host:pid:start`` (start in UTC, to the second)."""
    return f"{socket.gethostname()[:200]}:{os.getpid()}:{_STARTED:%Y%m%dT%H%M%SZ}"


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
    owner: str | None
    heartbeat_at: datetime | None

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
            row.owner,
            row.heartbeat_at,
        )


class JobQueue:
    """Job runs in the database: queue, claim, report progress and heartbeats, finish, reap the dead.

    ``stale_s``: a running run whose heartbeat is older than this is taken for dead (its process killed,
    its host gone); this process renews the heartbeats of its own runs every ``stale_s / 6``.
    """

    def __init__(self, db: Database, stale_s: float = STALE_S) -> None:
        self.db = db
        self.stale_s = stale_s
        self.owner = process_owner()

    def enqueue(
        self, kind: str, params: dict[str, Any] | None = None, requested_by: str | None = None
    ) -> JobRun:
        with self.db.session() as session:
            row = JobRunRecord(kind=kind, status=QUEUED, params=params or {}, requested_by=requested_by)
            session.add(row)
            session.commit()
            return JobRun.of(row)

    def claim(self, kinds: Collection[str]) -> JobRun | None:
        """Mark the oldest queued run of one of ``kinds`` as running here and return it; None if none."""
        with self.db.session() as session:
            candidates = session.scalars(
                select(JobRunRecord.id)
                .where(JobRunRecord.status == QUEUED, JobRunRecord.kind.in_(list(kinds)))
                .order_by(JobRunRecord.id)
                .limit(5)
            ).all()
            for run_id in candidates:
                now = utcnow()
                won = session.execute(
                    update(JobRunRecord)
                    .where(JobRunRecord.id == run_id, JobRunRecord.status == QUEUED)
                    .values(status=RUNNING, started_at=now, owner=self.owner, heartbeat_at=now)
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

    def beat(self, run_id: int) -> bool:
        """Renew the heartbeat of a run this process runs; False once it is no longer ours to run (marked
        failed by someone who thought this process dead)."""
        with self.db.session() as session:
            renewed = session.execute(
                update(JobRunRecord).where(*self._ours(run_id)).values(heartbeat_at=utcnow())
            ).rowcount
            session.commit()
        return renewed == 1

    def finish(self, run_id: int, ok: bool, summary: dict[str, Any]) -> JobRun:
        """Record how a run this process ran ended, unless it was marked failed meanwhile: then that
        verdict stands (the outcome is only logged), so a run never flips from failed to succeeded."""
        with self.db.session() as session:
            recorded = session.execute(
                update(JobRunRecord)
                .where(*self._ours(run_id))
                .values(
                    status=SUCCEEDED if ok else FAILED,
                    progress=1.0 if ok else JobRunRecord.progress,
                    finished_at=utcnow(),
                    summary=summary,
                )
            ).rowcount
            session.commit()
        run = self.get(run_id)
        if not recorded:
            log.warning(
                "job %s ended (%s) after it was marked %s (%s); that verdict stands",
                run_id,
                summary.get("result") or summary.get("error"),
                run.status,
                run.summary.get("error", "no reason recorded"),
            )
        return run

    def reap_stale(self) -> list[JobRun]:
        """Mark failed every running run whose heartbeat is older than ``stale_s``; return them.

        Only the heartbeat decides: a run of another process that is alive is never touched, however
        long it has run. The ``UPDATE`` repeats the staleness test, so a heartbeat that lands between
        the read and the write keeps its run.
        """
        cutoff = utcnow() - timedelta(seconds=self.stale_s)
        stale = and_(
            JobRunRecord.status == RUNNING,
            or_(
                JobRunRecord.heartbeat_at < cutoff,
                # runs started before heartbeats existed (or claimed by a process that never beat)
                and_(JobRunRecord.heartbeat_at.is_(None), JobRunRecord.started_at < cutoff),
            ),
        )
        reaped = []
        with self.db.session() as session:
            # plain rows, not records: the UPDATE below then has no loaded objects to synchronise
            found = select(
                JobRunRecord.id,
                JobRunRecord.kind,
                JobRunRecord.owner,
                JobRunRecord.heartbeat_at,
                JobRunRecord.started_at,
            ).where(stale)
            for row in session.execute(found).all():
                last = row.heartbeat_at or row.started_at
                error = f"its process stopped: no heartbeat since {last:%Y-%m-%d %H:%M:%S} UTC ({row.owner})"
                marked = session.execute(
                    update(JobRunRecord)
                    .where(JobRunRecord.id == row.id, stale)
                    .values(status=FAILED, finished_at=utcnow(), summary={"error": error})
                ).rowcount
                session.commit()
                if marked:
                    log.warning("job %s (%s) marked failed: %s", row.id, row.kind, error)
                    reaped.append(row.id)
        return [self.get(run_id) for run_id in reaped]

    def _ours(self, run_id: int) -> tuple[ColumnElement[bool], ...]:
        """The run ``run_id``, while it runs and this process owns it."""
        return (JobRunRecord.id == run_id, JobRunRecord.status == RUNNING, JobRunRecord.owner == self.owner)

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
        """Start (or start again after ``stop``), first marking failed the runs whose process died."""
        self._stop.clear()
        self.queue.reap_stale()
        self._thread = threading.Thread(target=self._serve, name="job-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        """Stop after the job in progress (if any) ends."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_pending(self) -> int:
        """Run every queued job this worker can run, now, in this thread; returns how many ran.

        Runs whose process died are marked failed first, so that a dead run never sits beside a new one.
        """
        self.queue.reap_stale()
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
            with Heartbeat(self.queue, run.id):
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


class Heartbeat:
    """While in its ``with`` block, a daemon thread renews a run's heartbeat every ``stale_s / 6``.

    A thread, not the job's progress reports: a PPO update or a crawl of one slow page can take longer
    than the stale age without reporting anything, and such a run is alive.
    """

    def __init__(self, queue: JobQueue, run_id: int) -> None:
        self.queue = queue
        self.run_id = run_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"job-{run_id}-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.queue.stale_s / BEATS_PER_STALE):
            try:
                if not self.queue.beat(self.run_id):
                    log.warning("job %s was marked failed by another process while it ran", self.run_id)
                    return
            except Exception:  # the database may be briefly unreachable: beat again next time
                log.exception("could not renew the heartbeat of job %s", self.run_id)


def started_line(run: JobRun) -> str:
    return f"Job #{run.id} ({run.kind}) started."


def ended_line(run: JobRun) -> str:
    if run.status == SUCCEEDED:
        return f"Job #{run.id} ({run.kind}) finished: {run.summary.get('result', '')}"
    return f"Job #{run.id} ({run.kind}) failed: {run.summary.get('error', 'no reason recorded')}"
