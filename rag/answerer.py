"""Answer a question from the index: retrieve, decide whether the pages cover it, generate, check, cite.

1. Retrieve ``top_k`` passages (hybrid dense + BM25 by default). If the best one is less similar to
   the question than ``min_relevance``, decline politely and point to the closest pages.
2. Remove sentences that try to instruct the assistant from the passages (``rag.safety``), then
   generate with the passages quoted as data (in ``extractive`` mode, skip to the fallback of step 3).
3. Check the answer sentence by sentence against the passages (``rag.grounding``). An answer that
   is not fully supported, or that repeats our instructions or a secret, is replaced by an extractive
   answer: the passage sentences closest to the question, quoted, with their page.
4. Cite the pages whose passages support the answer.

A *draft* (``answer(question, draft=True)``) is the model's own answer with the check's score but no
replacement: simulated users rate drafts so the reward model learns what the model gets wrong, which
is what PPO then tunes. Real users are always served checked answers.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from core.errors import IndexEmptyError, LLMServerError, SupportLoopError
from rag.prompt import build_messages
from rag.safety import leaks, strip_injections

if TYPE_CHECKING:  # kept out of import time: the CLI starts without loading torch or Chroma
    from core.llm import Conversation
    from rag.grounding import GroundingChecker
    from rag.index import HelpIndex, Passage, RetrievalMode

    Generate = Callable[[Conversation, int], str]

log = logging.getLogger(__name__)
AnswerMode = Literal["generate", "extractive"]
MAX_QUESTION_CHARS = 4000
DECLINE = "I couldn't find this in the help pages. The closest pages are: "


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    citations: list[str]
    passages: list[Passage]
    declined: bool
    retrieval_s: float
    generation_s: float  # generating and checking the answer
    extractive: bool = False  # the generated answer failed the grounding check and was replaced
    grounding: float = 1.0  # share of the generated answer's sentences the passages support

    @property
    def latency_s(self) -> float:
        return self.retrieval_s + self.generation_s


class Answerer:
    """Turns a question into a cited answer, or a polite decline that points to the closest pages."""

    def __init__(
        self,
        index: HelpIndex,
        generate: Generate,
        checker: GroundingChecker,
        *,
        top_k: int = 4,
        min_relevance: float = 0.35,
        max_citations: int = 3,
        max_new_tokens: int = 64,
        retrieval: RetrievalMode = "hybrid",
        mode: AnswerMode = "extractive",
        secrets: Sequence[str] = (),
    ) -> None:
        self.index = index
        self.generate = generate
        self.checker = checker
        self.top_k = top_k
        self.min_relevance = min_relevance
        self.max_citations = max_citations
        self.max_new_tokens = max_new_tokens
        self.retrieval = retrieval
        self.mode = mode
        self.secrets = [s for s in secrets if len(s) >= 6]

    def answer(self, question: str, *, draft: bool = False) -> Answer:
        question = question.strip()
        if not question:
            raise SupportLoopError("The question is empty: ask something about the help pages.")
        if len(question) > MAX_QUESTION_CHARS:
            raise SupportLoopError(f"The question is longer than {MAX_QUESTION_CHARS} characters.")
        started = time.perf_counter()
        passages = self.retrieve(question)
        relevant = [dataclasses.replace(p, text=strip_injections(p.text)) for p in self.relevant(passages)]
        retrieved = time.perf_counter()
        if not relevant:
            text = DECLINE + ", ".join(self.citations(passages))
            return Answer(question, text, [], passages, True, retrieved - started, 0.0)
        reply, score, used, extractive = "", 1.0, [], True
        if self.mode == "generate" or draft:
            try:
                reply = self.generate(build_messages(question, relevant), self.max_new_tokens).strip()
            except LLMServerError as exc:  # the user still gets an answer: quotes from the pages
                if draft:
                    raise
                log.warning("%s Answering with quotes from the pages.", exc)
            else:
                grounding = self.checker.check(reply, relevant)
                score, used = grounding.score, grounding.passages_used()
                extractive = not draft and (not grounding.grounded or leaks(reply, self.secrets))
        if extractive:
            reply, used = self.checker.extractive(question, relevant)
        citations = self.citations([relevant[i] for i in used] or relevant)
        return Answer(
            question,
            reply,
            citations,
            relevant,
            False,
            retrieved - started,
            time.perf_counter() - retrieved,
            extractive,
            score,
        )

    def retrieve(self, question: str, k: int | None = None) -> list[Passage]:
        """The ``k`` (default ``top_k``) best passages for the question, best first."""
        passages = self.index.search(question, k or self.top_k, self.retrieval)
        if not passages:
            self.ensure_indexed()
        return passages

    def ensure_indexed(self) -> None:
        """Raise ``IndexEmptyError`` (saying what to do) when no help pages are indexed."""
        if self.index.collection.count() == 0:
            raise IndexEmptyError("No help pages are indexed yet: run `supportloop index URL` first.")

    def relevant(self, passages: list[Passage]) -> list[Passage]:
        """All passages when the best is similar enough to the question; none means "not covered"."""
        best = max((p.score for p in passages), default=0.0)
        return passages if best >= self.min_relevance else []

    def citations(self, passages: Sequence[Passage]) -> list[str]:
        """The distinct source pages of ``passages``, best first, at most ``max_citations``."""
        return list(dict.fromkeys(p.source for p in passages))[: self.max_citations]
