"""Answers from the real bundled model over the real index of the demo help center."""

import pytest

from core.errors import IndexEmptyError, SupportLoopError
from rag.answerer import Answerer
from rag.index import HelpIndex

pytestmark = pytest.mark.slow


def test_an_answer_is_generated_and_cites_the_page_it_came_from(serving):
    answer = serving.answerer.answer("How long is the refund window for annual plans?")
    assert not answer.declined
    assert answer.text.strip()
    assert any(c.endswith("/billing/refunds.html") for c in answer.citations)
    assert len(answer.citations) <= serving.settings.max_citations
    assert answer.generation_s > 0 and answer.retrieval_s > 0


def test_an_unrelated_question_is_declined_with_the_closest_pages(serving):
    answer = serving.answerer.answer("What is a good recipe for banana bread?")
    assert answer.declined
    assert answer.citations == []
    assert answer.text.startswith("I couldn't find this in the help pages.")
    assert answer.generation_s == 0.0


@pytest.mark.parametrize("question", ["", "   ", "x" * 5000])
def test_empty_or_huge_questions_are_refused(serving, question):
    with pytest.raises(SupportLoopError):
        serving.answerer.answer(question)


def test_an_empty_index_says_to_index_first(tmp_path, embeddings):
    answerer = Answerer(HelpIndex(tmp_path / "chroma", "empty", embeddings), lambda c, n: "unused")
    with pytest.raises(IndexEmptyError, match="supportloop index"):
        answerer.answer("How do refunds work?")
