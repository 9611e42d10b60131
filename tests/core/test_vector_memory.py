"""Remembered vectors are the encoder's own, repeats are not encoded again, and the memory keeps to its
size; the grounding checker judges the same with and without remembered page sentences."""

import numpy as np

from core.vector_memory import VectorMemory
from rag.grounding import GroundingChecker
from rag.passage import Passage

TEXTS = [f"How do I export my {thing}?" for thing in ("invoices", "contacts", "notes", "photos", "vaults")]


def test_repeats_are_encoded_once_and_the_memory_keeps_to_its_size(embeddings):
    asked: list[str] = []

    def encode(texts: list[str]) -> np.ndarray:
        asked.extend(texts)
        return np.asarray(embeddings.embed_documents(texts))

    memory = VectorMemory(encode, size=3)
    first = memory(TEXTS[:3] + TEXTS[:1])
    assert sorted(asked) == sorted(TEXTS[:3]) and len(memory) == 3
    assert np.allclose(first, np.asarray(embeddings.embed_documents(TEXTS[:3] + TEXTS[:1])), atol=1e-6)

    asked.clear()
    again = memory(TEXTS[2:0:-1] + TEXTS[3:])  # two remembered, two new: the oldest two are let go
    assert sorted(asked) == sorted(TEXTS[3:]) and len(memory) == 3
    assert np.allclose(again[:2], first[2:0:-1]) and again.shape == (4, first.shape[1])
    asked.clear()
    memory(TEXTS[:1])
    assert asked == TEXTS[:1]  # let go, so encoded again
    assert memory([]).shape == (0, 0)


def test_grounding_judges_the_same_when_page_sentences_are_remembered(embeddings):
    page = Passage(
        "p1", "Refunds take 14 days. Open Billing to ask for one.", "https://x/refunds", "Refunds", "", 1.0
    )
    checker = GroundingChecker(embeddings)
    answers = ["A refund takes 14 days.", "A refund takes 30 days.", "Open Billing to ask for a refund."]
    fresh = [GroundingChecker(embeddings).check(a, [page]) for a in answers]
    remembered = [checker.check(a, [page]) for a in answers]  # the page's sentences encoded once
    assert [g.grounded for g in remembered] == [g.grounded for g in fresh] == [True, False, True]
    assert len(checker._vectors) == 2 + len(answers)
