"""Votes change what users see: the served version's reward model picks among the composer's answers.

Users here like the shortest answer that still answers. A reward model learns that from their votes on
some questions; once the version it was trained with is current, answers to *other* questions change
(shorter, served as "preferred"), and a rollback to the base version brings the heuristic's answers back.
"""

import json
import statistics

import pytest

from core.settings import load_settings
from core.tables import ModelVersionRecord
from supportloop.app import SupportLoop
from supportloop.demo_site import load_questions
from tests.helpers import run_cli
from training.datasets import FeedbackDataset, LabelledAnswer
from training.reward_model import train_reward_model

pytestmark = pytest.mark.slow  # composes every demo question's alternatives


def votes_for_short_answers(loop: SupportLoop, questions: list[str]) -> list[LabelledAnswer]:
    """Each question's shortest alternative voted 👍 by 3 users, its longest 👎 by 3."""
    rows: list[LabelledAnswer] = []
    for question in questions:
        options = loop.answerer.composer.alternatives(question, loop.answerer.passages_for(question))
        if len(options) < 2:
            continue
        short, long = min(options, key=lambda o: len(o.text)), max(options, key=lambda o: len(o.text))
        rows.append(LabelledAnswer(len(rows), question, short.text, [], 3, 0, []))
        rows.append(LabelledAnswer(len(rows), question, long.text, [], 0, 3, ["too long"]))
    return rows


def served(loop: SupportLoop, questions: list[str]) -> list[tuple[str, str]]:
    return [(a.text, a.mode) for a in map(loop.answerer.answer, questions)]


def test_a_version_s_reward_model_changes_the_served_answers_and_a_rollback_restores_them(
    fresh_dir, model_dir, monkeypatch
):
    monkeypatch.delenv("SUPPORTLOOP_MODEL_PATH")  # serve the registry's versions
    (fresh_dir / "models").mkdir(parents=True)  # both versions are the shared model folder
    questions = [q.question for q in load_questions() if q.kind == "in_scope"]
    train, held_out = questions[::2], questions[1::2]
    with SupportLoop(load_settings()) as loop:
        with loop.db.session() as session:
            session.add(ModelVersionRecord(id=0, path=str(model_dir), is_current=True, audit_status="base"))
            session.add(
                ModelVersionRecord(id=1, path=str(model_dir), is_current=False, audit_status="passed")
            )
            session.commit()
        rows = votes_for_short_answers(loop, train)
        split = len(rows) * 4 // 5 // 2 * 2  # whole questions (two rows each) on either side
        data = FeedbackDataset(rows[:split], rows[split:], [], [], votes=6 * len(rows) // 2, source="import")
        reward_model = train_reward_model(data, "features")  # the default objective
        assert reward_model.metrics["accuracy"] >= 0.75  # it learnt the taste on questions it didn't see
        reward_model.save(fresh_dir / "reward_models" / "1")

        before = served(loop, held_out)  # version 0 has no reward model: the heuristic's answers
        assert {mode for _, mode in before} <= {"extractive", "decline"}

        loop.use_model(loop.registry.activate(1))
        after = served(loop, held_out)
        changed = [(b, a) for b, a in zip(before, after, strict=True) if b[0] != a[0]]
        assert len(changed) >= len(held_out) // 4, f"only {len(changed)} of {len(held_out)} answers changed"
        assert all(mode == "preferred" for _, (_, mode) in changed)
        assert statistics.median(len(a) for _, (a, _) in changed) < statistics.median(
            len(b) for (b, _), _ in changed
        )

        loop.use_model(loop.registry.activate(0))  # the rollback
        assert served(loop, held_out) == before

        loop.use_model(loop.registry.activate(1))
    question = next(q for q, (_, mode) in zip(held_out, after, strict=True) if mode == "preferred")
    result = run_cli("ask", "--json", question)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert (shown["mode"], shown["model_version"]) == ("preferred", 1)
