"""Tastes are predicates on what a user is served, and exploration lets users see what they judge."""

from collections import Counter

import pytest

from bots.conversation import Reply, Source
from rag.answerer import Answerer
from rag.compose import Composition
from rag.evaluation import EvalQuestion
from rag.passage import Passage
from supportloop.simulate import Preference, judge
from supportloop.tastes import SHORT_CHARS, TASTES, Served, answers, page_has_steps

RESET = EvalQuestion("q1", "How do I reset my password?", "in_scope", ["/security/reset.html"], ["24 hours"])
PAGE = frozenset({"/security/reset.html"})
PROSE = "Open the sign-in page and choose Forgot password; the link works for 24 hours."
STEPS = (
    "To reset it:\n1. Open the sign-in page.\n2. Choose Forgot password.\n3. Use the link within 24 hours."
)
STEPS_PASSAGE = Passage(
    "p", "Security > Reset\n" + STEPS, "http://help/security/reset.html", "Security", "Reset", 0.8
)
PROSE_PASSAGE = Passage(
    "r", "Security > Reset\n" + PROSE, "http://help/security/reset.html", "Security", "Reset", 0.8
)
OTHER_PAGE = Passage("o", "FAQ > Steps\n1. Something else.", "http://help/faq.html", "FAQ", "Steps", 0.5)


def test_an_answer_is_correct_when_it_cites_an_answering_page_and_states_half_the_facts():
    assert answers(RESET, Served(PROSE, PAGE))
    assert not answers(RESET, Served(PROSE, frozenset({"/faq.html"})))  # another page
    assert not answers(RESET, Served("Open the sign-in page.", PAGE))  # the fact is missing
    assert not answers(RESET, Served(PROSE, PAGE, declined=True))


def test_the_steps_taste_wants_the_page_s_steps_where_it_has_them():
    steps = TASTES["steps"]
    assert steps.meets(RESET, Served(STEPS, PAGE), True)
    assert not steps.meets(RESET, Served(PROSE, PAGE), True)  # correct, but prose only
    assert steps.meets(RESET, Served(PROSE, PAGE), False)  # no steps to show: correct is enough
    assert not steps.meets(RESET, Served(STEPS, frozenset({"/faq.html"})), True)  # steps, wrong page
    assert steps.applies(True) and not steps.applies(False)
    assert page_has_steps(RESET, [PROSE_PASSAGE, STEPS_PASSAGE])
    assert not page_has_steps(RESET, [PROSE_PASSAGE, OTHER_PAGE])  # steps on a page that doesn't answer


def test_the_short_taste_wants_the_shortest_answer_that_still_answers():
    short = TASTES["short"]
    assert short.meets(RESET, Served(PROSE, PAGE), False)
    assert not short.meets(RESET, Served(PROSE + " " + "More detail." * 20, PAGE), False)
    assert len(PROSE + " " + "More detail." * 20) > SHORT_CHARS
    assert not short.meets(RESET, Served("Use the link.", PAGE), False)  # short but missing the fact
    assert short.applies(False) and short.applies(True)


def test_the_one_page_taste_dislikes_answers_that_send_users_to_several_pages():
    one_page = TASTES["one-page"]
    assert one_page.meets(RESET, Served(PROSE, PAGE), False)
    assert not one_page.meets(RESET, Served(PROSE, PAGE | {"/faq.html"}), False)  # correct, two pages
    assert not one_page.meets(RESET, Served(PROSE, frozenset({"/faq.html"})), False)  # the wrong page
    assert one_page.applies(False) and one_page.applies(True)


@pytest.mark.parametrize("taste", sorted(TASTES))
def test_simulated_users_with_a_taste_vote_by_it_and_dislike_wrong_answers(taste):
    page = Source("Reset", "http://127.0.0.1:1/security/reset.html")
    other = Source("FAQ", "http://127.0.0.1:1/faq.html")
    users = Preference(noise=0, taste=taste)
    liked = Reply(STEPS if taste == "steps" else PROSE, "answer", 1, (page,))
    assert judge(RESET, liked, users, steps=True) == 1
    disliked = {
        "short": Reply(PROSE + " More." * 40, "answer", 1, (page,)),
        "one-page": Reply(PROSE, "answer", 1, (page, other)),
    }.get(taste, Reply(PROSE, "answer", 1, (page,)))
    assert judge(RESET, disliked, users, steps=True) == -1
    assert judge(RESET, Reply(liked.text, "answer", 1, (other,)), users, steps=True) == -1
    assert judge(RESET, Reply("Not covered.", "declined", 1), users, steps=True) == -1


class Alternatives:
    """A composer offering three fixed answers, the heuristic's first."""

    def alternatives(self, question: str, passages: object) -> list[Composition]:
        return [Composition(text, [], []) for text in ("heuristic", "short", "steps")]

    def compose(self, question: str, passages: object) -> Composition:
        return self.alternatives(question, passages)[0]


def composed(explore: float, prefer: object = None, times: int = 400) -> Counter:
    answerer = Answerer(None, Alternatives(), None, None, None, None, prefer=prefer, explore=explore)  # type: ignore[arg-type]
    return Counter((c.text, how) for c, how in (answerer._compose("q", [], True) for _ in range(times)))


def test_exploration_serves_a_share_of_other_alternatives_and_only_then():
    assert composed(0.0) == Counter({("heuristic", "heuristic"): 400})
    shown = composed(0.25)
    explored = sum(n for (_, how), n in shown.items() if how == "explored")
    assert 60 <= explored <= 140  # about a quarter
    assert {text for (text, how) in shown if how == "explored"} == {"short", "steps"}


class Nested(Alternatives):
    """The heuristic's answer (units 0, 1, 3), one page's fuller answer (1, 2) and its shorter one (1)."""

    def alternatives(self, question: str, passages: object) -> list[Composition]:
        return [
            Composition("heuristic", [0, 1, 3], []),
            Composition("fuller", [1, 2], []),
            Composition("shorter", [1], []),
        ]


@pytest.mark.parametrize(("fuller", "served"), [(0.58, "fuller"), (0.5, "shorter"), (0.14, "shorter")])
def test_a_fuller_answer_is_served_unless_votes_clearly_prefer_dropping_its_extra(fuller, served):
    def prefer(question: str, texts: list[str]) -> list[float]:
        return [{"heuristic": 0.1, "fuller": fuller, "shorter": 0.6}[text] for text in texts]

    answerer = Answerer(None, Nested(), None, None, None, None, prefer=prefer)  # type: ignore[arg-type]
    composition, how = answerer._compose("q", [], False)
    assert (composition.text, how) == (served, "preferred")


def test_an_explored_answer_is_never_the_one_the_reward_model_would_serve():
    def prefers_steps(question: str, texts: list[str]) -> list[float]:
        return [0.9 if text == "steps" else 0.1 for text in texts]

    shown = composed(0.25, prefers_steps)
    assert {key for key in shown} == {
        ("steps", "preferred"),
        ("heuristic", "explored"),
        ("short", "explored"),
    }
