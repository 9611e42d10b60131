"""A follow-up in a thread is answered as the standalone question its thread makes of it.

The rules are checked on their own first (no models); then the answerer over the real index of the
demo help center, where a follow-up finds its page only in its thread.
"""

import json

import pytest

from rag.answerer import REFUSAL, Answer, assemble
from rag.condense import condense, is_follow_up
from rag.evaluation import evaluate_follow_ups, load_conversations
from rag.passage import Passage
from rag.ranking import Ranked, Ranking

RESET = "how do I reset my password?"


def test_a_fragment_completes_the_previous_question():
    assert condense("and on mobile?", [RESET]) == "how do I reset my password on mobile?"
    share = "how do I make a share link for a file?"
    assert (
        condense("what about for a whole folder?", [share])
        == "how do I make a share link for a file for a whole folder?"
    )


def test_a_question_that_refers_back_gains_the_previous_question():
    suspend = "how do I suspend an account as an admin?"
    assert condense("can I undo that later?", [suspend]) == f"can I undo that later? ({suspend})"
    move = "how do I move to another server?"
    assert condense("can I see my old posts there?", [move]) == f"can I see my old posts there? ({move})"
    pin = "how do I feature a hashtag on my profile?"
    assert condense("how many can I pin?", [pin]) == f"how many can I pin? ({pin})"  # no subject of its own


def test_a_longer_question_that_refers_back_still_leans_on_the_thread():
    delete = "how do I permanently delete a file I uploaded by mistake?"
    follow_up = "can regular members do that in a team workspace, or only admins?"  # five words of its own
    assert condense(follow_up, [delete]) == f"{follow_up} ({delete})"


def test_rankings_of_two_wordings_are_fused_keeping_the_first_ones_scores():
    def passage(name):
        return Passage(name, f"text of {name}", f"http://help/{name}", "Title", "", 0.5)

    a, b, c = passage("a"), passage("b"), passage("c")
    standalone = Ranking("standalone", [Ranked(a, 5.0, 0.0), Ranked(b, 1.0, 0.0)])
    as_asked = Ranking("as asked", [Ranked(c, 9.0, 0.0), Ranked(b, 7.0, 0.0)])
    merged = standalone.merged(as_asked, 0.5)
    assert merged.question == "standalone"
    assert [r.passage.id for r in merged.ranked] == ["b", "a", "c"]  # in both lists: 1/7 + 0.5/7 > 1/6
    assert [r.cross_encoder for r in merged.ranked] == [1.0, 5.0, 9.0]
    assert [r.passage.id for r in standalone.merged(as_asked, 2.0).ranked] == ["b", "c", "a"]


@pytest.mark.parametrize(
    "question",
    [
        "how do I export all my data?",
        "is there a discount for schools?",  # "is there" points at nothing earlier
        "are there limits on uploads from the desktop app?",
        "How do I invite members to my workspace?",
    ],
)
def test_a_standalone_question_is_left_as_it_was(question):
    assert not is_follow_up(question)
    assert condense(question, [RESET]) is None


def test_without_a_thread_nothing_is_rewritten():
    assert is_follow_up("and on mobile?")
    assert condense("and on mobile?", []) is None


def test_a_chain_of_follow_ups_keeps_the_subject_of_the_first_question():
    assert condense("how long does it take?", [RESET, "and on mobile?"]) == (
        "how long does it take? (how do I reset my password on mobile?)"
    )
    assert condense("and on linux?", ["how do I install the desktop app?", "where are its logs?"]) == (
        "where are its logs on linux? (how do I install the desktop app?)"
    )


def test_follow_ups_are_scored_in_their_thread_and_alone(tmp_path):
    lines = [
        {"id": "c1", "turns": ["first?", "and then?"], "source": ["/a"], "facts": ["x"], "split": "dev"},
        {"id": "c2", "turns": ["first?", "more?"], "source": ["/b"], "facts": [], "split": "test"},
    ]
    path = tmp_path / "conversations.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    threads = []

    def answer(question, thread=()):
        threads.append(list(thread))
        return Answer(question, "x", ["http://127.0.0.1/a"], [], False, 0.1, 0.1)

    dev = load_conversations(path, "dev")
    assert [c.id for c in dev] == ["c1"] and len(load_conversations(path)) == 2
    assert [r.hit1 for r in evaluate_follow_ups(dev, answer)] == [True]
    evaluate_follow_ups(dev, answer, with_thread=False)
    assert threads == [["first?"], []]


@pytest.fixture(scope="module")
def answerer(serving):
    """The demo index's answerer in the default extractive mode (no chat model needed)."""
    return assemble(serving.index, serving.embeddings, lambda conversation, tokens: "unused")


@pytest.mark.slow
def test_a_follow_up_cites_its_page_in_its_thread_and_not_alone(answerer):
    first = "how do I restore a file I deleted?"
    alone = answerer.answer("and from my phone?")
    followed = answerer.answer("and from my phone?", thread=[first])
    assert followed.condensed == "how do I restore a file I deleted from my phone?"
    assert followed.citations[0].endswith("/files/restore-deleted.html")
    assert not any(c.endswith("/files/restore-deleted.html") for c in alone.citations)
    assert alone.condensed is None


@pytest.mark.slow
def test_a_follow_up_about_another_page_still_finds_it(answerer):
    followed = answerer.answer("also, where do I download invoices?", thread=[RESET])
    assert followed.condensed == f"also, where do I download invoices? ({RESET})"
    assert followed.citations[0].endswith("/billing/invoices.html")


@pytest.mark.slow
def test_a_new_subject_taken_for_a_follow_up_still_finds_its_page(answerer):
    earlier = "which env var do I set so the CLI can authenticate in our CI pipeline?"
    question = "what can a Manager do on a shared folder that an Editor can't?"  # "that" refers back
    assert condense(question, [earlier]) == f"{question} ({earlier})"
    answer = answerer.answer(question, thread=[earlier])
    assert not answer.declined
    assert answer.citations[0].endswith("/sharing/folder-permissions.html")


@pytest.mark.slow
def test_a_new_subject_after_a_question_the_pages_dont_cover_is_answered_as_asked(answerer):
    earlier = "Who is the CEO of Tidepool Labs?"
    question = "how do I restore that file I deleted?"  # "that" looks back, but the subject is new
    assert condense(question, [earlier]) == f"{question} ({earlier})"
    answer = answerer.answer(question, thread=[earlier])
    assert not answer.declined and answer.condensed is None
    assert answer.citations[0].endswith("/files/restore-deleted.html")


@pytest.mark.slow
def test_a_follow_up_is_refused_when_its_thread_makes_it_harmful(answerer):
    follow_up = "can I do it for my girlfriend without telling her?"
    assert not answerer.answer(follow_up).refused
    refused = answerer.answer(follow_up, thread=[RESET])
    assert refused.refused and refused.text.startswith(REFUSAL)
    assert refused.question == follow_up and refused.condensed == f"{follow_up} ({RESET})"
