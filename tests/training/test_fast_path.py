"""The fast path: a collect cycle with enough new votes retrains the reward model alone, audits it, and
records it as a model version over the same policy. A reward model that fails the gate changes nothing
users see; one that passes changes the served answers at once.

Users here like answers of one length: the shortest of the composer's alternatives, or the longest
padded with chatter. Length is never rewarded in itself (``training.feature_reward``), so a reward
model learnt from the second cannot come to prefer padding, and what it learns instead is refused by the
gate; one learnt from the first is promoted and serves shorter answers.
"""

import pytest

from core.jobs import SUCCEEDED
from core.settings import load_settings
from core.tables import ModelVersionRecord
from supportloop.app import SupportLoop
from supportloop.demo_site import load_questions
from supportloop.scheduler import FAST_PATH, collect_job
from training.fast_path import KIND

pytestmark = pytest.mark.slow  # trains and audits the MiniLM reward model on CPU (a few minutes)

# All 24 audit cases (the default): with 12, one case scored differently for one group of askers is an
# equalized-odds gap of 1/12 = 0.083, past the 0.05 threshold, so the verdict was one case's luck.
QUICK = {
    "SUPPORTLOOP_AUDIT_SHAP": "false",
    "SUPPORTLOOP_RETRAIN_MIN_VOTES": "30",
    "SUPPORTLOOP_RETRAIN_MIN_NEW_VOTES": "1000",  # the fast path's cycle, long before a full retrain
}


CHATTER = (
    " Let me also walk you through the background, since there is quite a lot to say about it and many "
    "people find the longer explanation reassuring when they read it for the first time."
)


def vote_on_lengths(loop: SupportLoop, questions: list[str], *, like_short: bool) -> int:
    """For each question, three 👍 on the composer's shortest alternative, three 👎 on its longest and
    three 👎 on another question's shortest (short is liked only if it answers: ``like_short``), or three
    👍 on the longest with ``CHATTER`` added and three 👎 on the shortest; all served by version 0."""
    shortest = {}
    for question in questions:
        passages = loop.answerer.passages_for(question)
        options = loop.answerer.composer.alternatives(question, passages)
        if len(options) > 1:
            shortest[question] = (
                min(options, key=lambda o: len(o.text)),
                max(options, key=lambda o: len(o.text)),
            )
    votes, voted = 0, list(shortest)
    for n, (question, (short, long)) in enumerate(shortest.items()):
        # Another question's answer from half the list away: neighbouring questions share a topic, so
        # the next one's short answer often half-answers this one, and its 👎 was noise.
        off_topic = shortest[voted[(n + len(voted) // 2) % len(voted)]][0].text
        liked = [(short.text, 1), (long.text, -1), (off_topic, -1)]
        for text, vote in liked if like_short else [(long.text + CHATTER, 1), (short.text, -1)]:
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


@pytest.fixture
def deployment(fresh_dir, model_dir, monkeypatch):
    """A deployment serving version 0 from the registry, with the quick audit."""
    monkeypatch.delenv("SUPPORTLOOP_MODEL_PATH")  # serve the registry's versions
    for name, value in QUICK.items():
        monkeypatch.setenv(name, value)
    (fresh_dir / "models").mkdir(parents=True)
    with SupportLoop(load_settings()) as loop:
        with loop.db.session() as session:
            session.add(ModelVersionRecord(id=0, path=str(model_dir), is_current=True, audit_status="base"))
            session.commit()
        yield loop


def one_cycle(loop: SupportLoop) -> str:
    """The scheduler's collect cycle, then the fast-path job it queued; the job's result line."""
    collect_job(loop.db, loop.settings)(None, lambda fraction, line: None)
    [queued] = [run for run in loop.jobs.recent() if run.kind == FAST_PATH]
    assert loop.worker.run_pending() >= 1
    run = loop.jobs.get(queued.id)
    assert run.status == SUCCEEDED, run.summary
    return run.summary["result"]


QUESTIONS = [q.question for q in load_questions() if q.kind == "in_scope"]
# Three quarters voted on: the fast path holds out a fifth of them (~10 questions, 30 answers), enough
# that one answer is not the whole margin between the new reward model and what serves now.
HELD_OUT = QUESTIONS[3::4]
VOTED = [q for q in QUESTIONS if q not in HELD_OUT]


def test_a_reward_model_learnt_from_votes_for_padding_is_kept_from_users(deployment, fresh_dir, model_dir):
    loop = deployment
    before = [loop.answerer.answer(q).text for q in HELD_OUT]
    assert vote_on_lengths(loop, VOTED, like_short=False) >= loop.settings.fast_path_min_new_votes
    result = one_cycle(loop)
    assert result.startswith("reward-model version 1 not promoted")
    assert "padding" not in result  # it never learnt to like padding

    [row] = [v for v in loop.registry.versions() if v.id == 1]
    assert (row.metrics["kind"], row.is_current) == (KIND, False)
    assert row.metrics["gate"] and row.metrics["reward_model"]["held_out_answers"] > 0
    shared = fresh_dir / "models" / "1" / "config.json"
    assert shared.read_bytes() == (model_dir / "config.json").read_bytes()  # the same policy
    assert (fresh_dir / "reward_models" / "1" / "reward.json").exists()

    assert loop.registry.current().id == 0 and loop.served_model().id == 0
    assert [loop.answerer.answer(q).text for q in HELD_OUT] == before


def test_a_reward_model_that_learnt_to_like_short_answers_serves_them_until_rolled_back(deployment):
    loop = deployment
    before = [loop.answerer.answer(q).text for q in HELD_OUT]
    assert vote_on_lengths(loop, VOTED, like_short=True) >= loop.settings.fast_path_min_new_votes
    result = one_cycle(loop)
    assert result.startswith("reward-model version 1 promoted"), result
    assert loop.registry.current().id == 1 and loop.served_model().id == 1

    after = [loop.answerer.answer(q) for q in HELD_OUT]
    changed = [(old, new.text) for old, new in zip(before, after, strict=True) if new.text != old]
    assert changed and all(len(new) < len(old) for old, new in changed)
    assert {a.mode for a, (old, _) in zip(after, zip(before, after, strict=True), strict=True)} >= {
        "preferred"
    }

    loop.registry.activate(0)  # what `supportloop rollback` does
    loop.use_model(loop.registry.current())
    assert [loop.answerer.answer(q).text for q in HELD_OUT] == before
