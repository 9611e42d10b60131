"""The reward model learns from votes, with either objective, and survives a save and a load."""

import numpy as np
import pytest

from core.settings import load_settings
from supportloop.app import SupportLoop
from supportloop.demo_site import load_questions
from supportloop.simulate import simulate
from training.datasets import FeedbackDataset, LabelledAnswer, PreferencePair, build_dataset
from training.reward_model import (
    RewardModel,
    RewardTrainingConfig,
    reward_text,
    train_reward_model,
    without_repeats,
)

pytestmark = pytest.mark.slow  # trains MiniLM on CPU (seconds)

TOPICS = [
    "refunds",
    "invoices",
    "exports",
    "passwords",
    "invites",
    "sync",
    "billing",
    "themes",
    "tokens",
    "backups",
]
FAST = RewardTrainingConfig(epochs=3, max_length=64, batch_size=8, learning_rate=1e-4)


def labelled(n: int, topic: str, good: bool) -> LabelledAnswer:
    text = (
        f"You can manage {topic} under Settings, as the {topic} help page explains."
        if good
        else "Honestly I am not sure, maybe try turning it off and on, or ask someone, who knows really."
    )
    return LabelledAnswer(n, f"How do I manage {topic}?", text, [], 3 if good else 0, 0 if good else 3, [])


def dataset() -> FeedbackDataset:
    """Votes a surface feature explains (on-topic and specific vs vague): learnable from the text."""
    answers = [labelled(2 * n + good, t, bool(good)) for n, t in enumerate(TOPICS) for good in (0, 1)]
    train, test = answers[:14], answers[14:]
    pairs = [PreferencePair(a.question, b, a) for a, b in zip(answers[::2], answers[1::2], strict=True)]
    return FeedbackDataset(train, test, pairs[:7], pairs[7:], votes=60, source="simulated")


@pytest.mark.parametrize("objective", ["pointwise", "pairwise"])
def test_each_objective_learns_and_reports_held_out_accuracy(objective, tmp_path):
    data = dataset()
    model = train_reward_model(data, objective, FAST)
    assert model.metrics["accuracy"] >= 0.75
    assert model.metrics["pair_accuracy"] >= 0.75
    model.save(tmp_path / "rm")
    again = RewardModel.load(tmp_path / "rm")
    questions, answers = [a.question for a in data.test], [a.answer for a in data.test]
    assert np.allclose(
        again.probability(questions, answers), model.probability(questions, answers), atol=1e-5
    )
    assert again.objective == objective and again.metrics == model.metrics


def test_repeated_citations_and_sentences_are_read_once():
    cited = "Refunds take 30 days.\n— Refunds (https://help.example.com/refunds)"
    assert without_repeats(cited + " (https://help.example.com/refunds)" * 3) == cited
    assert (
        without_repeats("Refunds take 30 days. Ask us. refunds take 30 days.")
        == "Refunds take 30 days. Ask us."
    )
    different = "Refunds take 30 days (annual plans) (monthly plans). Refunds take 14 days."
    assert without_repeats(different) == different
    model = RewardModel.fresh("pointwise")
    question = "How long do refunds take?"
    answers = [cited, cited + " (https://help.example.com/refunds)" * 4, cited + " (Source: /refunds)"]
    once, repeated, other = model.score([question] * 3, answers)
    assert model.text(question, answers[1]) == reward_text(question, cited)
    assert repeated == pytest.approx(once, abs=1e-6) and other != pytest.approx(once, abs=1e-6)


def test_a_damaged_folder_is_a_clear_error(tmp_path):
    (tmp_path / "rm").mkdir()
    with pytest.raises(Exception, match="cannot be loaded"):
        RewardModel.load(tmp_path / "rm")


def test_learns_what_simulated_users_prefer(fresh_dir, tiny_policy, monkeypatch):
    """The whole path: simulated users vote on served answers and on the policy's drafts; the reward
    model trained on those votes ranks a liked answer above a disliked one for questions it has not
    seen, and predicts most majority votes (whether a served extract holds the expected fact is the
    hard part: about half the served answers are wrong there)."""
    monkeypatch.setenv("SUPPORTLOOP_MODEL_PATH", str(tiny_policy))
    monkeypatch.setenv("SUPPORTLOOP_TEMPERATURE", "0.8")
    with SupportLoop(load_settings()) as loop:
        simulate(loop.conversations, load_questions(), 360, seed=3)
        data = build_dataset(loop.db, source="simulated")
    assert len(data.test) >= 20 and {a.label for a in data.test} == {0, 1}
    quick = RewardTrainingConfig(epochs=4, learning_rate=1e-4, max_length=160)  # half the default's time
    model = train_reward_model(data, "pointwise", quick)
    assert model.metrics["pair_accuracy"] >= 0.8
    # Label accuracy measured 0.67-0.75 here, whatever the training (epochs, learning rate, frozen
    # layers, question and answer as a sentence pair): the tiny policy's drafts are noise, all 👎 and
    # easy, and the rest are served extracts, about half of them 👍 depending on whether retrieval
    # found the page with the expected facts, which ~30 training extracts cannot teach. With SmolLM2's
    # drafts (bench/learning_loop.py) it measured 0.86-1.0. Reaching 0.8 here is open work.
    assert model.metrics["accuracy"] >= 0.6
