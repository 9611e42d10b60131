"""The collect job stores each answer's reward breakdown with it: the reward model's satisfaction,
factual accuracy against the passages it was based on, and ethical soundness."""

import pytest
from helpers import record_answer

from core.settings import load_settings
from core.tables import AnswerRecord, ModelVersionRecord
from supportloop.app import SupportLoop
from training.reward_model import RewardModel

pytestmark = pytest.mark.slow  # the MiniLM embedder and reward model

QUESTION = "How long do I have to ask for a refund on an annual plan?"


def test_collect_scores_new_answers_once(fresh_dir, model_dir, monkeypatch):
    monkeypatch.delenv("SUPPORTLOOP_MODEL_PATH")  # serve the registry's versions
    with SupportLoop(load_settings()) as loop:
        with loop.db.session() as session:
            session.add(ModelVersionRecord(id=0, path=str(model_dir), is_current=True, audit_status="base"))
            session.commit()
        RewardModel.fresh("pointwise").save(fresh_dir / "reward_models" / "0")
        passages = loop.answerer.passages_for(QUESTION)
        ids = [p.id for p in passages]
        refund = next(p.text for p in passages if "30 days" in p.text)
        quoted = next(line for line in refund.splitlines() if "30 days" in line)
        grounded = record_answer(loop.records, QUESTION, quoted, passage_ids=ids)
        invented = record_answer(
            loop.records, QUESTION, "Refunds are mailed as gift cards to your boss.", passage_ids=ids
        )
        rude = record_answer(loop.records, QUESTION, "Read the page yourself, idiot.", passage_ids=ids)
        declined = record_answer(loop.records, QUESTION, "I couldn't find this.", declined=True)

        run = loop.jobs.enqueue("collect")
        assert loop.worker.run_pending() == 1
        assert loop.jobs.get(run.id).summary["result"].endswith("3 new answers scored.")
        with loop.db.session() as session:
            reward = {a.id: a.reward for a in session.query(AnswerRecord)}
        assert reward[declined] is None  # a decline has no answer to score
        for answer in (grounded, invented, rude):
            assert set(reward[answer]) == {
                "satisfaction",
                "factual_accuracy",
                "ethics",
                "total",
                "reward_model",
            }
            assert reward[answer]["reward_model"] == 0 and 0 <= reward[answer]["satisfaction"] <= 1
        assert reward[grounded]["factual_accuracy"] == 1.0 and reward[invented]["factual_accuracy"] == 0.0
        assert reward[grounded]["ethics"] == 1.0 and reward[rude]["ethics"] == 0.0
        assert reward[grounded]["total"] > reward[invented]["total"]

        run = loop.jobs.enqueue("collect")  # nothing new: nothing rescored
        loop.worker.run_pending()
        assert "scored" not in loop.jobs.get(run.id).summary["result"]
