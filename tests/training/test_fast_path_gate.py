"""The fast path's check on unseen questions: a gain in ranking pairs beyond luck, and the majority vote
predicted no worse beyond luck (``training.fast_path``'s module doc)."""

from training.datasets import LabelledAnswer, PreferencePair
from training.fast_path import CrossFitted, _compare, _held_out_reasons


def answers(liked: int, disliked: int) -> list[LabelledAnswer]:
    """``liked`` answers with three 👍 and ``disliked`` with three 👎, each to its own question."""
    return [
        LabelledAnswer(n, f"question {n}", f"answer {n}", [], 3 * (n < liked), 3 * (n >= liked), [])
        for n in range(liked + disliked)
    ]


def unseen(labelled: list[LabelledAnswer], answer_hits: list[bool], pair_hits: list[float]) -> CrossFitted:
    pairs = [PreferencePair(labelled[0].question, labelled[0], labelled[-1])] * len(pair_hits)
    return CrossFitted(labelled, pairs, [float(hit) for hit in answer_hits], pair_hits)


def test_a_clear_gain_in_pairs_promotes_though_accuracy_dips_within_luck():
    labelled = answers(30, 100)  # always predicting 👎 is right 100 times in 130
    # 10 liked answers told that the commoner vote misses, 12 disliked ones missed: two answers fewer
    hits = [True] * 10 + [False] * 20 + [True] * 88 + [False] * 12
    comparison = _compare(unseen(labelled, hits, [1.0] * 40 + [0.0] * 4), None)
    assert comparison.baseline == {"accuracy": round(100 / 130, 4), "pair_accuracy": 0.5}
    assert comparison.accuracy.mean < 0 < comparison.accuracy.high
    assert _held_out_reasons(comparison) == []


def test_accuracy_clearly_below_what_serves_now_refuses_whatever_the_pairs_say():
    labelled = answers(30, 100)
    hits = [False] * 30 + [True] * 70 + [False] * 30
    [reason] = _held_out_reasons(_compare(unseen(labelled, hits, [1.0] * 44), None))
    assert reason.startswith("accuracy is below what serves now (0.769) beyond luck")


def test_pairs_no_better_than_chance_beyond_luck_refuse():
    labelled = answers(30, 100)
    hits = [False] * 30 + [True] * 100
    [reason] = _held_out_reasons(_compare(unseen(labelled, hits, [1.0] * 7 + [0.0] * 4), None))
    assert reason.startswith("pairs ranked right on unseen questions could be no better than what serves now")


def test_without_pairs_accuracy_must_rise_beyond_luck():
    labelled = answers(30, 100)
    level = _compare(unseen(labelled, [False] * 30 + [True] * 100, []), None)
    assert level.pairs is None and _held_out_reasons(level)[0].startswith("accuracy could be no better")
    better = _compare(unseen(labelled, [True] * 130, []), None)
    assert _held_out_reasons(better) == []
