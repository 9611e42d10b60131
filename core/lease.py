"""A lease in the database: at most one process holds it at a time, until it stops renewing it.

Several worker processes may be deployed (for availability), but APScheduler 3 is not safe across
processes and a deployment must run each job once: only the holder of the ``scheduler`` lease runs
the scheduler and the job worker. The holder renews the lease well before it expires; when the holder
dies, another process takes the lease over once it has expired. Taking or renewing is one conditional
``UPDATE`` (or the first ``INSERT``), which only one process can win on SQLite and PostgreSQL alike.
Hosts are assumed to keep their clocks in sync (NTP): expiry times are written by the holders' clocks.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from core.database import Database
from core.tables import LeaseRecord, utcnow

SCHEDULER_LEASE = "scheduler"  # held by the worker process that runs the scheduler and the jobs


def process_name() -> str:
    """This process, as other processes see it: host, pid and a random suffix (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Lease:
    """The lease ``name``, taken and renewed for ``ttl_s`` seconds at a time by ``holder``."""

    def __init__(self, db: Database, name: str, ttl_s: float, holder: str | None = None) -> None:
        self.db, self.name, self.ttl = db, name, timedelta(seconds=ttl_s)
        self.holder = holder or process_name()

    def acquire(self) -> bool:
        """Take the lease if it is free or expired, or renew it if ours; return whether we hold it now."""
        now = utcnow()
        with self.db.session() as session:
            taken = session.execute(
                update(LeaseRecord)
                .where(
                    LeaseRecord.name == self.name,
                    or_(LeaseRecord.holder == self.holder, LeaseRecord.expires_at < now),
                )
                .values(holder=self.holder, expires_at=now + self.ttl)
            )
            if taken.rowcount == 1:
                session.commit()
                return True
            if session.get(LeaseRecord, self.name) is not None:
                return False  # held by another process, and not expired
            session.add(LeaseRecord(name=self.name, holder=self.holder, expires_at=now + self.ttl))
            try:
                session.commit()
            except IntegrityError:  # another process inserted it first
                session.rollback()
                return False
            return True

    def holder_now(self) -> str | None:
        """Who holds the lease now (None when nobody does, or it expired)."""
        with self.db.session() as session:
            return session.scalar(
                select(LeaseRecord.holder).where(
                    LeaseRecord.name == self.name, LeaseRecord.expires_at > utcnow()
                )
            )

    def release(self) -> None:
        """Give the lease up at once (on a clean shutdown), so that another process need not wait."""
        with self.db.session() as session:
            session.execute(
                update(LeaseRecord)
                .where(LeaseRecord.name == self.name, LeaseRecord.holder == self.holder)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
            session.commit()
