"""Answer a question from the index: refuse, rank, decide whether the pages cover it, compose, cite.

1. A harmful request (getting into someone else's account, phishing, stalking…; ``rag.harm``) is
   refused with the legitimate route: the pages on recovering one's own account, and support. A
   follow-up is judged as the standalone question of step 3.
2. Sentences that try to instruct the assistant are removed from the question; nothing left means
   there is nothing to answer.
3. A follow-up in a thread ("and what about on mobile?") becomes a standalone question built from the
   thread's earlier questions (``rag.condense``); ``Answer.condensed`` records it, and the rest works
   on it.
4. ``rag.ranking`` finds hybrid candidates and reranks them with the cross-encoder. A follow-up is
   ranked twice, as the standalone question and as asked, and the two rankings are fused
   (``OWN_WORDS_WEIGHT``).
5. ``rag.answerability`` decides whether the pages answer the question; if not, decline in one plain
   sentence with the closest pages.
6. Compose from the best ``top_k`` passages (injections removed, ``rag.safety``): in ``extractive``
   mode the page's own sentences and steps are chosen and ordered (``rag.compose``). With a
   ``prefer`` scorer (the served model version's reward model, learnt from users' votes), it scores
   the composer's alternatives, and one it prefers clearly (by ``PREFERENCE_MARGIN``) over the
   heuristic's answer is served instead (or, within the margin of it, one that holds all its units
   and more: ``_preferred``): this is how a pattern of 👎 changes what users see before
   any policy update, and why a rollback changes the answers too. With an ``explore`` share, that
   share of composed answers for people who can vote (``answer(..., explore=True)``: the chat
   platforms, not scripts or evaluations) is instead one of the other alternatives, the one explored
   least so far (``_least_explored``), and served as mode "explored": users vote only on what they
   see, so without it a reward model would never hear what they think of the answers it could
   choose. In ``generate``
   mode the chat model writes, and an answer that its passages don't support sentence by sentence
   (``rag.grounding``), or that repeats our instructions or a secret, is replaced by the extractive one.
7. Cite the pages the answer quotes, best first, at most ``max_citations``.

A *draft* (``answer(question, draft=True)``) is the model's own answer with the check's score but no
replacement: simulated users rate drafts so the reward model learns what the model gets wrong, which
is what PPO then tunes. Real users are always served checked answers.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from core.errors import IndexEmptyError, LLMServerError, SupportLoopError
from core.redact import redact
from rag.condense import condense
from rag.prompt import build_messages
from rag.safety import leaks, strip_injections

if TYPE_CHECKING:  # kept out of import time: the CLI starts without loading torch or Chroma
    from langchain_core.embeddings import Embeddings

    from core.cross_encoder import CrossEncoder
    from core.llm import Conversation
    from rag.answerability import AnswerabilityModel, Verdict
    from rag.compose import Composer, Composition
    from rag.grounding import GroundingChecker
    from rag.harm import HarmClassifier
    from rag.index import HelpIndex, RetrievalMode
    from rag.passage import Passage
    from rag.ranking import Ranker, Ranking

    Generate = Callable[[Conversation, int], str]

# Scores candidate answers to a question (higher is better), or None when there is nothing to score with.
Prefer = Callable[[str, Sequence[str]], "Sequence[float] | None"]

log = logging.getLogger(__name__)
AnswerMode = Literal["generate", "extractive"]
MAX_QUESTION_CHARS = 4000
DECLINE = "I couldn't find this in the help pages. The closest pages are: "
REFUSAL = (
    "I can't help with that: it would mean getting into someone else's account or data, or getting "
    "around their security. If it's your own account, you can recover it yourself"
)
NO_QUESTION = "I couldn't find a question about the help pages in that message."
RECOVERY_QUERY = "I can't sign in to my own account: how do I reset my password or recover two-factor?"
# How much likelier a 👍 (the reward model's calibrated probability) an alternative must be than the
# heuristic's answer to replace it: small differences are the reward model's noise, not users' taste.
PREFERENCE_MARGIN = 0.05
EXPLORED_MEMORY = 4096  # answer texts whose explored count is kept; the least recently explored go first
# How much a follow-up's ranking by its own words counts beside its standalone question's (1). On the 62
# dev conversations of both help centers (with ``rag.condense.MAX_FOLLOW_UP_CONTENT`` at 5) the answer
# cited the right page for 0.839 without this ranking and 0.903 with it (weights 0.3 and 1, tried in an
# earlier form of the fusion, cited no more often, and 1 recalled fewer facts).
OWN_WORDS_WEIGHT = 0.5


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    citations: list[str]
    passages: list[Passage]
    declined: bool
    retrieval_s: float
    generation_s: float  # composing (or generating and checking) the answer
    extractive: bool = False  # quoted from the pages (the default, or a generated answer that failed)
    grounding: float = 1.0  # share of the generated answer's sentences its passages support
    refused: bool = False  # a harmful request, answered with a refusal
    answerability: float | None = None  # P(the pages answer it), None where it was not asked
    preferred: bool = False  # an alternative the reward model preferred to the heuristic's answer
    explored: bool = False  # another alternative (the ``explore`` share) served for users to judge
    condensed: str | None = None  # the standalone question a thread's follow-up was answered as

    @property
    def mode(self) -> str:
        """How the answer was made: refuse, decline, explored, preferred, extractive or generate."""
        if self.refused:
            return "refuse"
        if self.declined:
            return "decline"
        if self.explored:
            return "explored"
        if self.preferred:
            return "preferred"
        return "extractive" if self.extractive else "generate"

    @property
    def latency_s(self) -> float:
        return self.retrieval_s + self.generation_s


class Answerer:
    """Turns a question into a cited answer, a polite decline, or a refusal (see the module doc)."""

    def __init__(
        self,
        ranker: Ranker,
        composer: Composer,
        checker: GroundingChecker,
        answerability: AnswerabilityModel,
        harm: HarmClassifier,
        generate: Generate,
        *,
        top_k: int = 4,
        max_citations: int = 3,
        max_new_tokens: int = 64,
        mode: AnswerMode = "extractive",
        secrets: Sequence[str] = (),
        prefer: Prefer | None = None,
        explore: float = 0.0,
    ) -> None:
        self.ranker = ranker
        self.composer = composer
        self.checker = checker
        self.answerability = answerability
        self.harm = harm
        self.generate = generate
        self.top_k = top_k
        self.max_citations = max_citations
        self.max_new_tokens = max_new_tokens
        self.mode = mode
        self.secrets = [s for s in secrets if len(s) >= 6]
        self.prefer = prefer
        self.explore = explore
        self._draw = random.Random()  # which answers are explored, and which alternative on a tie
        self._explored: OrderedDict[str, int] = OrderedDict()  # answer text → times served explored
        self._explored_lock = threading.Lock()  # answers are served from several threads

    @property
    def index(self) -> HelpIndex:
        return self.ranker.index

    def answer(
        self, question: str, *, draft: bool = False, thread: Sequence[str] = (), explore: bool = False
    ) -> Answer:
        """Answer ``question``; ``thread`` holds the earlier questions of its thread, oldest first.

        ``explore``: the answer goes to someone who can vote on it, so the ``explore`` share applies.
        Scripts, evaluations and the gate leave it off: they must get the same answer every time."""
        question = question.strip()
        if not question:
            raise SupportLoopError("The question is empty: ask something about the help pages.")
        if len(question) > MAX_QUESTION_CHARS:
            raise SupportLoopError(f"The question is longer than {MAX_QUESTION_CHARS} characters.")
        started = time.perf_counter()
        asked = strip_injections(question).strip()
        earlier = [strip_injections(q) for q in thread]  # stored as they were asked
        rewritten = condense(asked, earlier)
        # A follow-up is judged in its thread: "can I do it for my girlfriend without telling her?" is
        # harmful only after "how do I reset my password?", "and then how do I get a user token?"
        # harmless only after "how do I register an app with the API?".
        if self.harm.is_harmful(rewritten or question):
            return self._refuse(question, started, rewritten)
        if not asked:
            return Answer(question, NO_QUESTION, [], [], True, time.perf_counter() - started, 0.0)
        ranking, verdict, rewritten = self._retrieve(asked, rewritten)
        asked = rewritten or asked
        retrieved = time.perf_counter()
        if not verdict.answerable:
            text = DECLINE + ", ".join(ranking.pages()[: self.max_citations])
            return Answer(
                question, text, [], ranking.passages, True, retrieved - started, 0.0,
                answerability=verdict.probability, condensed=rewritten,
            )  # fmt: skip
        relevant = self.best_passages(ranking)
        reply, score, used, extractive, chosen = "", 1.0, [], True, "heuristic"
        if self.mode == "generate" or draft:
            try:
                reply = self.generate(build_messages(asked, relevant), self.max_new_tokens).strip()
            except LLMServerError as exc:  # the user still gets an answer: quotes from the pages
                if draft:
                    raise
                log.warning("%s Answering with quotes from the pages.", exc)
            else:
                grounding = self.checker.check(reply, relevant)
                score, used = grounding.score, grounding.passages_used()
                extractive = not draft and (not grounding.grounded or leaks(reply, self.secrets))
        if extractive:
            composition, chosen = self._compose(asked, relevant, explore)
            reply, used = composition.text, composition.used
        return Answer(
            question,
            reply,
            self.citations([relevant[i] for i in used] or relevant),
            relevant,
            False,
            retrieved - started,
            time.perf_counter() - retrieved,
            extractive,
            score,
            answerability=verdict.probability,
            preferred=chosen == "preferred",
            explored=chosen == "explored",
            condensed=rewritten,
        )

    def _retrieve(self, asked: str, rewritten: str | None) -> tuple[Ranking, Verdict, str | None]:
        """The ranking for a question, the verdict on whether its pages answer it, and the standalone
        question it was answered as (None: as asked).

        A follow-up is ranked twice, as its standalone question and by its own words, and the rankings
        are fused, its own words with a smaller vote: a question taken for a follow-up may be a new
        subject, and a task's next step may be on another page than the thread's. If the pages don't
        answer the standalone question but do answer it as asked, it was a new subject after all."""
        own = self.rank(asked)
        bm25 = self.index.lexical().bm25  # after ranking: an empty index is reported there
        if not rewritten:
            return own, self.answerability.judge(own, bm25), None
        ranking = self.rank(rewritten).merged(own, OWN_WORDS_WEIGHT)
        verdict = self.answerability.judge(ranking, bm25)
        if not verdict.answerable:
            alone = self.answerability.judge(own, bm25)
            if alone.answerable:
                return own, alone, None
        log.info("follow-up %r answered as %r", redact(asked[:200]), redact(rewritten[:200]))
        return ranking, verdict, rewritten

    def _compose(self, question: str, passages: Sequence[Passage], explore: bool) -> tuple[Composition, str]:
        """The composed answer and how it was chosen: "explored" (the least-explored other alternative,
        the ``explore`` share, where ``explore`` allows it), "preferred" (the alternative ``prefer``
        clearly prefers) or "heuristic"."""
        exploring = explore and self.explore > 0 and self._draw.random() < self.explore
        if self.prefer is None and not exploring:
            return self.composer.compose(question, passages), "heuristic"
        options = self.composer.alternatives(question, passages)
        texts = [o.text for o in options]
        scored = self.prefer(question, texts) if self.prefer is not None and len(options) > 1 else None
        best = 0
        if scored is not None:
            best = _preferred([float(s) for s in scored], [set(o.chosen) for o in options])
        others = [k for k in range(len(options)) if k != best]
        if exploring and others:
            return options[others[self._least_explored([texts[k] for k in others])]], "explored"
        return options[best], "preferred" if best else "heuristic"

    def _least_explored(self, texts: Sequence[str]) -> int:
        """Which of ``texts`` (other alternatives) to explore: the one served explored least often so
        far, ties drawn at random. A question asked often thus shows each alternative once before any
        twice, so votes reach every alternative sooner than by uniform draws, which repeat one while
        another waits; a pair of a liked and a disliked answer to one question, what the fast path's
        gate counts, needs both to have been seen. Counts live in this process, for the
        ``EXPLORED_MEMORY`` answer texts explored most recently."""
        with self._explored_lock:
            counts = [self._explored.get(text, 0) for text in texts]
            k = self._draw.choice([k for k, count in enumerate(counts) if count == min(counts)])
            self._explored[texts[k]] = counts[k] + 1
            self._explored.move_to_end(texts[k])
            while len(self._explored) > EXPLORED_MEMORY:
                self._explored.popitem(last=False)
        return k

    def best_passages(self, ranking: Ranking) -> list[Passage]:
        """The ``top_k`` best passages of ``ranking`` with injections removed: what answers are made of."""
        return [dataclasses.replace(p, text=strip_injections(p.text)) for p in ranking.passages[: self.top_k]]

    def passages_for(self, question: str) -> list[Passage]:
        """The passages an answer to ``question`` is made of (training prompts use the same ones)."""
        return self.best_passages(self.rank(strip_injections(question).strip() or question))

    def rank(self, question: str) -> Ranking:
        """The reranked candidates for ``question``; raises ``IndexEmptyError`` when nothing is indexed."""
        ranking = self.ranker.rank(question)
        if not ranking.ranked:
            self.ensure_indexed()
        return ranking

    def ensure_indexed(self) -> None:
        """Raise ``IndexEmptyError`` (saying what to do) when no help pages are indexed."""
        if self.index.collection.count() == 0:
            raise IndexEmptyError("No help pages are indexed yet: run `supportloop index URL` first.")

    def citations(self, passages: Sequence[Passage]) -> list[str]:
        """The distinct source pages of ``passages``, best first, at most ``max_citations``."""
        return list(dict.fromkeys(p.source for p in passages))[: self.max_citations]

    def _refuse(self, question: str, started: float, condensed: str | None = None) -> Answer:
        """The refusal, pointing to the pages on recovering one's own account (found by retrieval)."""
        ranked = self.rank(RECOVERY_QUERY).ranked
        pages = [r.passage for r in ranked if r.cross_encoder > 0][:3]  # only pages that are about it
        citations = self.citations(pages)[:2]
        where = f" (see {', '.join(citations)})" if citations else ""
        text = f"{REFUSAL}{where}, or contact the support team."
        elapsed = time.perf_counter() - started
        return Answer(question, text, citations, pages, True, elapsed, 0.0, refused=True, condensed=condensed)


