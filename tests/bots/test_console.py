"""The console chat stores answers and 👍/👎 through the conversation service."""

import io

import pytest
from rich.console import Console
from sqlalchemy import select

from bots.console import run_chat
from bots.user_input import parse_vote
from core.settings import load_settings
from core.tables import AnswerRecord, FeedbackRecord
from supportloop.app import SupportLoop

pytestmark = pytest.mark.slow


def scripted(lines):
    replies = iter(lines)

    def read(prompt: str) -> str:
        try:
            return next(replies)
        except StopIteration:
            raise EOFError from None

    return read


def test_a_console_chat_records_answers_and_votes_in_one_thread(fresh_dir):
    output = io.StringIO()
    with SupportLoop(load_settings()) as loop:
        votes = run_chat(
            loop.conversations,
            Console(file=output, width=200),
            read=scripted(
                [
                    "How do I get a refund on an annual plan?",
                    "+",
                    "and how long does it take?",
                    "",
                    "How long do deleted files stay recoverable?",
                    "-",
                    "it ignored my plan",
                    "",
                    "What is a good recipe for banana bread?",
                    "",
                    "quit",
                ]
            ),
            user_id="tester",
        )
        with loop.db.session() as session:
            answers = session.scalars(select(AnswerRecord).order_by(AnswerRecord.id)).all()
            feedback = session.scalars(select(FeedbackRecord).order_by(FeedbackRecord.id)).all()
    text = output.getvalue()
    assert votes == 2
    assert "/billing/refunds.html" in text and "answering" in text
    follow_up = "and how long does it take? (How do I get a refund on an annual plan?)"  # one thread
    assert f"(answered as: {follow_up})" in text
    assert [a.platform for a in answers] == ["console"] * 4
    assert len({a.thread for a in answers}) == 1
    assert answers[3].declined and not answers[0].declined
    assert answers[0].user_hash and "tester" not in answers[0].user_hash
    assert [(f.answer_id, f.vote, f.reason) for f in feedback] == [
        (answers[0].id, 1, None),
        (answers[2].id, -1, "it ignored my plan"),
    ]


@pytest.mark.parametrize(
    ("text", "vote"), [("+", 1), ("👍", 1), (" yes ", 1), ("-", -1), ("👎", -1), ("meh", None)]
)
def test_vote_spellings(text, vote):
    assert parse_vote(text) == vote
