"""Is an answer supported by its passages? And if not, which passage sentences answer the question?

Our chat model is small and sometimes contradicts the passages it was given, so every generated
answer is checked sentence by sentence before anyone sees it. A sentence counts as supported when its
numbers appear in the passage sentence it is closest to (MiniLM cosine), it is negated exactly when
that sentence is ("can" vs "cannot": embeddings barely see the difference), and either most of its
content words are in the passages or that closest sentence says nearly the same thing and shares a
good part of its words. Pure courtesy ("Hope this helps!") is not judged. An answer whose judged
sentences are not all supported is replaced by an extractive answer: the passage sentences closest to
the question, quoted, with the page they come from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rag.text import NUMBER, split_sentences, terms, tokens

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from rag.index import Passage

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


def passage_body(passage: Passage) -> str:
    """A passage's text without its first line, the "Title > Heading" breadcrumb the chunker adds."""
    first, _, rest = passage.text.partition("\n")
    return rest if " > " in first or first == passage.title else passage.text


class GroundingChecker:
    """Judges answers against passages and builds extractive answers, with one embedder for both."""

    def __init__(
        self,
        embeddings: Embeddings,
        *,
        min_coverage: float = 0.75,
        min_similarity: float = 0.7,
        similar_coverage: float = 0.5,
        number_sentences: int = 1,
        extract_chars: int = 550,
        extract_margin: float = 0.5,
    ) -> None:
        self.embeddings = embeddings
        self.min_coverage = min_coverage
        self.min_similarity = min_similarity
        self.similar_coverage = similar_coverage
        self.number_sentences = number_sentences
        self.extract_chars = extract_chars
        self.extract_margin = extract_margin

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

    def extractive(self, question: str, passages: Sequence[Passage]) -> tuple[str, list[int]]:
        """The passage text that best answers ``question``, quoted under its page; passages used.

        A sentence is ranked by its cosine to the question (read under its section heading: "Per
        account: All endpoints can be called 300 times within 5 minutes" answers "rate limits per
        account", the bare sentence does not), plus a bonus for question words it or its heading share,
        plus its passage's own relevance (cosine and shared words), minus a little for lower-ranked
        passages. The best sentence grows into a window of its neighbours in the same passage (answers
        often continue in the next sentence or list item), then other sentences close to the best fill
        what is left of ``extract_chars``; everything reads in page order.
        """
        units = [(i, s) for i, p in enumerate(passages) for s in split_sentences(passage_body(p))]
        if not units:
            return "", []
        headings = [p.heading.rpartition(" > ")[2] for p in passages]
        vectors = self._vectors([question] + [f"{headings[i]}: {s}" if headings[i] else s for i, s in units])
        asked = set(terms(question))

        def shared(*texts: str) -> float:
            return len(asked & {w for text in texts for w in terms(text)}) / max(len(asked), 1)

        relevance = [p.score + 0.5 * shared(p.text) for p in passages]
        rank = vectors[1:] @ vectors[0] + np.array(
            [0.5 * shared(s, headings[i]) + relevance[i] - 0.02 * i for i, s in units]
        )
        best = int(np.argmax(rank))
        chosen = {best}
        length = len(units[best][1])
        while True:  # widen the window around the best sentence, better neighbour first
            low, high = min(chosen) - 1, max(chosen) + 1
            around = [
                k
                for k in (low, high)
                if 0 <= k < len(units)
                and units[k][0] == units[best][0]
                and length + len(units[k][1]) <= self.extract_chars
            ]
            if not around:
                break
            k = max(around, key=lambda k: rank[k])
            chosen.add(k)
            length += len(units[k][1]) + 1
        for k in map(int, np.argsort(-rank)):
            if rank[k] < rank[best] - self.extract_margin:
                break
            if k not in chosen and length + len(units[k][1]) <= self.extract_chars:
                chosen.add(k)
                length += len(units[k][1]) + 1
        order = sorted(chosen)
        used = list(dict.fromkeys(units[k][0] for k in order))
        pages = list(dict.fromkeys(passages[i].source for i in used))
        blocks = []
        for source in pages:
            quote = " ".join(units[k][1] for k in order if passages[units[k][0]].source == source)
            title = next(passages[i].title for i in used if passages[i].source == source)
            blocks.append(f"> {quote}\n— {title or source} ({source})")
        return "From the help pages:\n" + "\n\n".join(blocks), used

    def _vectors(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.embeddings.embed_documents(texts), dtype=np.float32)


def _negated(sentence: str) -> bool:
    """Whether a sentence says "not" an odd number of times ("can't not" is not a negation)."""
    return len(NEGATION.findall(sentence.replace("’", "'"))) % 2 == 1
