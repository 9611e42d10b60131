"""Escalation rows in a real SQLite database: one per thread, given back when posting failed, taken once."""

from __future__ import annotations

from helpers import record_answer

from core.database import open_database
from core.escalations import Escalations
from core.records import Records


def test_a_thread_is_escalated_once_until_the_claim_is_withdrawn(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    records = Records(db)
    in_thread = record_answer(records, platform="slack", channel="C1", thread="1.1")
    follow_up = record_answer(records, platform="slack", channel="C1", thread="1.1")
    outside = record_answer(records, platform="slack", channel="C1")  # a slash-command answer: no thread
    records.link_message(outside, "slack", "C1", "2.2")
    store = Escalations(db)
    assert store.unasked(follow_up) == ("C1", "1.1") and store.unasked(outside) == ("C1", "2.2")

    first = store.claim(in_thread, "alice", None, None)
    assert first is not None and (first.channel, first.thread) == ("C1", "1.1")
    assert store.unasked(follow_up) is None and store.unasked(outside) == ("C1", "2.2")  # asked in 1.1 only
    assert store.claim(in_thread, "alice", None, None) is None  # pressed again
    assert store.claim(follow_up, "bob", None, None) is None  # another answer in the same thread
    shown = store.claim(outside, "alice", "C1", "9.9")
    assert shown is not None and shown.thread == "2.2"  # the message showing it starts its thread
    assert store.claim(10**6, "alice", "C1", "3.3") is None  # no such answer
    assert store.unasked(outside) is None and store.unasked(10**6) is None

    store.withdraw(first.id)  # posting failed: the user may press again
    again = store.claim(in_thread, "alice", None, None)
    assert again is not None
    assert store.take(again.id, "console") and not store.take(again.id, "someone else")
    [taken] = store.listed("taken")
    assert (taken.id, taken.taken_by, taken.question) == (again.id, "console", "How do refunds work?")
    store.withdraw(again.id)  # only an open claim can be withdrawn
    assert store.close(again.id) and not store.close(again.id)
    assert [e.id for e in store.listed("closed")] == [again.id]
    assert [e.id for e in store.listed("open")] == [shown.id]
    db.close()
