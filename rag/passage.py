"""What retrieval hands to answering, scoring and training: a chunk with its page and similarity.

It lives apart from ``rag.index`` so that the code that only reads passages (the audit, the reward,
the trainers) does not import Chroma.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk and its cosine similarity to the question (1 = identical)."""

    id: str
    text: str
    source: str
    title: str
    heading: str
    score: float
