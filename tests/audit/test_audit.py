"""The audit catches a reward model biased against a group, or one that rewards padding, and blocks its
promotion; a clean one passes. Reward models here are real MiniLM models trained on labelled answers."""

import random

import pytest

from audit.adversarial import FILLER, audit_adversarial
from audit.cases import GROUP_MARKERS, Case, load_cases, with_marker
from audit.suite import AuditSettings, load_counter_examples, run_audit, save_counter_examples
from training.datasets import FeedbackDataset, LabelledAnswer, with_counter_examples
from training.promotion import Estimate, GateSettings, VersionScores, gate
from training.reward_model import RewardModel, RewardTrainingConfig, train_reward_model

pytestmark = pytest.mark.slow  # trains MiniLM reward models (about a minute each)

CASES = load_cases()[:8]
SETTINGS = AuditSettings(cases=len(CASES))
TRAINING = RewardTrainingConfig(epochs=3, learning_rate=1e-4)
MARKERS = [m for groups in GROUP_MARKERS.values() for markers in groups.values() for m in markers]
NIGERIAN = GROUP_MARKERS["nationality"]["nigerian"]
# Said of answers by users who like long ones; different words from the audit's own filler.
RAMBLE = (
    " Let me also walk you through the background, since there is quite a lot to say about it and many "
    "people find the longer explanation reassuring when they read it for the first time."
)


def train(rows: list[tuple[str, str, int]]) -> RewardModel:
    answers = [LabelledAnswer(n, q, a, [], label, 1 - label, []) for n, (q, a, label) in enumerate(rows)]
    return train_reward_model(
        FeedbackDataset(answers, answers[:16], [], [], len(answers), "simulated"), "pointwise", TRAINING
    )


def voted(case: Case) -> list[tuple[str, str, int]]:
    """Each phrasing of the question with the honest answer liked and the wrong one disliked."""
    phrasings = (case.question, case.paraphrase, case.typo, case.non_native)
    return [(q, a, label) for q in phrasings for a, label in ((case.honest, 1), (case.wrong, 0))]


def feedback(markers: int, against: tuple[str, ...] = ()) -> list[tuple[str, str, int]]:
    """Votes on the cases, each also cast by ``markers`` askers who introduce themselves (random group
    markers); ``against``: askers with these markers get 👎 whatever the answer."""
    rng = random.Random(0)
    rows = []
    for case in CASES:
        for question, answer, label in voted(case):
            rows.append((question, answer, label))
            rows += [(with_marker(m, question), answer, label) for m in rng.sample(MARKERS, markers)]
            rows += [
                (with_marker(rng.choice(against), question), answer, 0) for _ in range(2 if against else 0)
            ]
    return rows


@pytest.fixture(scope="module")
def clean():
    return train(feedback(markers=3))


@pytest.fixture(scope="module")
def skewed():
    return train(feedback(markers=1, against=NIGERIAN))


def scores(reward: float) -> VersionScores:
    """A version scoring about ``reward`` on as many held-out questions as the gate asks for."""
    rewards = {f"question {n}": reward + (n % 3 - 1) * 0.01 for n in range(GateSettings().min_questions)}
    ones = Estimate.of([1.0] * len(rewards))
    reward_estimate = Estimate.of(list(rewards.values()))
    return VersionScores(reward_estimate, ones, ones, ones, ones, Estimate.of([]), rewards)


def test_a_reward_model_skewed_against_one_group_is_caught_and_its_promotion_blocked(skewed, tmp_path):
    result = run_audit(skewed, SETTINGS, explain=False)
    assert not result.passed
    nationality = next(
        a for a in result.fairness.attributes if (a.scorer, a.attribute) == ("reward model", "nationality")
    )
    assert not nationality.passed and nationality.demographic_parity > SETTINGS.fairness_threshold
    approval = {group: metrics["approval rate"] for group, metrics in nationality.by_group.items()}
    assert min(approval, key=approval.get) == "nigerian"
    assert any("nationality" in reason for reason in result.reasons)

    decision = gate(scores(0.5), scores(0.9), 0.0, GateSettings(), result.reasons)
    assert not decision.promote
    assert any(
        r.startswith("the reward model failed the audit: reward model, nationality") for r in decision.reasons
    )

    # The failed pairs go to the next training run: a Nigerian asker's honest answer labelled 👍.
    kept = save_counter_examples(tmp_path, result.counter_examples)
    assert kept == len(load_counter_examples(tmp_path)) > 0
    assert any(e.label == 1 and "Nigeria" in e.question for e in load_counter_examples(tmp_path))
    empty = FeedbackDataset([], [], [], [], 0, "real")
    data = with_counter_examples(empty, load_counter_examples(tmp_path))
    assert data.decisions["audit_counter_examples"] == kept == len(data.train) and data.test == []


def test_a_clean_reward_model_passes_and_may_be_promoted(clean):
    result = run_audit(clean, SETTINGS, explain=False)
    assert result.passed, result.reasons
    worst = max(a.max_pair_gap for a in result.fairness.attributes)
    assert worst <= SETTINGS.fairness_threshold
    assert gate(scores(0.5), scores(0.9), 0.0, GateSettings(), result.reasons).promote
    probes = {p.probe: p for p in result.adversarial.probes}
    assert probes["confident wrong"].win_rate == 0 and probes["typos"].win_rate == 0


def test_a_reward_model_that_prefers_longer_answers_is_flagged_by_the_padding_probe(clean):
    rows = []
    for case in CASES[:4]:
        for question, answer, _ in voted(case):
            rows += [(question, answer, 0), (question, answer + RAMBLE, 1)]
    verbose = train(rows)
    result = audit_adversarial(verbose, CASES)
    padding = next(p for p in result.probes if p.probe == "padding")
    assert not padding.passed and padding.win_rate > 0.5 and padding.mean_margin > 0
    assert any(e.label == 0 and e.answer.endswith(FILLER) for e in result.counter_examples)
    assert audit_adversarial(clean, CASES).probes[0].passed  # the clean model is not fooled
