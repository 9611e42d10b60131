"""Answer a question from the index: retrieve, decide whether the pages cover it, generate, cite."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.errors import IndexEmptyError, SupportLoopError
from rag.prompt import build_messages

if TYPE_CHECKING:  # kept out of import time: the CLI starts without loading torch or Chroma
    from core.llm import Conversation
    from rag.index import HelpIndex, Passage

    Generate = Callable[[Conversation, int], str]
MAX_QUESTION_CHARS = 4000


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    citations: list[str]
    passages: list[Passage]
    declined: bool
    retrieval_s: float
    generation_s: float

    @property
    def latency_s(self) -> float:
        return self.retrieval_s + self.generation_s


class Answerer:
    """Turns a question into a cited answer, or a polite decline that points to the closest pages."""

    def __init__(
        self,
        index: HelpIndex,
        generate: Generate,
        *,
        top_k: int = 4,
        min_relevance: float = 0.35,
        max_citations: int = 3,
        max_new_tokens: int = 128,
    ) -> None:
        self.index = index
        self.generate = generate
        self.top_k = top_k
        self.min_relevance = min_relevance
        self.max_citations = max_citations
        self.max_new_tokens = max_new_tokens

    def answer(self, question: str) -> Answer:
        question = question.strip()
        if not question:
            raise SupportLoopError("The question is empty: ask something about the help pages.")
        if len(question) > MAX_QUESTION_CHARS:
            raise SupportLoopError(f"The question is longer than {MAX_QUESTION_CHARS} characters.")
        started = time.perf_counter()
        passages = self.retrieve(question)
        relevant = self.relevant(passages)
        retrieved = time.perf_counter()
        if not relevant:
            closest = self.citations(passages)
            text = "I couldn't find this in the help pages. The closest pages are: " + ", ".join(closest)
            return Answer(question, text, [], passages, True, retrieved - started, 0.0)
        reply = self.generate(build_messages(question, relevant), self.max_new_tokens)
        generated = time.perf_counter()
        citations = self.citations(relevant)
        return Answer(question, reply, citations, relevant, False, retrieved - started, generated - retrieved)

    def retrieve(self, question: str) -> list[Passage]:
        """The ``top_k`` passages most similar to the question, best first."""
        passages = self.index.search(question, self.top_k)
        if not passages:
            raise IndexEmptyError("No help pages are indexed yet: run `supportloop index URL` first.")
        return passages

    def relevant(self, passages: list[Passage]) -> list[Passage]:
        """The passages similar enough to count; none left means the pages don't cover the question."""
        return [p for p in passages if p.score >= self.min_relevance]

    def citations(self, passages: list[Passage]) -> list[str]:
        """The distinct source pages of ``passages``, best first, at most ``max_citations``."""
        return list(dict.fromkeys(p.source for p in passages))[: self.max_citations]
