"""What the audit scores with: the reward model under audit and, optionally, the composite reward.

The audit stands below training (training's composite reward uses the audit's dimensions), so it knows
the reward model only by this protocol, which ``training.reward_model.RewardModel`` satisfies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from rag.passage import Passage


class RewardScorer(Protocol):
    tokenizer: Any

    def probability(self, questions: Sequence[str], answers: Sequence[str]) -> np.ndarray:
        """Calibrated probability of a 👍 for each (question, answer)."""
        ...

    def text(self, question: str, answer: str) -> str:
        """The one text the model reads for a (question, answer)."""
        ...

    def score_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Raw scores of texts built by ``text`` (what SHAP explains)."""
        ...


CompositeScorer = Callable[[Sequence[str], Sequence[str], Sequence[Sequence[Passage]]], np.ndarray]
"""The composite reward of each (question, answer, passages), batched."""
