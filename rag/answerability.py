"""Do the help pages answer this question? A calibrated decision, not one cosine threshold.

Questions the pages don't cover often sit right next to the domain: another company's account, the
company's stock, a discount that doesn't exist. They share most of their words with real pages, so a
cosine threshold either declines real questions or answers these with unrelated quotes. The decision
here is a logistic model over what the ranking saw (``features``):

- the cross-encoder's best score and the score of the top-ranked passage: it reads question and
  passage together, so "reset my Twitter password" scores low against Mastodon's password page;
- the best cosine of the dense search;
- the share of the question's words that the index has never seen ("Bluesky", "Patreon"), and the share
  that the best passages don't contain.

Its weights and threshold are fitted by ``training.answerability`` on the dev questions of both help
centers (in scope against near-domain out of scope) and stored in ``rag/data/answerability.json``; the
threshold keeps false declines of answerable dev questions at or under a target, and the test split is
only reported on. The probability is calibrated (a logistic fit), so ``SUPPORTLOOP_ANSWERABILITY_THRESHOLD``
can move it knowingly.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.ranking import Ranking
from rag.text import terms

WEIGHTS = Path(__file__).parent / "data" / "answerability.json"
FEATURES = ("ce_max", "ce_top", "cos_max", "unknown_words", "missing_words")
TOP_PASSAGES = 3


def features(ranking: Ranking, vocabulary: Collection[str]) -> np.ndarray:
    """The model's inputs for one ranked question, in ``FEATURES`` order."""
    asked = set(terms(ranking.question))
    ranked = ranking.ranked
    if not ranked:
        return np.array([-12.0, -12.0, 0.0, 1.0, 1.0], dtype=np.float32)
    top = ranked[:TOP_PASSAGES]
    seen = {w for r in top for w in terms(r.passage.text)}
    n = max(len(asked), 1)
    return np.array(
        [
            max(r.cross_encoder for r in ranked),
            ranked[0].cross_encoder,
            max(r.passage.score for r in ranked),
            sum(w not in vocabulary for w in asked) / n,
            sum(w not in seen for w in asked) / n,
        ],
        dtype=np.float32,
    )


@dataclass(frozen=True)
class Verdict:
    answerable: bool
    probability: float


class AnswerabilityModel:
    """P(the pages answer the question) from ``features``, and the decision at a threshold."""

    def __init__(self, weights: Path = WEIGHTS, threshold: float | None = None) -> None:
        stored = json.loads(weights.read_text(encoding="utf-8"))
        if stored["features"] != list(FEATURES):
            raise ValueError(f"{weights} was fitted on other features: refit it (training.answerability)")
        self.mean = np.asarray(stored["mean"], dtype=np.float32)
        self.scale = np.asarray(stored["scale"], dtype=np.float32)
        self.coef = np.asarray(stored["coef"], dtype=np.float32)
        self.intercept = float(stored["intercept"])
        self.threshold = float(stored["threshold"] if threshold is None else threshold)

    def probability(self, x: np.ndarray) -> float:
        logit = float(((x - self.mean) / self.scale) @ self.coef) + self.intercept
        return float(1.0 / (1.0 + np.exp(-logit)))

    def judge(self, ranking: Ranking, vocabulary: Collection[str]) -> Verdict:
        p = self.probability(features(ranking, vocabulary))
        return Verdict(p >= self.threshold, p)
