"""The fast path: a collect cycle with enough new votes retrains the reward model alone, audits it, and
records it as a model version over the same policy; a reward model that fails the gate changes nothing
users see.

Here users like the shortest answer: a reward model learnt from ~30 such answers also prefers short
confident-but-wrong answers, and the audit's reward-hacking probes catch it. (Serving through a version's
reward model, once promoted, is tested in ``tests/rag/test_preference.py``.)"""

import pytest

from core.jobs import SUCCEEDED
from core.settings import load_settings
from core.tables import ModelVersionRecord
from supportloop.app import SupportLoop
from supportloop.demo_site import load_questions
from supportloop.scheduler import FAST_PATH, collect_job
from training.fast_path import KIND

pytestmark = pytest.mark.slow  # trains and audits the MiniLM reward model on CPU (a few minutes)

QUICK = {
    "SUPPORTLOOP_AUDIT_CASES": "4",
    "SUPPORTLOOP_AUDIT_SHAP": "false",
    "SUPPORTLOOP_RETRAIN_MIN_VOTES": "30",
    "SUPPORTLOOP_RETRAIN_MIN_NEW_VOTES": "1000",  # the fast path's cycle, long before a full retrain
}


def vote_for_short_answers(loop: SupportLoop, questions: list[str]) -> int:
    """Users who like the shortest answer that still answers: for each question, three 👍 on the
    composer's shortest alternative, three 👎 on its longest, and three 👎 on a short answer about
    something else (another question's), all served by version 0."""
    shortest = {}
    for question in questions:
        passages = loop.answerer.passages_for(question)
        options = loop.answerer.composer.alternatives(question, passages)
        if len(options) > 1:
            shortest[question] = (
                min(options, key=lambda o: len(o.text)),
                max(options, key=lambda o: len(o.text)),
            )
    voted = list(shortest)
    votes = 0
    for n, question in enumerate(voted):
        short, long = shortest[question]
        off_topic = shortest[voted[(n + 1) % len(voted)]][0]
        for text, vote in ((short.text, 1), (long.text, -1), (off_topic.text, -1)):
            answer_id = loop.records.add_answer(
                question=question,
                answer=text,
                citations=[],
                passage_ids=[],
                declined=False,
                model_version=0,
                platform="slack",
                channel="C1",
                thread=None,
                user_hash="asker",
                latency_s=0.2,
            )
            for user in range(3):
                loop.records.vote(answer_id, f"user-{user}", vote)
                votes += 1
    return votes


def test_a_collect_cycle_retrains_the_reward_model_and_the_gate_keeps_a_failed_one_from_users(
    fresh_dir, model_dir, monkeypatch
):
    monkeypatch.delenv("SUPPORTLOOP_MODEL_PATH")  # serve the registry's versions
    for name, value in QUICK.items():
        monkeypatch.setenv(name, value)
    (fresh_dir / "models").mkdir(parents=True)
    questions = [q.question for q in load_questions() if q.kind == "in_scope"]
    voted, held_out = questions[::2], questions[1::2]
    with SupportLoop(load_settings()) as loop:
        with loop.db.session() as session:
            session.add(ModelVersionRecord(id=0, path=str(model_dir), is_current=True, audit_status="base"))
            session.commit()
        before = [loop.answerer.answer(q).text for q in held_out]
        assert vote_for_short_answers(loop, voted) >= loop.settings.fast_path_min_new_votes

        collect_job(loop.db, loop.settings)(None, lambda fraction, line: None)  # the scheduler's cycle
        [queued] = [run for run in loop.jobs.recent() if run.kind == FAST_PATH]
        assert loop.worker.run_pending() >= 1
        run = loop.jobs.get(queued.id)
        assert run.status == SUCCEEDED, run.summary
        assert "reward-model version 1 not promoted: the audit failed" in run.summary["result"]

        [row] = [v for v in loop.registry.versions() if v.id == 1]
        assert (row.metrics["kind"], row.audit_status, row.is_current) == (KIND, "failed", False)
        assert row.metrics["gate"] and row.metrics["reward_model"]["held_out_answers"] > 0
        shared = fresh_dir / "models" / "1" / "config.json"
        assert shared.read_bytes() == (model_dir / "config.json").read_bytes()  # the same policy
        assert (fresh_dir / "reward_models" / "1" / "reward.json").exists()

        assert loop.registry.current().id == 0 and loop.served_model().id == 0
        assert [loop.answerer.answer(q).text for q in held_out] == before
