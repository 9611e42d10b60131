"""Do the help pages answer this question? A calibrated decision, not one cosine threshold.

Questions the pages don't cover often sit right next to the domain: another company's account, the
company's stock, a discount that doesn't exist. They share most of their words with real pages, so a
cosine threshold either declines real questions or answers these with unrelated quotes. The decision
here is a logistic model over what the ranking saw (``features``):

- the cross-encoder's scores (best, second, mean of three, and how far the best stands out): it reads
  question and passage together;
- the best cosine of the dense search;
- the question's words the best passages don't contain, weighed by rarity, and the share the index has
  never seen ("Bluesky", "Patreon");
- whether a name in the question ("Twitter", "Zapier", "iPhone") is missing from the best passages:
  near-domain questions about another company's product share every other word with a real page;
- what kind of question it is (``question_kind``), from its wording alone: a linear model over the
  question's bge-small vector (``core.bge``), fitted on hand-written questions about made-up products
  (``rag/data/question_kinds.jsonl``). Some kinds of question help pages rarely answer: the company's
  staff, revenue or roadmap, another service's own support, legal, tax or money advice. Such a question
  shares most of its words with some real page, so the ranking alone can't tell. Trained on no site we
  serve, it knows kinds of question, not one site's topics (``training.answerability`` has the figures).

Its weights and threshold are fitted by ``training.answerability`` on the dev questions of both help
centers (in scope against near-domain out of scope) and stored in ``rag/data/answerability.json``; the
threshold keeps false declines of answerable dev questions at or under a target, and the test split is
only reported on. The probability is calibrated (a logistic fit), so ``SUPPORTLOOP_ANSWERABILITY_THRESHOLD``
can move it knowingly.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.bm25 import BM25
from rag.ranking import Ranking
from rag.text import terms

WEIGHTS = Path(__file__).parent / "data" / "answerability.json"
RANKING_FEATURES = (
    "ce_max",
    "ce_second",
    "ce_top3_mean",
    "ce_gap",
    "cos_max",
    "rarest_missing",
    "rare_missing_share",
    "unknown_words",
    "names_missing",
)
FEATURES = (*RANKING_FEATURES, "question_kind")
TOP_PASSAGES = 3
NAME = re.compile(r"\b(?:[A-Z][A-Za-z0-9]+|[A-Z]{2,})\b")


def ranking_features(ranking: Ranking, bm25: BM25) -> np.ndarray:
    """What the ranking says about one question, in ``RANKING_FEATURES`` order.

    "Missing" words are question words that the three passages the cross-encoder likes best don't
    contain, weighed by how rare they are in the index (idf): a missing "patreon" says more than a
    missing "account". Names are capitalised words after the first ("Twitter", "Zapier", "iOS").
    """
    if not ranking.ranked:
        return np.array([-12.0, -12.0, -12.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0], dtype=np.float32)
    scores = np.sort(np.array([r.cross_encoder for r in ranking.ranked]))[::-1]
    top = sorted(ranking.ranked, key=lambda r: -r.cross_encoder)[:TOP_PASSAGES]
    seen = {w for r in top for w in terms(r.passage.text)}
    asked = set(terms(ranking.question))
    rarity = {w: bm25.word_idf(w) for w in asked}
    missing = [rarity[w] for w in asked if w not in seen]
    text = " ".join(r.passage.text for r in top).lower()
    names = [m.group(0) for m in NAME.finditer(ranking.question) if m.start() > 0 and m.group(0) != "I"]
    return np.array(
        [
            scores[0],
            scores[1] if len(scores) > 1 else -12.0,
            scores[:TOP_PASSAGES].mean(),
            scores[0] - float(np.median(scores)),
            max(r.passage.score for r in ranking.ranked),
            max(missing, default=0.0) / bm25.rarest,
            sum(missing) / max(sum(rarity.values()), 1e-6),
            sum(w not in bm25.vocabulary for w in asked) / max(len(asked), 1),
            float(any(name.lower() not in text for name in names)),
        ],
        dtype=np.float32,
    )


class QuestionKinds:
    """The logit, from a question's wording alone, that it is of a kind help pages answer."""

    def __init__(self, stored: dict[str, Any]) -> None:
        self.coef = np.asarray(stored["coef"], dtype=np.float32)
        self.intercept = float(stored["intercept"])

    def logit(self, question: str) -> float:
        from core.bge import shared_bge

        return float(shared_bge().encode([question])[0] @ self.coef) + self.intercept


def features(ranking: Ranking, bm25: BM25, kinds: QuestionKinds) -> np.ndarray:
    """The model's inputs for one ranked question, in ``FEATURES`` order."""
    return np.append(ranking_features(ranking, bm25), kinds.logit(ranking.question))


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
        self.kinds = QuestionKinds(stored["question"])
        self.threshold = float(stored["threshold"] if threshold is None else threshold)

    def probability(self, x: np.ndarray) -> float:
        logit = float(((x - self.mean) / self.scale) @ self.coef) + self.intercept
        return float(1.0 / (1.0 + np.exp(-logit)))

    def judge(self, ranking: Ranking, bm25: BM25) -> Verdict:
        p = self.probability(features(ranking, bm25, self.kinds))
        return Verdict(p >= self.threshold, p)
