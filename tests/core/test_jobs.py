"""Job runs: queued in the database, claimed by exactly one worker, reported to whoever watches."""

import threading
import time

import pytest

from core.database import open_database
from core.errors import SupportLoopError
from core.jobs import FAILED, QUEUED, RUNNING, SUCCEEDED, JobQueue, JobWorker, RunWatcher


@pytest.fixture
def queue(database_url):
    db = open_database(database_url)
    yield JobQueue(db)
    db.close()


def test_a_run_is_claimed_once_and_only_by_a_worker_that_knows_its_kind(queue):
    first = queue.enqueue("retrain", requested_by="admin")
    second = queue.enqueue("reindex")
    assert (first.status, first.requested_by) == (QUEUED, "admin")
    assert queue.claim(["reindex"]).id == second.id
    assert queue.claim(["reindex"]) is None
    claimed = queue.claim(["retrain", "reindex"])
    assert (claimed.id, claimed.status) == (first.id, RUNNING) and claimed.started_at is not None
    assert [run.id for run in queue.recent()] == [second.id, first.id]


def test_competing_workers_never_run_the_same_job_twice(database_url):
    url = database_url
    setup = JobQueue(open_database(url))
    for _ in range(20):
        setup.enqueue("reindex")
    claimed: list[int] = []
    lock = threading.Lock()

    def claim_all(queue: JobQueue) -> None:
        while (run := queue.claim(["reindex"])) is not None:
            with lock:
                claimed.append(run.id)

    # each worker has its own engine, like another process (opened here: migrations are not thread-safe)
    queues = [JobQueue(open_database(url)) for _ in range(4)]
    threads = [threading.Thread(target=claim_all, args=(queue,)) for queue in queues]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(claimed) == list(range(1, 21))


def test_the_worker_runs_jobs_reports_progress_and_records_failures(queue):
    lines: list[str] = []

    def reindex(run, progress):
        progress(0.5, "half way")
        progress(1.0, "all pages")
        return "40 pages"

    def broken(run, progress):
        raise SupportLoopError("The help site is unreachable.")

    worker = JobWorker(queue, {"reindex": reindex, "audit": broken})
    ok, bad, other = queue.enqueue("reindex"), queue.enqueue("audit"), queue.enqueue("retrain")
    worker.watch(ok.id, lambda run, line: lines.append(line))
    worker.watch(bad.id, lambda run, line: lines.append(line))
    assert worker.run_pending() == 2
    assert lines == [
        f"Job #{ok.id} (reindex) started.",
        f"Job #{ok.id} (reindex): half way",
        f"Job #{ok.id} (reindex): all pages",
        f"Job #{ok.id} (reindex) finished: 40 pages",
        f"Job #{bad.id} (audit) started.",
        f"Job #{bad.id} (audit) failed: The help site is unreachable.",
    ]
    done, failed = queue.get(ok.id), queue.get(bad.id)
    assert (done.status, done.progress, done.summary) == (SUCCEEDED, 1.0, {"result": "40 pages"})
    assert (failed.status, failed.summary) == (FAILED, {"error": "The help site is unreachable."})
    assert queue.get(other.id).status == QUEUED  # nobody here runs retrain jobs: it waits


def test_the_background_worker_picks_up_a_watched_run_at_once(queue):
    finished = threading.Event()
    worker = JobWorker(queue, {"reindex": lambda run, progress: "done"}, poll_s=60)
    worker.start()
    try:
        run = queue.enqueue("reindex")
        worker.watch(run.id, lambda r, line: finished.set() if "finished" in line else None)
        assert finished.wait(10)  # woken by watch(), not by the 60 s poll
    finally:
        worker.stop()
    assert queue.get(run.id).status == SUCCEEDED


def test_a_run_left_running_by_a_killed_worker_is_marked_failed_when_a_worker_starts(queue):
    interrupted = queue.enqueue("retrain")
    queue.claim(["retrain"])  # the worker that claimed it was killed mid-run
    waiting = queue.enqueue("audit")
    worker = JobWorker(queue, {"retrain": lambda run, progress: "done"}, poll_s=60)
    worker.start()
    worker.stop()
    failed = queue.get(interrupted.id)
    assert (failed.status, failed.summary["error"].split(":")[0]) == (FAILED, "interrupted")
    assert queue.get(waiting.id).status == QUEUED  # not this worker's kind, and never started


def test_a_run_that_another_process_runs_is_reported_from_the_database(database_url):
    here, there = open_database(database_url), open_database(database_url)  # a bot replica, the worker
    progressed = threading.Event()
    heard: list[str] = []

    def reindex(_run, progress):
        progress(0.5, "half of the pages")
        assert progressed.wait(10)  # the replica saw the progress before the run ends
        return "30 pages"

    def audit(_run, _progress):
        raise SupportLoopError("no reward model yet")

    def listener(_run, line):
        heard.append(line)
        if line.endswith("50% done"):
            progressed.set()

    watcher = RunWatcher(JobQueue(here), poll_s=0.05)
    runs = [JobQueue(here).enqueue(kind) for kind in ("reindex", "audit")]
    for run in runs:
        watcher.watch(run.id, listener)
    JobWorker(JobQueue(there), {"reindex": reindex, "audit": audit}).run_pending()
    deadline = time.monotonic() + 10
    while len(heard) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    watcher.close()
    assert heard == [
        "Job #1 (reindex) started.",
        "Job #1 (reindex): 50% done",
        "Job #1 (reindex) finished: 30 pages",
        "Job #2 (audit) started.",
        "Job #2 (audit) failed: no reward model yet",
    ]
    here.close()
    there.close()
