"""Is a generated answer supported by its passages?

Our chat model is small and sometimes contradicts the passages it was given, so every generated
answer is checked sentence by sentence before anyone sees it. A sentence counts as supported when its
numbers appear in the passage sentence it is closest to (MiniLM cosine), it is negated exactly when
that sentence is ("can" vs "cannot": embeddings barely see the difference), and either most of its
content words are in the passages or that closest sentence says nearly the same thing and shares a
good part of its words. Pure courtesy ("Hope this helps!") is not judged. An answer whose judged
sentences are not all supported is replaced by the page's own sentences (``rag.compose``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.vector_memory import VectorMemory
from rag.compose import passage_body
from rag.text import NUMBER, split_sentences, tokens

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from rag.passage import Passage

_COURTESY_WORDS = (
    "hope help glad happy thank thanks sorry welcome let know question anything else assist great"
)
COURTESY = frozenset(_COURTESY_WORDS.split())
NEGATION = re.compile(r"\b(?:not|no|never|cannot|nothing|none|neither|nor)\b|n't\b", re.IGNORECASE)


@dataclass(frozen=True)
class SentenceSupport:
    sentence: str
    coverage: float  # share of the sentence's content words found in the passages
    similarity: float  # cosine to the closest passage sentence
    numbers_ok: bool
    negation_ok: bool  # negated exactly when the closest passage sentence is
    passage: int  # index of the passage holding the closest sentence
    supported: bool


@dataclass(frozen=True)
class Grounding:
    sentences: list[SentenceSupport]

    @property
    def score(self) -> float:
        """Share of judged sentences that are supported (1.0 when nothing could be judged)."""
        return sum(s.supported for s in self.sentences) / len(self.sentences) if self.sentences else 1.0

    @property
    def grounded(self) -> bool:
        return bool(self.sentences) and all(s.supported for s in self.sentences)

    def passages_used(self) -> list[int]:
        return list(dict.fromkeys(s.passage for s in self.sentences if s.supported))


class GroundingChecker:
    """Judges generated answers against their passages, sentence by sentence."""

    def __init__(
        self,
        embeddings: Embeddings,
        *,
        min_coverage: float = 0.75,
        min_similarity: float = 0.7,
        similar_coverage: float = 0.5,
        number_sentences: int = 1,
    ) -> None:
        # The same page sentences are read for every answer built from them (see core.vector_memory).
        self._vectors = VectorMemory(lambda texts: np.asarray(embeddings.embed_documents(texts)))
        self.min_coverage = min_coverage
        self.min_similarity = min_similarity
        self.similar_coverage = similar_coverage
        self.number_sentences = number_sentences

    def check(self, answer: str, passages: Sequence[Passage]) -> Grounding:
        judged = [s for s in split_sentences(answer) if not set(tokens(s)) <= COURTESY]
        units = [(i, s) for i, p in enumerate(passages) for s in split_sentences(passage_body(p))]
        if not judged or not units:
            return Grounding([])
        vectors = self._vectors(judged + [s for _, s in units])
        similarity = vectors[: len(judged)] @ vectors[len(judged) :].T
        passage_words = {w for p in passages for w in tokens(p.text)}
        results = []
        for row, sentence in enumerate(judged):
            words = tokens(sentence)
            coverage = sum(w in passage_words for w in words) / len(words)
            closest = np.argsort(-similarity[row])[: self.number_sentences]
            best = int(closest[0])
            # A number must come from what the sentence paraphrases, not from anywhere in the passages:
            # "annual plans: 14 days" is wrong when 14 days is what the page says of monthly plans.
            nearby = {n for k in closest for n in NUMBER.findall(units[int(k)][1])}
            numbers_ok = set(NUMBER.findall(sentence)) <= nearby
            cosine = float(similarity[row, best])
            negation_ok = _negated(sentence) == _negated(units[best][1])
            supported = (
                numbers_ok
                and negation_ok
                and (
                    coverage >= self.min_coverage
                    or (cosine >= self.min_similarity and coverage >= self.similar_coverage)
                )
            )
            results.append(
                SentenceSupport(
                    sentence, coverage, cosine, numbers_ok, negation_ok, units[best][0], supported
                )
            )
        return Grounding(results)


def _negated(sentence: str) -> bool:
    """Whether a sentence says "not" an odd number of times ("can't not" is not a negation)."""
    return len(NEGATION.findall(sentence.replace("’", "'"))) % 2 == 1
