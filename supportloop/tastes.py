"""Tastes: what a group of users likes beyond a correct answer, as predicates on what they are served.

A company's users have a taste, and the fast path is meant to learn it from their votes. A taste here
is a documented, testable rule, so a simulated user can vote by it and a benchmark can count how many
served answers meet it:

- ``steps``: where an answering page has numbered steps, the answer shows them (a line "1. …"); a
  prose-only answer or a bare link is 👎 however correct. Where the page has no steps, a correct
  answer is enough.
- ``short``: the answer is at most ``SHORT_CHARS`` characters: the shortest answer that still answers;
  a longer one is 👎 however correct.
- ``one-page``: the answer quotes and cites one page only; an answer that sends the user to several
  pages is 👎 however correct.

Every taste first asks for a correct answer: it cites a page that answers the question and states at
least half of the expected facts. A wrong answer (another page, missing facts, a decline) is 👎 for
every taste, so votes teach a reward model correctness as well as the taste, not "short" or "has
steps" alone (a reward model that learnt only that would prefer short wrong answers, and the audit
refuses it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from rag.compose import STEP
from rag.evaluation import EvalQuestion, fact_recall

if TYPE_CHECKING:
    from rag.passage import Passage

SHORT_CHARS = 200  # about two sentences: the best single unit of most demo answers fits


@dataclass(frozen=True)
class Served:
    """What a user saw: the answer text, the URL paths of the pages it cites, whether it declined."""

    text: str
    cited: frozenset[str]
    declined: bool = False


def cited_paths(urls: Sequence[str]) -> frozenset[str]:
    """The URL paths of cited pages (questions name answering pages by path, whatever the host)."""
    return frozenset(urlsplit(url).path for url in urls)


def answers(question: EvalQuestion, served: Served) -> bool:
    """Correct: not declined, cites an answering page, and states at least half the expected facts."""
    if served.declined or not served.cited & set(question.source):
        return False
    recall = fact_recall(served.text, question.facts)
    return recall is None or recall >= 0.5


def shows_steps(text: str) -> bool:
    """Whether the answer shows numbered steps, one per line, as the pages write them."""
    return any(STEP.match(line) for line in text.splitlines())


def page_has_steps(question: EvalQuestion, passages: Sequence[Passage]) -> bool:
    """Whether a passage of an answering page, among those retrieved for the question, has steps."""
    return any(urlsplit(p.source).path in question.source and shows_steps(p.text) for p in passages)


@dataclass(frozen=True)
class Taste:
    name: str
    description: str
    # Whether a served answer meets the taste, given whether the question's answering page has steps.
    meets: Callable[[EvalQuestion, Served, bool], bool]
    # Whether the taste asks more than correctness of a question (given page_has_steps): the questions
    # a benchmark counts the taste on.
    applies: Callable[[bool], bool]


TASTES = {
    "steps": Taste(
        "steps",
        "a correct answer that shows the page's numbered steps where the page has them",
        lambda question, served, steps: answers(question, served) and (shows_steps(served.text) or not steps),
        lambda steps: steps,
    ),
    "short": Taste(
        "short",
        f"a correct answer of at most {SHORT_CHARS} characters",
        lambda question, served, steps: answers(question, served) and len(served.text) <= SHORT_CHARS,
        lambda steps: True,
    ),
    "one-page": Taste(
        "one-page",
        "a correct answer that quotes and cites one page only",
        lambda question, served, steps: answers(question, served) and len(served.cited) == 1,
        lambda steps: True,
    ),
}
