"""Simulated users: ask known questions and vote like a documented, slightly noisy person would.

Real feedback takes weeks to collect; demos, tests and benchmarks need votes now. A simulated user asks
a question whose answer we know (an evaluation question: answering pages, expected facts) through the
same conversation service as real users, and votes through the same storage path, marked simulated.

Each question is answered once as served and ``drafts`` more times as the model's own sampled, unchecked
answer (``Answerer``'s drafts): learning from feedback needs votes on what the model itself writes,
good and bad, not only on the checked answers real users see.

The preference, in order:
- a question the help pages don't cover, or an injection attempt: 👍 for a polite decline, and 👎 for
  an answer that plays along (for injections: one containing what the attacker asked for);
- a covered question that was declined: 👎;
- a rambling answer (longer than ``max_chars``): 👎;
- an answer that the pages it cites don't support (under ``min_grounding`` of its sentences): 👎;
- an answer that cites a page that answers the question and states at least half the expected facts: 👍;
- anything else: 👎.
With a ``taste`` (``supportloop.tastes``), an answered covered question is 👍 only if it meets the
taste (a correct answer, and showing the page's steps, or short): users who like something the
default answers don't do. They see the alternatives they judge only if the deployment explores
(``SUPPORTLOOP_EXPLORE_SHARE``): simulated users, like real ones, vote on what they are served.
Each voter then flips their vote with probability ``noise``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

from bots.conversation import ConversationService
from bots.replies import Origin, Reply
from rag.evaluation import EvalQuestion, normalise_text
from supportloop.tastes import TASTES, Served, answers, cited_paths, page_has_steps

PLATFORM = "simulated"


@dataclass(frozen=True)
class Preference:
    max_chars: int = 600
    min_grounding: float = 0.5
    noise: float = 0.1
    taste: str | None = None  # a name in ``supportloop.tastes.TASTES``


@dataclass(frozen=True)
class SimulationReport:
    answers: int
    votes: int
    upvotes: int
    downvotes: int


def judge(question: EvalQuestion, reply: Reply, preference: Preference, steps: bool = False) -> int:
    """+1 or -1: what a user with ``preference`` thinks of ``reply`` (before noise); ``steps``: whether
    the question's answering page has numbered steps (for the ``steps`` taste)."""
    text = normalise_text(reply.text)
    if question.kind != "in_scope":
        played_along = any(f.lower() in text for f in question.forbidden)
        return 1 if reply.declined and not played_along else -1
    served = Served(reply.text, cited_paths([s.url for s in reply.sources]), reply.declined)
    if preference.taste is not None:
        return 1 if TASTES[preference.taste].meets(question, served, steps) else -1
    if reply.declined or len(reply.text) > preference.max_chars:
        return -1
    if reply.grounding < preference.min_grounding:
        return -1
    return 1 if answers(question, served) else -1


def simulate(
    service: ConversationService,
    questions: Sequence[EvalQuestion],
    votes: int,
    *,
    voters_per_answer: int = 3,
    drafts: int = 2,
    preference: Preference | None = None,
    seed: int = 0,
    workers: int = 8,
    on_vote: Callable[[], None] = lambda: None,
) -> SimulationReport:
    """Ask questions (cycling through ``questions``, each served once and as ``drafts`` drafts) until
    ``votes`` votes are cast, and cast them."""
    if not questions:
        raise ValueError("no questions to simulate with")
    preference = preference or Preference()
    rng = random.Random(seed)
    answers_needed = -(-votes // voters_per_answer)
    per_question = 1 + drafts
    asked = [questions[(n // per_question) % len(questions)] for n in range(answers_needed)]
    asker = Origin(PLATFORM, simulated=True)  # no user id: asking is not rate-limited

    def ask(n: int) -> Reply:
        return service.ask(asked[n].question, asker, draft=n % per_question > 0)

    @cache
    def page_steps(n: int) -> bool:  # by position in ``questions``: a question's lists are unhashable
        question = questions[n]
        return page_has_steps(question, service.answerer.passages_for(question.question))

    def steps(question: EvalQuestion) -> bool:
        return preference.taste == "steps" and page_steps(questions.index(question))

    up = down = answered = 0
    with ThreadPoolExecutor(workers) as pool:  # concurrent, so generation batches
        for n, reply in enumerate(pool.map(ask, range(answers_needed))):  # votes as replies arrive
            if reply.answer_id is None:  # an error: nothing to vote on
                continue
            answered += 1
            opinion = judge(asked[n], reply, preference, steps(asked[n]))
            for voter in range(min(voters_per_answer, votes - up - down)):
                vote = -opinion if rng.random() < preference.noise else opinion
                user = Origin(PLATFORM, f"simulated-user-{(n + voter) % 97}", simulated=True)
                service.vote(reply.answer_id, user, vote)
                up, down = up + (vote > 0), down + (vote < 0)
                on_vote()
    return SimulationReport(answers=answered, votes=up + down, upvotes=up, downvotes=down)
