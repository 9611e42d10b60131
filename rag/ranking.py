"""Rank passages for a question: hybrid candidates, read again by the cross-encoder, ranks fused.

1. ``HelpIndex.candidates`` gives the best ``candidates`` chunks by hybrid search (MiniLM vectors and
   BM25, fused), each with its dense and BM25 rank.
2. The packaged cross-encoder (``core.cross_encoder``) scores each candidate against the question.
3. The final order fuses three ranks by reciprocal rank fusion: dense, BM25 and the cross-encoder's.
   The cross-encoder alone favours passages that repeat the question's words (on paraphrased questions
   it lost to the bi-encoders), and the bi-encoder alone misses what only reading both together shows;
   fused, each corrects the other. The constant and weights were chosen on the dev questions of both
   help centers (138 in scope): the top page was right for 0.819 of them by hybrid search alone, 0.862
   by the cross-encoder alone, and 0.884 fused (``bench/answer_quality.py`` reports the test split).

The ranking also carries what ``rag.answerability`` needs to decide whether the pages answer the
question at all: the cross-encoder's scores, the best cosine, and how many of the question's words the
best passages contain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rag.index import Candidate, rrf_scores
from rag.passage import Passage

if TYPE_CHECKING:
    from core.cross_encoder import CrossEncoder
    from rag.index import HelpIndex, RetrievalMode

RRF_K = 5  # a small constant lets the top ranks count: 5 beat 60 on the dev questions (0.884 vs 0.853)
CANDIDATES = 16


@dataclass(frozen=True)
class Weights:
    """How much each ranking counts in the fused order."""

    dense: float = 1.0
    lexical: float = 1.0
    cross_encoder: float = 2.0


@dataclass(frozen=True)
class Ranked:
    passage: Passage
    cross_encoder: float  # the cross-encoder's logit (about −11 unrelated … +10 answers it)
    fused: float


@dataclass(frozen=True)
class Ranking:
    """Candidates best first, by fused rank."""

    question: str
    ranked: list[Ranked]

    @property
    def passages(self) -> list[Passage]:
        return [r.passage for r in self.ranked]

    def pages(self) -> list[str]:
        """Source pages, best first."""
        return list(dict.fromkeys(r.passage.source for r in self.ranked))

    def merged(self, other: Ranking, weight: float) -> Ranking:
        """This ranking and ``other`` (of another wording of the same question) fused by reciprocal rank,
        ``other``'s ranks counting ``weight`` times as much. A passage keeps this ranking's
        cross-encoder score where it has one: answerability reads the scores against ``question``."""
        ids = [[r.passage.id for r in ranking.ranked] for ranking in (self, other)]
        fused = rrf_scores(ids, RRF_K, (1.0, weight))
        entries = {r.passage.id: r for r in [*other.ranked, *self.ranked]}  # this ranking's scores win
        order = sorted(fused, key=lambda passage_id: -fused[passage_id])
        return Ranking(
            self.question, [Ranked(entries[i].passage, entries[i].cross_encoder, fused[i]) for i in order]
        )


class Ranker:
    """Hybrid retrieval reranked by the cross-encoder (see the module doc)."""

    def __init__(
        self,
        index: HelpIndex,
        cross_encoder: CrossEncoder,
        *,
        candidates: int = CANDIDATES,
        weights: Weights | None = None,
        retrieval: RetrievalMode = "hybrid",
    ) -> None:
        self.index = index
        self.cross_encoder = cross_encoder
        self.candidates = candidates
        self.weights = weights or Weights()
        self.retrieval = retrieval

    def rank(self, question: str) -> Ranking:
        found = self.index.candidates(question, self.candidates, self.retrieval)
        scores = self.cross_encoder.score(question, [c.passage.text for c in found])
        return Ranking(question, fuse(found, scores, self.weights))


def fuse(found: Sequence[Candidate], scores: np.ndarray, weights: Weights) -> list[Ranked]:
    """``found`` reordered by the weighted reciprocal ranks of dense, BM25 and cross-encoder."""
    by_score = np.argsort(-np.asarray(scores), kind="stable")
    ce_rank = {int(i): rank for rank, i in enumerate(by_score)}

    def rrf(rank: int | None) -> float:
        return 0.0 if rank is None else 1.0 / (RRF_K + rank + 1)

    fused = [
        weights.dense * rrf(c.dense_rank)
        + weights.lexical * rrf(c.lexical_rank)
        + weights.cross_encoder * rrf(ce_rank[i])
        for i, c in enumerate(found)
    ]
    order = sorted(range(len(found)), key=lambda i: -fused[i])
    return [Ranked(found[i].passage, float(scores[i]), fused[i]) for i in order]
