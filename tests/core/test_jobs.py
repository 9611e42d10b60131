"""Job runs: queued in the database, claimed by exactly one worker, reported to whoever watches."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import GUARD_DIR, run_cli

from core.database import open_database
from core.errors import SupportLoopError
from core.jobs import FAILED, QUEUED, RUNNING, SUCCEEDED, JobQueue, JobRun, JobWorker
from core.run_watcher import RunWatcher


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


def test_a_killed_process_s_run_is_marked_failed_once_its_heartbeat_is_stale(queue, tmp_path):
    """SIGKILL a process in the middle of a run: a worker starting later marks that run failed, and
    says why; the run was alive until the kill (its heartbeat younger than the stale age)."""
    run = queue.enqueue("retrain")
    child = start_job_process(queue, tmp_path / "never")
    try:
        running = wait_until_running(queue, run.id, child)
        assert running.owner.split(":")[1] == str(child.pid)
    finally:
        child.kill()
        child.wait()
    time.sleep(STALE_S + 0.5)
    worker = JobWorker(JobQueue(queue.db, STALE_S), {"retrain": lambda run, progress: "done"}, poll_s=60)
    worker.start()
    worker.stop()
    failed = queue.get(run.id)
    assert failed.status == FAILED
    assert failed.summary["error"].startswith("its process stopped: no heartbeat since ")
    assert running.owner in failed.summary["error"]


def test_a_worker_starting_beside_another_process_s_live_run_leaves_it_running(queue, tmp_path):
    """A run that has lasted several stale ages is alive while its process beats: a worker starting
    meanwhile leaves it alone, and it ends as its own process says."""
    run = queue.enqueue("retrain")
    release = tmp_path / "release"
    child = start_job_process(queue, release)
    try:
        owner = wait_until_running(queue, run.id, child).owner
        time.sleep(2 * STALE_S)
        worker = JobWorker(JobQueue(queue.db, STALE_S), {"retrain": lambda run, progress: "done"}, poll_s=60)
        worker.start()
        worker.stop()
        assert JobQueue(queue.db, STALE_S).reap_stale() == []
        still = queue.get(run.id)
        assert (still.status, still.owner) == (RUNNING, owner)
        release.touch()
        assert child.wait(30) == 0
    finally:
        child.kill()
    done = queue.get(run.id)
    assert (done.status, done.summary) == (SUCCEEDED, {"result": "trained"})


def test_a_run_marked_failed_while_its_process_was_stopped_stays_failed_when_it_ends(
    queue, tmp_path, database_url
):
    """SIGSTOP (a paused VM, a swapped-out host) looks like death: ``status`` marks the run failed, and
    when the process resumes and finishes, the run does not flip to succeeded; the process says so."""
    run = queue.enqueue("retrain")
    release = tmp_path / "release"
    child = start_job_process(queue, release)
    try:
        wait_until_running(queue, run.id, child)
        child.send_signal(signal.SIGSTOP)
        time.sleep(STALE_S + 0.5)
        shown = run_cli(
            "status",
            env={
                "PYTHONPATH": CHILD_PATH,
                "SUPPORTLOOP_DATA_DIR": str(tmp_path / "data"),
                "SUPPORTLOOP_DATABASE_URL": database_url,
                "SUPPORTLOOP_JOB_STALE_S": str(STALE_S),
            },
        )
        assert shown.returncode == 0, shown.stderr
        assert f"Job #{run.id} (retrain) failed: its process stopped" in " ".join(shown.stdout.split())
        release.touch()
        child.send_signal(signal.SIGCONT)
        _, stderr = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 0
    assert "that verdict stands" in stderr
    failed = queue.get(run.id)
    assert failed.status == FAILED and failed.summary["error"].startswith("its process stopped")


STALE_S = 2.0  # SUPPORTLOOP_JOB_STALE_S of the job processes above: heartbeats every third of a second
CHILD_PATH = os.pathsep.join([str(GUARD_DIR), str(Path(__file__).resolve().parents[2])])
JOB_PROCESS = """
import logging, sys, time
from pathlib import Path
from core.database import open_database
from core.jobs import JobQueue, JobWorker

logging.basicConfig(level=logging.WARNING)
url, stale_s, release = sys.argv[1], float(sys.argv[2]), Path(sys.argv[3])

def retrain(run, progress):
    while not release.exists():
        time.sleep(0.05)
    return "trained"

JobWorker(JobQueue(open_database(url), stale_s), {"retrain": retrain}).run_pending()
"""


def start_job_process(queue: JobQueue, release: Path) -> subprocess.Popen:
    """Another process that claims the queued retrain and runs it until ``release`` exists."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            JOB_PROCESS,
            queue.db.engine.url.render_as_string(False),
            str(STALE_S),
            str(release),
        ],
        env={**os.environ, "PYTHONPATH": CHILD_PATH},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until_running(queue: JobQueue, run_id: int, child: subprocess.Popen) -> JobRun:
    deadline = time.monotonic() + 60
    while (run := queue.get(run_id)).status != RUNNING:
        assert child.poll() is None, child.stderr.read()
        assert time.monotonic() < deadline, "the job process never claimed the run"
        time.sleep(0.1)
    return run


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
