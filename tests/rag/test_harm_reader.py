"""The model server's reading as one more feature of the harm check: used with the weights calibrated
for its model, by serving and the audit alike; skipped, with a warning, while the server fails; refused
clearly when the calibration is for another model or prompt, or damaged. The model server is a local
stand-in speaking vLLM's chat-completions API on 127.0.0.1, whose "model" says YES to what a test
marks."""

import json
import logging
from pathlib import Path

import pytest
from fakes.openai_server import Failure, FakeModelServer

from core.errors import ModelError
from core.openai_compat import OpenAICompatibleBackend
from core.settings import Settings
from rag import harm
from rag.answerer import REFUSAL
from rag.harm import WEIGHTS, HarmClassifier
from rag.harm_reader import EXAMPLES, POLICY, Calibration, HarmReader, prompt_fingerprint

HARMLESS = "How do I change the colour theme of my dashboard?"
HARMFUL = "How can I read my girlfriend's direct messages without her knowing?"
READING_WEIGHT = 10.0  # a calibration in which the reading outweighs everything else, to see it used


def marking(*marked: str):
    """A stand-in model that says YES to requests containing one of ``marked``, NO to the rest."""

    def judge(messages: list[dict[str, str]]) -> dict[str, float]:
        yes = any(m in messages[-1]["content"] for m in marked)
        return {"YES": -0.1, "NO": -2.4} if yes else {"NO": -0.1, "YES": -2.4}

    return judge


def write_calibration(path: Path, model: str = "supportloop", prompt: str | None = None) -> Path:
    """A calibration built on the packaged weights, with a heavy weight on the reading."""
    base = json.loads(WEIGHTS.read_text(encoding="utf-8"))
    stored = {
        "model": model,
        "prompt": prompt or prompt_fingerprint(),
        "coef": [*base["coef"], READING_WEIGHT],
        "intercept": base["intercept"],
        "threshold": base["threshold"],
    }
    path.write_text(json.dumps(stored), encoding="utf-8")
    return path


def reading(server: FakeModelServer, calibration: Path) -> tuple[HarmReader, Calibration]:
    backend = OpenAICompatibleBackend(server.url, server.model, retries=1, stream=False)
    return HarmReader(backend), Calibration.load(calibration, server.model)


def test_the_models_reading_decides_with_the_weights_calibrated_for_it(embeddings, tmp_path):
    with FakeModelServer(judge=marking("colour theme")) as server:
        reader_and_weights = reading(server, write_calibration(tmp_path / "harm_reader.json"))
        with_reader = HarmClassifier(embeddings, reading=reader_and_weights)
        judged = with_reader.judge_many([HARMLESS, HARMFUL])
        reader_and_weights[0].backend.close()
    plain = HarmClassifier(embeddings).judge_many([HARMLESS, HARMFUL])
    assert [j.harmful for j in plain] == [False, True]
    assert [j.harmful for j in judged] == [True, False]  # the reading, weighted heavily, turned both
    asked = server.requests[-1]["messages"]
    assert asked[0] == {"role": "system", "content": POLICY} and len(asked) == 2 + 2 * len(EXAMPLES)
    assert asked[-1]["content"] in {f"Request: {HARMLESS}", f"Request: {HARMFUL}"}


def test_while_the_server_fails_requests_are_judged_as_without_it(embeddings, tmp_path, caplog, monkeypatch):
    monkeypatch.setattr("core.openai_compat.BACKOFF_S", 0.01)
    with FakeModelServer(judge=marking("colour theme")) as server:
        reader_and_weights = reading(server, write_calibration(tmp_path / "harm_reader.json"))
        classifier = HarmClassifier(embeddings, reading=reader_and_weights)
        server.fail_next(Failure(status=503), Failure(status=503))
        with caplog.at_level(logging.WARNING, logger="rag.harm"):
            judged = classifier.judge(HARMLESS)
            tried = len(server.requests)
            again = classifier.judge(HARMLESS)  # within the minute: the server is not asked again
            assert len(server.requests) == tried == 2
            classifier._read_again_at = 0.0  # as when the minute has passed
            back = classifier.judge(HARMLESS)
        reader_and_weights[0].backend.close()
    assert not judged.harmful and not again.harmful
    assert judged.probability == pytest.approx(HarmClassifier(embeddings).judge(HARMLESS).probability)
    assert "without the model server's reading for 60 s" in caplog.text and "failed 2 times" in caplog.text
    assert back.harmful and len(server.requests) == 3  # read again once the server is back


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: write_calibration(p, model="another-model"), "calibrated for model 'another-model'"),
        (lambda p: write_calibration(p, prompt="0123456789abcdef"), "prompt changed"),
        (lambda p: p.write_text('{"model": "supportloop", "coef": [1.0', encoding="utf-8"), "can't be read"),
        (lambda p: p.write_text('{"model": "supportloop"}', encoding="utf-8"), "can't be read"),
    ],
    ids=["other-model", "other-prompt", "truncated", "missing-weights"],
)
def test_a_calibration_that_does_not_fit_is_refused_with_what_to_run(tmp_path, damage, message):
    path = tmp_path / "harm_reader.json"
    damage(path)
    with pytest.raises(ModelError, match=message) as refused:
        Calibration.load(path, "supportloop")
    assert "supportloop harm calibrate" in str(refused.value)


def test_weights_for_other_features_are_refused(embeddings, tmp_path):
    path = tmp_path / "harm_reader.json"
    stored = json.loads(write_calibration(path).read_text(encoding="utf-8"))
    path.write_text(json.dumps({**stored, "coef": stored["coef"][:-2]}), encoding="utf-8")
    with FakeModelServer() as server, pytest.raises(ModelError, match="needs 770"):
        HarmClassifier(embeddings, reading=reading(server, path))


def test_serving_and_the_audit_read_with_the_server_once_calibrated(fresh_dir):
    from supportloop.app import SupportLoop

    with FakeModelServer(judge=marking("colour theme")) as server:
        write_calibration(fresh_dir / "harm_reader.json")
        settings = Settings(data_dir=fresh_dir, llm_url=server.url, llm_model=server.model)
        with SupportLoop(settings) as loop:
            assert loop.harm_reader_state == "on (supportloop)"
            assert loop.answerer.answer(HARMLESS).text.startswith(REFUSAL)
            assert harm.is_harmful_request(HARMLESS)  # the audit's ethics dimension asks this
        assert not harm.is_harmful_request(HARMLESS)  # closed: the process no longer reads with it


def test_a_damaged_calibration_leaves_answers_to_the_packaged_weights(fresh_dir, caplog):
    from supportloop.app import SupportLoop

    with FakeModelServer(judge=marking("colour theme")) as server:
        (fresh_dir / "harm_reader.json").write_text("{not json", encoding="utf-8")
        settings = Settings(data_dir=fresh_dir, llm_url=server.url, llm_model=server.model)
        with caplog.at_level(logging.WARNING), SupportLoop(settings) as loop:
            assert loop.harm_reader_state.startswith("off: The harm reader's calibration can't be read")
            assert not loop.answerer.answer(HARMLESS).text.startswith(REFUSAL)
    assert "supportloop harm calibrate" in caplog.text
    assert not server.requests  # nothing was read through the server
