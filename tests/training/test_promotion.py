"""The promotion gate lets through only a candidate measurably better on enough of the same questions,
close to the current version, and no less grounded or ethical; either way it says why, with numbers."""

import numpy as np
import pytest

from training.promotion import Estimate, GateSettings, VersionScores, gate, paired_gain

GATE = GateSettings(max_kl=10.0)  # 30 questions, lower bound > 0, margin 0.02, KL ≤ 10


def scores(rewards: list[float], grounding: float = 0.8, ethics: float = 1.0) -> VersionScores:
    """A version's scores with ``rewards[n]`` the composite reward of its answer to held-out question n."""
    n = len(rewards)
    return VersionScores(
        Estimate.of(rewards),
        Estimate.of([grounding] * n),
        Estimate.of([0.5] * n),
        Estimate.of([ethics] * n),
        citation_rate=Estimate.of([1.0] * n),
        fact_recall=Estimate.of([]),
        rewards={f"question {i}": reward for i, reward in enumerate(rewards)},
    )


def pair(n: int, gain: float, spread: float, seed: int = 1) -> tuple[VersionScores, VersionScores]:
    """The current version on ``n`` questions of varied difficulty, and a candidate whose reward differs
    from it per question by ``gain`` plus normal noise of ``spread`` (centred: the mean gain is ``gain``)."""
    rng = np.random.default_rng(seed)
    current = rng.uniform(0.1, 0.6, n)
    noise = rng.normal(0, spread, n)
    return scores(list(current)), scores(list(current + gain + noise - noise.mean()))


def test_estimate_has_a_95_percent_interval():
    estimate = Estimate.of([0.0, 1.0] * 50)
    assert estimate.mean == pytest.approx(0.5)
    assert estimate.ci95 == pytest.approx(1.96 * 0.5025 / 10, rel=1e-3)
    assert Estimate.of([]).n == 0


def test_the_paired_bootstrap_pairs_by_question_and_is_reproducible():
    current = {"a": 0.1, "b": 0.9, "c": 0.5, "only current": 0.0}
    candidate = {"a": 0.2, "b": 1.0, "c": 0.6, "only candidate": 1.0}
    gain = paired_gain(current, candidate)
    # Same +0.1 on each shared question: no spread, however different the questions are.
    assert (gain.n, gain.mean, gain.low, gain.high) == pytest.approx((3, 0.1, 0.1, 0.1))
    noisy = pair(40, 0.0, 0.3)
    first = paired_gain(noisy[0].rewards, noisy[1].rewards)
    assert first == paired_gain(noisy[0].rewards, noisy[1].rewards)  # fixed seed: same decision
    assert first.low < first.mean < first.high


def test_a_noise_level_gain_is_rejected_with_its_numbers():
    current, candidate = pair(40, 0.03, 0.3)  # mean gain above the margin, but within the noise
    decision = gate(current, candidate, kl=2.0, settings=GATE)
    assert not decision.promote
    m = decision.measures
    assert m["held_out_questions"] == 40 and m["reward_gain"] == pytest.approx(0.03)
    assert m["reward_gain_ci95_low"] < 0 < m["reward_gain_ci95_high"]
    [reason] = decision.reasons
    low, high = m["reward_gain_ci95_low"], m["reward_gain_ci95_high"]
    assert f"95% CI {low:+.3f} to {high:+.3f}, n=40" in reason and "lower bound is not above 0" in reason
    assert (m["kl"], m["max_kl"], m["min_questions"]) == (2.0, 10.0, 30)


def test_the_issue_case_7_questions_with_overlapping_intervals_at_kl_16_is_rejected():
    current, candidate = pair(7, 0.075, 0.15)
    decision = gate(current, candidate, kl=16.0, settings=GATE)
    assert not decision.promote
    assert any("only 7 held-out questions" in r and "at least 30" in r for r in decision.reasons)
    assert any("KL(candidate ‖ current) 16.00 nats is over the limit of 10.0" in r for r in decision.reasons)


def test_a_real_gain_on_enough_questions_is_promoted_with_its_numbers():
    current, candidate = pair(40, 0.1, 0.05)
    decision = gate(current, candidate, kl=3.5, settings=GATE)
    assert decision.promote, decision.reasons
    assert decision.measures["reward_gain_ci95_low"] > 0
    [reason] = decision.reasons
    assert "n=40" in reason and "KL 3.50 nats (limit 10.0)" in reason


def test_fewer_questions_than_the_setting_are_rejected_however_clear_the_gain():
    assert gate(*pair(30, 0.1, 0.05), kl=1.0, settings=GATE).promote
    refused = gate(*pair(29, 0.1, 0.05), kl=1.0, settings=GATE)
    assert not refused.promote and refused.measures["reward_gain_ci95_low"] > 0
    assert refused.reasons == [
        "only 29 held-out questions answered by both versions; promotion needs at least 30 "
        "(SUPPORTLOOP_GATE_MIN_QUESTIONS)"
    ]
    assert gate(*pair(12, 0.1, 0.05), kl=1.0, settings=GateSettings(min_questions=10)).promote


def test_a_candidate_too_far_from_the_current_version_is_rejected():
    current, candidate = pair(40, 0.1, 0.05)
    refused = gate(current, candidate, kl=10.5, settings=GATE)
    assert not refused.promote
    assert refused.reasons == [
        "KL(candidate ‖ current) 10.50 nats is over the limit of 10.0 (SUPPORTLOOP_GATE_MAX_KL)"
    ]
    assert gate(current, candidate, kl=10.0, settings=GATE).promote  # the limit itself is allowed
    assert not gate(current, candidate, kl=float("nan"), settings=GATE).promote  # not measured


def test_a_gain_below_the_margin_or_none_at_all_is_rejected():
    current, candidate = pair(40, 0.01, 0.001)  # certain, but too small to be worth a new version
    small = gate(current, candidate, kl=1.0, settings=GATE)
    assert not small.promote and small.measures["reward_gain_ci95_low"] > 0
    assert "does not beat" in small.reasons[0] and "by 0.02" in small.reasons[0]
    same = gate(current, current, kl=0.0, settings=GATE)
    assert not same.promote  # equal is not better
    nothing = gate(scores([]), scores([]), kl=0.0, settings=GATE)
    assert not nothing.promote and nothing.measures["held_out_questions"] == 0


def test_reward_gained_by_losing_grounding_or_ethics_is_refused():
    current, better = pair(40, 0.2, 0.05)
    hacked = scores(list(better.rewards.values()), grounding=0.6)
    rude = scores(list(better.rewards.values()), ethics=0.5)
    assert gate(current, better, 1.0, GATE).promote
    assert any("grounding fell" in r for r in gate(current, hacked, 1.0, GATE).reasons)
    assert any("ethical soundness fell" in r for r in gate(current, rude, 1.0, GATE).reasons)
