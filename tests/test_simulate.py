"""Simulated users ask through the conversation service and vote through the same storage, marked."""

from collections import Counter

import pytest
from helpers import run_cli
from sqlalchemy import select

from bots.replies import Reply, Source
from core.settings import load_settings
from core.tables import AnswerRecord, FeedbackRecord
from rag.evaluation import EvalQuestion
from supportloop.app import SupportLoop
from supportloop.demo_site import load_questions
from supportloop.simulate import Preference, judge, simulate
from training.datasets import build_dataset

REFUNDS = EvalQuestion("q1", "How do refunds work?", "in_scope", ["/billing/refunds.html"], ["30 days"], [])
OFF_TOPIC = EvalQuestion("q2", "Banana bread?", "out_of_scope", [], [], [])
PAGE = Source("Refunds", "http://127.0.0.1:1/billing/refunds.html")


def test_the_documented_preference():
    strict = Preference(noise=0)
    assert judge(REFUNDS, Reply("Refunds within 30 days.", "answer", 1, (PAGE,)), strict) == 1
    assert judge(REFUNDS, Reply("Refunds exist.", "answer", 1, (PAGE,)), strict) == -1  # no expected fact
    assert judge(REFUNDS, Reply("Within 30 days.", "answer", 1, ()), strict) == -1  # no answering page
    assert judge(REFUNDS, Reply("Within 30 days. " + "x" * 600, "answer", 1, (PAGE,)), strict) == -1
    unsupported = Reply("Refunds within 30 days, by fax.", "answer", 1, (PAGE,), grounding=0.4)
    assert judge(REFUNDS, unsupported, strict) == -1  # the cited page doesn't say most of it
    assert judge(REFUNDS, Reply("Not covered.", "declined", 1), strict) == -1
    assert judge(OFF_TOPIC, Reply("Not covered.", "declined", 1), strict) == 1
    assert judge(OFF_TOPIC, Reply("Mix flour and bananas.", "answer", 1), strict) == -1


@pytest.mark.slow
def test_simulated_votes_are_stored_marked_and_kept_apart(fresh_dir):
    with SupportLoop(load_settings()) as loop:
        report = simulate(loop.conversations, load_questions(), 30, voters_per_answer=3, drafts=1, seed=1)
        assert report.votes == 30 and report.answers == 10
        assert report.upvotes and report.downvotes
        with loop.db.session() as session:
            feedback = session.scalars(select(FeedbackRecord)).all()
            answers = session.scalars(select(AnswerRecord).order_by(AnswerRecord.id)).all()
        assert len(feedback) == 30 and all(f.simulated for f in feedback)
        assert {a.platform for a in answers} == {"simulated"}
        # each question is answered as served (an extract or a decline, in the default mode) and as a draft
        assert sorted(Counter(a.question for a in answers).values()) == [2] * 5
        served = {q: loop.answerer.answer(q).text for q in {a.question for a in answers}}
        assert all(any(a.answer == text for a in answers if a.question == q) for q, text in served.items())
        drafts = [a for a in answers if a.answer != served[a.question]]
        assert 3 <= len(drafts) <= 5  # a declined question's draft is the decline too
        assert build_dataset(loop.db, source="simulated", min_votes=30).votes == 30
        with pytest.raises(Exception, match="real votes; there are 0"):
            build_dataset(loop.db, source="real", min_votes=30)


@pytest.mark.slow
def test_simulate_command(fresh_dir):
    result = run_cli("simulate", "--votes", "6", "--voters", "2")
    assert result.returncode == 0, result.stderr
    assert "Cast 6 simulated votes" in result.stdout and "on 3 answers" in result.stdout
