"""``supportloop harm calibrate``: the harm classifier refitted with the model server's reading, saved
only where the reading raised held-out recall, and used from then on; a server that can't be read is a
one-line error that writes nothing. The model server is a local stand-in on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes.openai_server import FakeModelServer
from helpers import one_line_error, run_cli

from rag.harm_reader import EXAMPLES, prompt_fingerprint
from training.harm_classifier import calibration_rows, training_rows

pytestmark = pytest.mark.slow


def knowing_model():
    """A stand-in model that knows which training requests are harmful: its reading has to help."""
    texts, labels, _ = training_rows()
    harmful = {f"Request: {text}" for text, label in zip(texts, labels, strict=True) if label}

    def judge(messages: list[dict[str, str]]) -> dict[str, float]:
        return {"YES": -0.1, "NO": -2.4} if messages[-1]["content"] in harmful else {"NO": -0.1, "YES": -2.4}

    return judge


def server_env(server: FakeModelServer, data_dir: Path) -> dict[str, str]:
    return {"SUPPORTLOOP_DATA_DIR": str(data_dir), "SUPPORTLOOP_LLM_URL": server.url, "COLUMNS": "200"}


def test_a_reading_that_helps_is_calibrated_saved_and_used(tmp_path):
    data_dir = tmp_path / "data"
    with FakeModelServer(judge=knowing_model()) as server:
        calibrated = run_cli("harm", "calibrate", env=server_env(server, data_dir))
        assert calibrated.returncode == 0, calibrated.stderr
        status = run_cli("status", env=server_env(server, data_dir))
    assert len(server.requests) == calibration_rows().sum() == len(training_rows()[0]) - len(EXAMPLES)
    stored = json.loads((data_dir / "harm_reader.json").read_text(encoding="utf-8"))
    assert stored["model"] == "supportloop" and stored["prompt"] == prompt_fingerprint()
    assert stored["cross_validated"]["recall"] > stored["without_reader"]["recall"]
    assert "Saved" in calibrated.stdout and "recall" in calibrated.stdout
    assert "Harm reader" in status.stdout and "on (supportloop)" in status.stdout


def test_a_server_that_cannot_be_read_writes_nothing(tmp_path):
    data_dir = tmp_path / "data"
    with FakeModelServer() as server:  # replies with text only: no log-probabilities
        result = run_cli("harm", "calibrate", env=server_env(server, data_dir))
    assert result.returncode != 0
    assert "top_logprobs" in one_line_error(result)
    assert not (data_dir / "harm_reader.json").exists()


def test_without_a_model_server_it_says_what_to_set(tmp_path):
    result = run_cli("harm", "calibrate", env={"SUPPORTLOOP_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode != 0 and "SUPPORTLOOP_LLM_URL" in one_line_error(result)
