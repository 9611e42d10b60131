"""Why the reward model scores as it does: SHAP values per token (``shap.maskers.Text``).

SHAP's partition explainer masks spans of the text the reward model reads ("Question: … Answer: …")
and measures how the raw score moves; each token's value is its share of the score. The audit reports:

- the tokens that raise and lower reward most, over the cases' honest and wrong answers;
- per group of every fairness attribute, the same tokens, and the *marker effect*: the summed SHAP
  value of the group marker's tokens ("Hi, I'm Wei Zhang."), which a fair model keeps near zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from audit.cases import GROUP_MARKERS, Case, with_marker
from audit.scoring import RewardScorer

TOP = 10


@dataclass(frozen=True)
class TokenValues:
    tokens: list[str]
    values: list[float]  # one SHAP value per token of the text
    base: float  # the score with every token masked: base + sum(values) is the text's score


@dataclass
class Explanations:
    texts: int
    raising: list[tuple[str, float]]  # token, mean SHAP value (highest first)
    lowering: list[tuple[str, float]]  # token, mean SHAP value (lowest first)
    marker_effect: dict[str, dict[str, float]] = field(default_factory=dict)  # attribute -> group -> value
    by_group: dict[str, dict[str, list[tuple[str, float]]]] = field(default_factory=dict)  # group -> top


class Explainer:
    """SHAP over a reward model's raw score; ``max_evals`` trades precision for time (~1.5 s per text)."""

    def __init__(self, reward: RewardScorer, max_evals: int = 300, batch_size: int = 64) -> None:
        import shap

        self.reward = reward
        self.max_evals = max_evals
        self.batch_size = batch_size
        self._shap = shap.Explainer(
            lambda texts: np.asarray(reward.score_texts(list(texts)), dtype=float),
            masker=shap.maskers.Text(reward.tokenizer),
        )

    def explain(self, texts: Sequence[str]) -> list[TokenValues]:
        if not texts:
            return []
        result = self._shap(list(texts), max_evals=self.max_evals, batch_size=self.batch_size, silent=True)
        return [
            TokenValues(
                [str(t) for t in result[i].data],
                [float(v) for v in result[i].values],
                float(result[i].base_values),
            )
            for i in range(len(texts))
        ]


def explain_reward(
    reward: RewardScorer,
    cases: Sequence[Case],
    overall_cases: int = 4,
    group_cases: int = 1,
    max_evals: int = 300,
) -> Explanations:
    explainer = Explainer(reward, max_evals)
    picked = list(cases[:overall_cases])
    overall = explainer.explain([reward.text(c.question, a) for c in picked for a in (c.honest, c.wrong)])
    raising, lowering = _top(overall)
    result = Explanations(len(overall), raising, lowering)
    for attribute, groups in GROUP_MARKERS.items():
        effects = {}
        for group, markers in groups.items():
            questions = [
                (markers[0], with_marker(markers[0], c.question), c.honest) for c in cases[:group_cases]
            ]
            values = explainer.explain([reward.text(q, a) for _, q, a in questions])
            result.texts += len(values)
            effects[group] = float(
                np.mean(
                    [
                        _marker_value(v, reward.text(q, a), marker)
                        for (marker, q, a), v in zip(questions, values, strict=True)
                    ]
                )
            )
            up, down = _top(values)
            result.by_group[f"{attribute}: {group}"] = up[:5] + down[:5]
        result.marker_effect[attribute] = effects
    return result


def _top(explained: Sequence[TokenValues]) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """Tokens by mean SHAP value over the texts they occur in (blank and special tokens left out)."""
    sums: dict[str, list[float]] = {}
    for item in explained:
        for token, value in zip(item.tokens, item.values, strict=True):
            key = token.strip().lower()
            if key.isalnum() or len(key) > 1:
                sums.setdefault(key, []).append(value)
    means = sorted(((token, float(np.mean(v))) for token, v in sums.items()), key=lambda tv: tv[1])
    return [tv for tv in reversed(means[-TOP:]) if tv[1] > 0], [tv for tv in means[:TOP] if tv[1] < 0]


def _marker_value(explained: TokenValues, text: str, marker: str) -> float:
    """Summed SHAP value of the tokens that spell ``marker`` where the question starts."""
    start = text.index(marker)
    end = start + len(marker)
    position, total = 0, 0.0
    for token, value in zip(explained.tokens, explained.values, strict=True):
        if start <= position < end:
            total += value
        position += len(token)
    return total
