"""What the console and the knowledge-gap report read of a thread's follow-up: the console shows it as
asked with what it was answered as; the gap report groups the standalone question."""

from helpers import record_answer

from core.database import open_database
from core.records import Records
from supportloop.history import ConversationFilter, conversations, unhelped

CONDENSED = "and on the app? (How do I turn off notifications?)"


def test_a_follow_up_shows_as_asked_and_counts_as_a_gap_by_its_standalone_question(database_url):
    db = open_database(database_url)
    records = Records(db)
    record_answer(records, "and on the app?", "I can't find that.", declined=True, condensed=CONDENSED)
    record_answer(records, "Is there a dark mode?", "I can't find that.", declined=True)
    shown = conversations(db, ConversationFilter())
    assert [(c.question, c.condensed) for c in shown] == [
        ("Is there a dark mode?", None),
        ("and on the app?", CONDENSED),
    ]
    assert [u.question for u in unhelped(db)] == ["Is there a dark mode?", CONDENSED]
    db.close()
