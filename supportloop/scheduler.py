"""When jobs run on their own: APScheduler 3 with its job store in our database.

The scheduler only decides *when*; each trigger queues a run in ``job_runs``, exactly as an admin's
``/supportloop reindex`` does, and the job worker does the work and records its progress. So scheduled and
manual runs are the same runs, one of each kind at a time. Schedules live in the ``apscheduler_jobs``
table, so they survive a restart (a run missed while stopped still happens once, within the grace time).

- ``collect`` (every ``SUPPORTLOOP_COLLECT_MINUTES``): counts votes since the last retrain and queues
  ``retrain`` once there are ``SUPPORTLOOP_RETRAIN_MIN_NEW_VOTES``; else, once there are
  ``SUPPORTLOOP_FAST_PATH_MIN_NEW_VOTES`` since the last retrain or fast-path run, queues ``fast-path``
  (the reward model alone, served within minutes: ``training.fast_path``);
- ``retrain``, ``audit`` and ``reindex`` on the cron schedules in the settings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func, select

from core.database import Database, open_database
from core.jobs import QUEUED, RUNNING, Job, JobQueue, JobRun, Progress
from core.settings import Settings
from core.tables import FeedbackRecord, JobRunRecord

log = logging.getLogger(__name__)
FAST_PATH = "fast-path"  # the job kind that retrains the reward model alone
MISFIRE_GRACE_S = 6 * 3600  # a run missed while the service was down still happens if it is this recent


def queue_job(database_url: str, kind: str) -> None:
    """What a schedule fires: queue a run of ``kind`` unless one is already waiting or running.

    Module-level and given only plain values, because APScheduler stores the call in the database.
    """
    db = open_database(database_url)
    try:
        queue_unless_pending(db, kind)
    finally:
        db.close()


def queue_unless_pending(db: Database, kind: str) -> None:
    with db.session() as session:
        pending = session.scalar(
            select(func.count())
            .select_from(JobRunRecord)
            .where(JobRunRecord.kind == kind, JobRunRecord.status.in_([QUEUED, RUNNING]))
        )
    if pending:
        log.info("scheduled %s skipped: one is queued or running", kind)
        return
    run = JobQueue(db).enqueue(kind, requested_by="schedule")
    log.info("scheduled %s queued as job %s", kind, run.id)


def start_scheduler(settings: Settings, db: Database, *, paused: bool = False) -> BackgroundScheduler:
    """Start a scheduler over the database's job store, its schedules brought in line with the settings.

    A stored schedule whose trigger is unchanged keeps its next run time, so a run that fell due while
    the service was down still happens (once, within the grace time); a changed setting reschedules it.
    """
    url = settings.resolved_database_url
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=db.engine, tablename="apscheduler_jobs")},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_S},
        timezone="UTC",
    )
    scheduler.start(paused=True)
    schedules = {
        "collect": IntervalTrigger(minutes=settings.collect_minutes, timezone="UTC"),
        "retrain": CronTrigger.from_crontab(settings.retrain_cron, timezone="UTC"),
        "audit": CronTrigger.from_crontab(settings.audit_cron, timezone="UTC"),
        "reindex": CronTrigger.from_crontab(settings.reindex_cron, timezone="UTC"),
    }
    for kind, trigger in schedules.items():
        stored = scheduler.get_job(kind)
        if stored is None:
            scheduler.add_job(queue_job, trigger, args=[url, kind], id=kind, name=kind)
        elif str(stored.trigger) != str(trigger):
            log.info("%s schedule changed to %s", kind, trigger)
            stored.reschedule(trigger)
    if not paused:
        scheduler.resume()
    return scheduler


def collect_job(db: Database, settings: Settings, score: Callable[[], int] = lambda: 0) -> Job:
    """The ``collect`` job: store the reward breakdown of new answers (``score``), and queue a retrain
    once enough votes arrived since the last one."""

    def run(_run: JobRun, progress: Progress) -> str:
        scored = score()
        progress(0.5, f"{scored} new answers scored")
        result = _count_votes()
        progress(1.0, result)
        return f"{result} {scored} new answers scored." if scored else result

    def _count_votes() -> str:
        new_votes = _votes_since(db, ("retrain",))
        if new_votes >= settings.retrain_min_new_votes:
            queue_unless_pending(db, "retrain")
            return f"{new_votes} new votes since the last retrain: retrain queued."
        result = (
            f"{new_votes} new votes since the last retrain (retrain at {settings.retrain_min_new_votes})."
        )
        fast = settings.fast_path_min_new_votes
        if fast and _votes_since(db, ("retrain", FAST_PATH)) >= fast:
            queue_unless_pending(db, FAST_PATH)
            return f"{result} Reward model refresh queued."
        return result

    return run


def _votes_since(db: Database, kinds: tuple[str, ...]) -> int:
    """Standing votes cast since the last run of any of ``kinds`` was queued (all of them if none was)."""
    with db.session() as session:
        since: datetime | None = session.scalar(
            select(func.max(JobRunRecord.created_at)).where(JobRunRecord.kind.in_(kinds))
        )
        query = select(func.count()).select_from(FeedbackRecord).where(FeedbackRecord.retracted.is_(False))
        if since is not None:
            query = query.where(FeedbackRecord.created_at > since)
        return session.scalar(query) or 0
