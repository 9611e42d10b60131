"""The promotion gate lets through only a candidate measurably better and no less grounded."""

import pytest

from training.promotion import Estimate, VersionScores, gate


def scores(reward: list[float], grounding: list[float], ethics: float = 1.0) -> VersionScores:
    n = len(reward)
    return VersionScores(
        Estimate.of(reward),
        Estimate.of(grounding),
        Estimate.of([0.5] * n),
        Estimate.of([ethics] * n),
        citation_rate=Estimate.of([1.0] * n),
        fact_recall=Estimate.of([]),
    )


def test_estimate_has_a_95_percent_interval():
    estimate = Estimate.of([0.0, 1.0] * 50)
    assert estimate.mean == pytest.approx(0.5)
    assert estimate.ci95 == pytest.approx(1.96 * 0.5025 / 10, rel=1e-3)
    assert Estimate.of([]).n == 0


def test_a_better_candidate_is_promoted_and_a_worse_one_is_not():
    current = scores([0.5, 0.6, 0.55, 0.5], [0.8, 0.8, 0.7, 0.9])
    better = scores([0.7, 0.75, 0.7, 0.72], [0.85, 0.8, 0.8, 0.9])
    worse = scores([0.4, 0.45, 0.5, 0.4], [0.8, 0.8, 0.7, 0.9])
    assert gate(current, better, margin=0.05).promote
    refused = gate(current, worse, margin=0.05)
    assert not refused.promote and "does not beat" in refused.reasons[0]
    assert not gate(current, current, margin=0.05).promote  # equal is not better


def test_reward_gained_by_losing_grounding_or_ethics_is_refused():
    current = scores([0.5] * 4, [0.9] * 4)
    hacked = scores([0.9] * 4, [0.6] * 4)
    rude = scores([0.9] * 4, [0.9] * 4, ethics=0.5)
    assert any("grounding fell" in r for r in gate(current, hacked, 0.05).reasons)
    assert any("ethical soundness fell" in r for r in gate(current, rude, 0.05).reasons)
    assert not gate(current, scores([], []), 0.05).promote  # nothing measured: nothing promoted
