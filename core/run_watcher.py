"""Following runs that a worker in another process runs, by reading ``job_runs``."""

from __future__ import annotations

import logging
import threading

from core.jobs import FAILED, QUEUED, RUNNING, SUCCEEDED, JobQueue, Listener, ended_line, started_line

log = logging.getLogger(__name__)


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
