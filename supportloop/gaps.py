"""Knowledge gaps: the questions the help pages don't answer, grouped by meaning, as "pages to write".

Declined questions and 👎 answers are embedded with the index's embedder (MiniLM) and clustered
agglomeratively on cosine distance with a distance threshold, so the number of gaps comes from the data,
not from a guess. Each gap names the existing page closest to its most typical question: either the page
to extend, or proof that nothing near exists yet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from supportloop.history import Unhelped

GAP_DISTANCE = 0.55  # cosine distance (average linkage) under which two questions are the same gap
EXAMPLES = 3


@dataclass(frozen=True)
class ClosestPage:
    url: str
    title: str
    similarity: float  # cosine similarity of the gap's typical question to the page's best passage


@dataclass(frozen=True)
class Gap:
    """One cluster of unhelped questions, largest first in a report."""

    count: int
    declined: int
    examples: list[str]  # the most typical question first
    reasons: list[str]
    closest_page: ClosestPage | None


def find_gaps(
    unhelped: Sequence[Unhelped],
    embed: Callable[[list[str]], list[list[float]]],
    closest_page: Callable[[str], ClosestPage | None],
    distance: float = GAP_DISTANCE,
) -> list[Gap]:
    """Cluster ``unhelped`` by meaning; gaps by size (then by how many were declined), largest first."""
    if not unhelped:
        return []
    questions = [u.question for u in unhelped]
    vectors = np.asarray(embed(questions), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
    if len(unhelped) == 1:
        labels = np.zeros(1, dtype=int)
    else:
        from sklearn.cluster import AgglomerativeClustering  # 2 s to import: only when there is work

        clusterer = AgglomerativeClustering(
            n_clusters=None, distance_threshold=distance, metric="cosine", linkage="average"
        )
        labels = clusterer.fit_predict(vectors)
    gaps = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        centroid = vectors[members].mean(axis=0)
        typical = members[np.argsort(-(vectors[members] @ centroid))]
        examples: list[str] = []
        for i in typical:
            if questions[i] not in examples:
                examples.append(questions[i])
        reasons = [reason for i in members for reason in unhelped[i].reasons]
        gaps.append(
            Gap(
                count=len(members),
                declined=sum(unhelped[i].declined for i in members),
                examples=examples[:EXAMPLES],
                reasons=list(dict.fromkeys(reasons))[:EXAMPLES],
                closest_page=closest_page(examples[0]),
            )
        )
    return sorted(gaps, key=lambda g: (-g.count, -g.declined))
