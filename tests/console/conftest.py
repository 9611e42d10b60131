"""A small deployment for console tests: real SQLite and Chroma, two registered model versions (folders that
pass the registry's checks without real weights) and the console served on a free port of 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pydantic import SecretStr

from core.settings import Settings
from supportloop.app import SupportLoop
from supportloop.serve import console_server

TOKEN = "correct-horse-battery-staple"
# A report as core.reports writes them: an inline style, and a plot as a data: image (here 1×1 pixel).
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
REPORT = (
    "<html><head><style>h1 { color: rgb(1, 2, 3); }</style></head><body><h1>Audit of version 1</h1>"
    f'<img alt="plot" src="data:image/png;base64,{PIXEL}"></body></html>'
)


def fake_version(folder: Path) -> Path:
    """A folder the registry accepts as a model version (never loaded: the tests answer extractively)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (folder / "model.safetensors").write_bytes(b"")
    (folder / "tokenizer.json").write_text("{}")
    return folder


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[SupportLoop]:
    settings = Settings(data_dir=tmp_path / "data", crawl_rate_per_host=1000, crawl_max_pages=3)
    with SupportLoop(settings) as loop:
        models = settings.models_dir
        loop.registry.register(0, fake_version(models / "0"), None, {"source": "bundled"}, "base")
        loop.registry.register(
            1, fake_version(models / "1"), 0, {"reward": 0.612, "win_rate": 0.55}, "passed"
        )
        loop.registry.activate(1)
        reports = settings.data_dir / "reports"
        reports.mkdir()
        (reports / "audit-1.html").write_text(REPORT)
        yield loop


@pytest.fixture
def admin_token() -> str:
    return TOKEN


@pytest.fixture
def console_url(deployment: SupportLoop) -> Iterator[str]:
    """The deployment's console, served as ``supportloop serve`` serves it."""
    with serving_console(deployment) as url:
        yield url


@contextmanager
def serving_console(loop: SupportLoop, token: str = TOKEN) -> Iterator[str]:
    """The console of ``loop`` served as ``supportloop serve`` serves it, in a thread; yields its URL."""
    settings = loop.settings.model_copy(update={"admin_token": SecretStr(token), "console_port": 0})
    ready: list[int | None] = []
    started = threading.Event()
    stop: list[asyncio.Event] = []
    event_loop = asyncio.new_event_loop()

    async def run() -> None:
        stop.append(asyncio.Event())
        async with console_server(loop.admin, settings, lambda line: None) as port:
            ready.append(port)
            started.set()
            await stop[0].wait()

    thread = threading.Thread(target=event_loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    assert started.wait(20), "the console did not start"
    try:
        yield f"http://127.0.0.1:{ready[0]}"
    finally:
        event_loop.call_soon_threadsafe(stop[0].set)
        thread.join(15)
        event_loop.close()