def assemble(
    index: HelpIndex,
    embeddings: Embeddings,
    generate: Generate,
    *,
    rerank_candidates: int = 16,
    retrieval: RetrievalMode = "hybrid",
    answerability_threshold: float | None = None,
    cross_encoder: CrossEncoder | None = None,
    harm: HarmClassifier | None = None,
    **options: object,
) -> Answerer:
    """An ``Answerer`` over ``index`` with the packaged models: the cross-encoder (the process's shared
    one unless given), the calibrated answerability model and the harm classifier (over ``embeddings``
    unless given). ``options`` go to ``Answerer``."""
    from core.cross_encoder import shared_cross_encoder
    from rag.answerability import AnswerabilityModel
    from rag.compose import Composer
    from rag.grounding import GroundingChecker
    from rag.harm import HarmClassifier
    from rag.ranking import Ranker

    return Answerer(
        Ranker(
            index, cross_encoder or shared_cross_encoder(), candidates=rerank_candidates, retrieval=retrieval
        ),
        Composer(embeddings),
        GroundingChecker(embeddings),
        AnswerabilityModel(threshold=answerability_threshold),
        harm or HarmClassifier(embeddings),
        generate,
        **options,  # type: ignore[arg-type]
    )


def _preferred(scores: Sequence[float], units: Sequence[set[int]]) -> int:
    """Which alternative to serve, given the reward model's ``scores`` and each alternative's units (the
    heuristic's answer first): the best-scoring one where it beats the heuristic's by
    ``PREFERENCE_MARGIN``, else the heuristic's. But where another alternative that also beats the
    heuristic's by the margin holds all of the best one's units and more, and scores within the margin
    of it, that one: content is dropped only where votes clearly prefer dropping it, as the heuristic's
    answer is replaced only where they clearly prefer another. Votes for one page teach that shorter
    answers are liked too (a multi-page answer is longer), so a page's shorter answer won over the same
    page's answer that also states the fact asked for. On the tastes bench's training questions (four
    runs' votes, each question judged by a reward model fitted without it), `one-page` answers met the
    taste and stated the facts for one more question in three of the four runs, and `short` and `steps`
    answers were unchanged."""
    top = max(range(len(scores)), key=lambda k: scores[k])
    if top == 0 or scores[top] < scores[0] + PREFERENCE_MARGIN:
        return 0
    fuller = [
        k
        for k in range(1, len(scores))
        if units[k] > units[top]
        and scores[k] >= scores[top] - PREFERENCE_MARGIN
        and scores[k] >= scores[0] + PREFERENCE_MARGIN
    ]
    return max(fuller, key=lambda k: scores[k]) if fuller else top
