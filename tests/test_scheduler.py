"""Schedules live in the database and survive a restart; a trigger queues the same runs admins do."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from helpers import record_answer

from core.database import open_database
from core.errors import ConfigError
from core.jobs import QUEUED, JobQueue, JobWorker
from core.records import Records
from core.settings import load_settings
from supportloop.scheduler import collect_job, queue_job, start_scheduler


@pytest.fixture
def settings(tmp_path, database_url):
    return load_settings(data_dir=tmp_path / "data", database_url=database_url, retrain_min_new_votes=3)


def test_schedules_survive_a_restart_and_follow_changed_settings(settings):
    db = open_database(settings.resolved_database_url)
    first = start_scheduler(settings, db, paused=True)
    planned = {job.id: job.next_run_time for job in first.get_jobs()}
    first.shutdown()
    assert set(planned) == {"collect", "retrain", "audit", "reindex"}

    again = start_scheduler(settings, db, paused=True)  # as a new process would, over the same database
    assert {job.id: job.next_run_time for job in again.get_jobs()} == planned
    assert all(job.coalesce and job.max_instances == 1 for job in again.get_jobs())
    again.shutdown()

    changed = start_scheduler(settings.model_copy(update={"retrain_cron": "15 1 * * *"}), db, paused=True)
    retrain = changed.get_job("retrain")
    assert str(retrain.trigger) == str(CronTrigger.from_crontab("15 1 * * *", timezone="UTC"))
    assert retrain.next_run_time != planned["retrain"]
    changed.shutdown()
    db.close()


def test_a_run_that_fell_due_while_stopped_happens_once_after_a_restart(settings):
    db = open_database(settings.resolved_database_url)
    start_scheduler(settings, db, paused=True).shutdown()
    # While no scheduler runs (the service is down), the nightly re-crawl falls due.
    store = SQLAlchemyJobStore(engine=db.engine, tablename="apscheduler_jobs")
    store.start(BackgroundScheduler(), "default")
    job = store.lookup_job("reindex")
    job.next_run_time = datetime.now(UTC) - timedelta(hours=1)
    store.update_job(job)
    started = start_scheduler(settings, db)  # running
    try:
        deadline = time.monotonic() + 10
        while not JobQueue(db).recent() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        started.shutdown()
    assert [(r.kind, r.requested_by) for r in JobQueue(db).recent()] == [("reindex", "schedule")]
    db.close()


def test_a_trigger_queues_one_run_at_a_time(settings):
    url = settings.resolved_database_url
    queue_job(url, "reindex")
    queue_job(url, "reindex")  # one is still waiting: not queued twice
    db = open_database(url)
    runs = JobQueue(db).recent()
    assert [(r.kind, r.status, r.requested_by) for r in runs] == [("reindex", QUEUED, "schedule")]
    db.close()


def test_collect_queues_a_retrain_once_enough_votes_arrived(settings):
    db = open_database(settings.resolved_database_url)
    records, queue = Records(db), JobQueue(db)
    worker = JobWorker(queue, {"collect": collect_job(db, settings)})
    answer = record_answer(records)
    records.vote(answer, "u1", 1)
    queue.enqueue("collect")
    worker.run_pending()
    assert [r.kind for r in queue.recent()] == ["collect"]
    assert "1 new votes" in queue.recent()[0].summary["result"]
    for user in ("u2", "u3"):
        records.vote(answer, user, -1)
    queue.enqueue("collect")
    worker.run_pending()
    assert [r.kind for r in queue.recent()][:2] == ["retrain", "collect"]
    db.close()


def test_a_bad_schedule_setting_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="SUPPORTLOOP_RETRAIN_CRON='every night'"):
        load_settings(data_dir=tmp_path, retrain_cron="every night")
