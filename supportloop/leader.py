"""Run the scheduler and the job worker in exactly one process of a deployment.

Every ``supportloop serve --role worker`` (or ``all``) process competes for the database lease
``scheduler``; the holder runs APScheduler and the job worker, the others wait and take over within
``SUPPORTLOOP_LEASE_TTL_S`` seconds of the holder dying. A holder that cannot renew its lease (the
database is unreachable) stops scheduling and claiming jobs before the lease can pass to another process;
a job it is running finishes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from core.lease import Lease

log = logging.getLogger(__name__)

Stop = Callable[[], None]


class Leader:
    """Holds ``lease`` whenever it can, running ``lead()`` while it does (``lead`` returns how to stop)."""

    def __init__(self, lease: Lease, lead: Callable[[], Stop]) -> None:
        self.lease = lease
        self.lead = lead
        self.renew_s = lease.ttl.total_seconds() / 3  # two renewals may fail before the lease lapses
        self._stop_leading: Stop | None = None
        # lead() runs in its own thread: however long starting takes (imports, a loaded database), this
        # thread keeps renewing the lease, so a slow start never lets it lapse to another process.
        self._starting: threading.Thread | None = None
        self._failed = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def leading(self) -> bool:
        return self._starting is not None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._compete, name="scheduler-lease", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop leading (the job in progress finishes first) and hand the lease on at once."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        if self.leading:
            self._step_down("shutting down")
            self.lease.release()

    def _compete(self) -> None:
        while not self._stopping.is_set():
            try:
                held = self.lease.acquire()
            except Exception:  # the database is unreachable: we cannot know we still hold the lease
                log.exception("could not renew the %s lease", self.lease.name)
                held = False
            if held and not self.leading:
                log.info(
                    "%s holds the %s lease: running the scheduler and jobs",
                    self.lease.holder,
                    self.lease.name,
                )
                self._starting = threading.Thread(target=self._begin, name="scheduler-start", daemon=True)
                self._starting.start()
            elif not held and self.leading:
                self._step_down("lost the lease")
            elif self._failed.is_set():
                self._step_down("it could not start")
                self.lease.release()
            self._stopping.wait(self.renew_s)

    def _begin(self) -> None:
        try:
            self._stop_leading = self.lead()
        except Exception:  # stepped down below, so that this or another process tries again
            log.exception("%s could not start the scheduler and jobs", self.lease.holder)
            self._failed.set()

    def _step_down(self, why: str) -> None:
        log.info("%s stops running the scheduler and jobs: %s", self.lease.holder, why)
        if self._starting is not None:
            self._starting.join()  # stop only what has finished starting
        stop, self._stop_leading, self._starting = self._stop_leading, None, None
        self._failed.clear()
        if stop is not None:
            stop()
