"""The scheduler lease: one holder at a time, renewed by its holder, taken over once it expires."""

import time

from core.database import open_database
from core.lease import Lease


def test_one_holder_at_a_time_until_it_expires_or_is_released(database_url):
    db = open_database(database_url)
    first, second = (Lease(db, "scheduler", ttl_s=0.5, holder=name) for name in ("a", "b"))
    assert first.acquire() and not second.acquire()
    assert first.acquire()  # renewed
    assert first.holder_now() == second.holder_now() == "a"

    time.sleep(0.6)  # "a" stopped renewing (it died)
    assert first.holder_now() is None
    assert second.acquire() and not first.acquire()
    assert first.holder_now() == "b"

    second.release()  # a clean shutdown hands over at once
    assert first.acquire() and first.holder_now() == "a"
    assert Lease(db, "other", ttl_s=5, holder="b").acquire()  # leases are independent
    db.close()


def test_a_leader_keeps_its_lease_while_a_slow_start_runs_and_steps_down_when_starting_fails(
    database_url,
):
    from supportloop.leader import Leader

    db = open_database(database_url)
    rival = Lease(db, "scheduler", ttl_s=2, holder="rival")
    stopped = []

    def slow_lead():
        time.sleep(3)  # longer than the lease lasts: e.g. imports on a loaded machine
        return lambda: stopped.append("slow")

    leader = Leader(Lease(db, "scheduler", ttl_s=2, holder="leader"), slow_lead)
    leader.start()
    try:
        deadline = time.monotonic() + 10
        while rival.holder_now() != "leader":  # the leader takes the lease first
            assert time.monotonic() < deadline, "the leader never took the free lease"
            time.sleep(0.05)
        for _ in range(35):  # the rival keeps trying for 3.5 s, through the whole slow start
            assert not rival.acquire(), "the lease lapsed to the rival during the slow start"
            time.sleep(0.1)
        assert leader.leading and rival.holder_now() == "leader"
    finally:
        leader.stop()
    assert stopped == ["slow"] and rival.acquire()  # stopped cleanly, and handed the lease on
    rival.release()

    attempts = []

    def broken_lead():
        attempts.append(time.monotonic())
        raise RuntimeError("the scheduler's tables are unreadable")

    failing = Leader(Lease(db, "scheduler", ttl_s=0.6, holder="failing"), broken_lead)
    failing.start()
    time.sleep(1.5)
    failing.stop()
    assert len(attempts) >= 2  # it stepped down and tried again, rather than holding the lease idle
    db.close()
