"""Helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

GUARD_DIR = Path(__file__).parent / "guard"
sys.path.insert(0, str(GUARD_DIR))


CLI = str(Path(sys.executable).parent / "supportloop")  # the installed command


def cli_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a ``supportloop`` subprocess: this one's, plus ``env``, under the network guard.

    The guard first; a PYTHONPATH already set (a checkout other than the installed one) is kept.
    """
    python_path = os.pathsep.join(filter(None, [str(GUARD_DIR), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": python_path, **(env or {})}


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run the installed ``supportloop`` command in a subprocess, under the network guard."""
    return subprocess.run(
        [CLI, *args],
        capture_output=True,
        text=True,
        env=cli_env(env),
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The CLI's error output, asserted to be a single line with no traceback."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    return lines[0]


def copy_model(model_dir: Path, target: Path, weights: bytes | None = None) -> Path:
    """A copy of a model folder for a test to damage: ``weights`` replaces the weights file; without
    it the copy links to the original weights rather than copying 500 MB."""
    shutil.copytree(model_dir, target, ignore=shutil.ignore_patterns("model.safetensors"))
    if weights is None:
        (target / "model.safetensors").symlink_to(model_dir / "model.safetensors")
    else:
        (target / "model.safetensors").write_bytes(weights)
    return target


class PlatformThread:
    """Runs a chat platform adapter on its own event loop in a thread, as ``supportloop serve`` would."""

    def __init__(self, platform: Any) -> None:
        self.platform = platform
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="platform", daemon=True)

    def __enter__(self) -> PlatformThread:
        self.thread.start()
        try:
            self.call(self.platform.start(), 20)
        except BaseException:
            self.__exit__()
            raise
        return self

    def call(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __exit__(self, *exc: object) -> None:
        if self.loop.is_running():
            self.call(self.platform.stop(), 15)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def record_answer(
    records: Any, question: str = "How do refunds work?", answer: str = "Within 30 days.", **fields: Any
) -> int:
    """Store an answer as the conversation service would, with plausible defaults for what a test ignores."""
    values = {
        "citations": ["http://127.0.0.1/r"],
        "passage_ids": ["p1"],
        "declined": False,
        "model_version": 0,
        "platform": "console",
        "latency_s": 0.5,
        **fields,
    }
    return records.add_answer(question=question, answer=answer, **values)


def assert_servable_by_model_servers(folder: Path) -> None:
    """What vLLM and TGI load from a version folder, also on transformers 4: safetensors weights, a
    tokenizer class they know and the chat template inside ``tokenizer_config.json``."""
    assert json.loads((folder / "config.json").read_text())["architectures"] == ["LlamaForCausalLM"]
    assert list(folder.glob("*.safetensors"))
    tokenizer = json.loads((folder / "tokenizer_config.json").read_text())
    assert tokenizer["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert "{% for message in messages %}" in tokenizer["chat_template"]
    assert not {"is_local", "local_files_only"} & set(tokenizer)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (closed again: a test may start a server there, or
    use it as a place where nothing answers)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
