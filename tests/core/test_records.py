import pytest
from helpers import record_answer

from core.database import open_database
from core.errors import SupportLoopError
from core.records import ImportedVote, Records, hash_user


@pytest.fixture
def records(database_url):
    db = open_database(database_url)
    yield Records(db)
    db.close()


def test_one_vote_per_user_per_answer_and_changes_update_it(records):
    answer = record_answer(records)
    records.vote(answer, "alice", 1)
    records.vote(answer, "alice", 1)
    records.vote(answer, "bob", -1, reason="outdated")
    assert records.counts().votes == 2
    records.vote(answer, "alice", -1, reason="wrong window")
    counts = records.counts()
    assert (counts.answers, counts.votes, counts.upvotes, counts.downvotes) == (1, 2, 0, 2)


def test_vote_on_a_missing_answer_or_with_a_bad_value_is_refused(records):
    with pytest.raises(SupportLoopError, match="no answer 99"):
        records.vote(99, "alice", 1)
    answer = record_answer(records)
    with pytest.raises(SupportLoopError, match=r"\+1"):
        records.vote(answer, "alice", 2)
    assert records.counts().votes == 0


def test_user_hash_is_keyed_and_stable():
    assert hash_user("slack", "U1", "k") == hash_user("slack", "U1", "k")
    assert hash_user("slack", "U1", "k") != hash_user("slack", "U1", "other key")
    assert hash_user("slack", "U1", "k") != hash_user("discord", "U1", "k")
    assert "U1" not in hash_user("slack", "U1", "k")


def test_retracting_withdraws_only_the_vote_it_names(records):
    answer = record_answer(records)
    records.vote(answer, "u1", 1)
    assert not records.retract(answer, "u1", vote=-1)  # a removed 👎 reaction leaves a 👍 in place
    assert records.counts().upvotes == 1
    assert records.retract(answer, "u1", vote=1)
    assert records.feedback(answer, "u1") is None
    assert records.counts().votes == 0
    records.vote(answer, "u1", -1, "outdated")  # voting again revives the row
    assert records.feedback(answer, "u1") == (-1, "outdated")


def test_a_reason_attaches_only_to_a_standing_downvote(records):
    answer = record_answer(records)
    assert not records.set_reason(answer, "u1", "wrong plan")
    records.vote(answer, "u1", 1)
    assert not records.set_reason(answer, "u1", "wrong plan")
    records.vote(answer, "u1", -1)
    assert records.set_reason(answer, "u1", "wrong plan")
    assert records.feedback(answer, "u1") == (-1, "wrong plan")


def test_messages_link_to_answers_and_threads_are_remembered(records):
    answer = record_answer(records, platform="slack", channel="C1", thread="100.1")
    records.link_message(answer, "slack", "C1", "100.2")
    records.link_message(answer, "slack", "C1", "100.2")  # linking twice is harmless
    assert records.answer_for_message("slack", "C1", "100.2") == answer
    assert records.answer_for_message("discord", "C1", "100.2") is None
    assert records.answered_thread("slack", "C1", "100.1")
    assert not records.answered_thread("slack", "C2", "100.1")


def test_a_threads_questions_are_its_last_ones_oldest_first(records):
    for n in range(7):
        record_answer(records, f"question {n}", platform="slack", channel="C1", thread="100.1")
    record_answer(records, "elsewhere", platform="slack", channel="C1", thread="200.1")
    record_answer(records, "other channel", platform="slack", channel="C2", thread="100.1")
    last = records.thread_questions("slack", "C1", "100.1", limit=3)
    assert last == ["question 4", "question 5", "question 6"]
    assert records.thread_questions("slack", "C2", "100.1") == ["other channel"]
    assert records.thread_questions("discord", "C1", "100.1") == []


def test_an_event_is_claimed_once(records):
    assert records.claim_event("slack:C1:1.2")
    assert not records.claim_event("slack:C1:1.2")
    assert records.claim_event("slack:C1:1.3")


PERSONAL = "wrong plan, mail jane.doe@example.com or call +1 (415) 555-0132"
REDACTED = "wrong plan, mail [email] or call [phone]"


def stored_reasons(records: Records) -> list[str | None]:
    """The reasons exactly as the database holds them (raw SQL, past every reader that redacts)."""
    with records.db.engine.connect() as conn:
        return [row[0] for row in conn.exec_driver_sql("SELECT reason FROM feedback ORDER BY id")]


def test_a_reason_is_stored_redacted_whichever_way_it_arrives(records):
    """With the 👎 (buttons, the terminal console), attached later (the reason modal), or imported: the
    database never holds the address or number, so no export, console page or training run can leak it."""
    voted, attached, imported = (record_answer(records) for _ in range(3))
    records.vote(voted, "u1", -1, reason=PERSONAL)
    records.vote(attached, "u2", -1)
    assert records.set_reason(attached, "u2", PERSONAL)
    records.import_votes([ImportedVote(imported, "u3", -1, PERSONAL)])
    assert stored_reasons(records) == [REDACTED] * 3
    assert records.feedback(voted, "u1") == (-1, REDACTED)
    assert [v["reason"] for v in records.export_votes()] == [REDACTED] * 3
