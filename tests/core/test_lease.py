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
