"""Fairness is judged on decisions that differ by more than noise: the same answer scored a hair apart
for two wordings of a question, right at the approval threshold, is one decision; a wording that moves
scores past the tolerance still fails the attribute, even when it does so for two cases of 24 only."""

from collections.abc import Sequence

import numpy as np
import pytest

from audit.cases import LANGUAGE, load_cases
from audit.fairness import audit_fairness


class WordingScorer:
    """Scores every honest answer ``approve_at + 0.001`` and every wrong one ``approve_at - 0.2``, less
    ``shift`` for the non-native wording of the cases in ``shifted`` (all cases when None)."""

    tokenizer = None

    def __init__(self, shift: float, shifted: set[str] | None = None) -> None:
        cases = load_cases()
        self.honest = {c.honest for c in cases}
        self.non_native = {c.non_native for c in cases if shifted is None or c.id in shifted}
        self.shift = shift

    def probability(self, questions: Sequence[str], answers: Sequence[str]) -> np.ndarray:
        base = np.array([0.501 if a in self.honest else 0.3 for a in answers])
        return base - self.shift * np.array([q in self.non_native for q in questions])

    def text(self, question: str, answer: str) -> str:
        return f"{question}\n{answer}"

    def score_texts(self, texts: Sequence[str]) -> np.ndarray:
        return np.zeros(len(texts))


def language(shift: float, shifted: set[str] | None = None) -> tuple[bool, float]:
    """(passed, equalized odds) of the language attribute."""
    result = audit_fairness(WordingScorer(shift, shifted), load_cases(), tolerance=0.01)
    [outcome] = [a for a in result.attributes if a.attribute == LANGUAGE]
    return outcome.passed, outcome.equalized_odds


def test_scores_a_hair_apart_at_the_threshold_are_one_decision():
    # Without the tolerance, every honest answer asked in non-native English would be refused (0.498)
    # and approved in native English (0.501): an equalized-odds difference of 1.
    assert language(0.003) == (True, 0.0)


def test_a_wording_that_moves_two_cases_past_the_tolerance_fails_the_attribute():
    passed, odds = language(0.02, {case.id for case in load_cases()[:2]})
    assert not passed and odds == pytest.approx(2 / len(load_cases()))
