"""Shared fixtures: offline environment, the network guard, the demo site, a prepared data directory.

Expensive things are made once per session: version 0 of the chat model (converted from the bundled
GGUF) and an index of the bundled demo help center. Tests that change state get their own data
directory and point ``SUPPORTLOOP_MODEL_PATH`` at the shared model folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

# `make test` runs one pytest worker per core: a worker (and the CLI processes it starts) that also
# spread each product over every core only make the workers' threads wait on each other. Measured with
# two workers on two cores: embedding 600 texts took 24 s with two threads each, 18 s with one.
if workers := os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // int(workers))))

import helpers  # puts tests/guard on sys.path
import netguard

from supportloop.logs import quiet_environment

quiet_environment()
netguard.install()


@pytest.fixture(autouse=True)
def _no_network(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test if it (or a subprocess it started) tried to reach anything but loopback."""
    log = tmp_path_factory.mktemp("netguard") / "attempts.log"
    monkeypatch.setenv("SUPPORTLOOP_NETGUARD_LOG", str(log))
    before = len(netguard.ATTEMPTS)
    yield
    attempts = netguard.ATTEMPTS[before:]
    if log.exists():
        attempts += log.read_text().splitlines()
    assert not attempts, f"network access outside loopback: {attempts}"


@pytest.fixture(autouse=True)
def _clean_settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No SUPPORTLOOP_* variable or .env of the developer's leaks into a test.

    Chat answers are served without exploring, so that a test asking twice gets the same answer;
    the tests of exploration set the share themselves."""
    for name in list(os.environ):
        if name.startswith("SUPPORTLOOP_") and name != "SUPPORTLOOP_NETGUARD_LOG":
            monkeypatch.delenv(name)
    monkeypatch.setenv("SUPPORTLOOP_EXPLORE_SHARE", "0")
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def site_url() -> Iterator[str]:
    from supportloop.demo_site import serve_demo_site

    with serve_demo_site(0) as url:
        yield url


@pytest.fixture(scope="session")
def prepared_dir(tmp_path_factory: pytest.TempPathFactory, site_url: str) -> Path:
    """A data directory with model version 0 and the demo site indexed, made once per session."""
    from core.settings import Settings
    from rag.ingest import ingest_site
    from supportloop.app import SupportLoop

    data_dir = tmp_path_factory.mktemp("prepared")
    with SupportLoop(Settings(data_dir=data_dir, crawl_rate_per_host=1000)) as loop:
        loop.registry.current()
        ingest_site([site_url], loop.index, loop.settings)
    return data_dir


@pytest.fixture(scope="session")
def model_dir(prepared_dir: Path) -> Path:
    return prepared_dir / "models" / "0"


@pytest.fixture(scope="session")
def embeddings():
    from core.embedder import load_embeddings

    return load_embeddings()


@pytest.fixture
def fresh_dir(tmp_path: Path, prepared_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new data directory with a copy of the prepared index; the shared model folder via settings."""
    data_dir = tmp_path / "data"
    shutil.copytree(prepared_dir / "chroma", data_dir / "chroma")
    monkeypatch.setenv("SUPPORTLOOP_DATA_DIR", str(data_dir))
    monkeypatch.setenv("SUPPORTLOOP_MODEL_PATH", str(prepared_dir / "models" / "0"))
    monkeypatch.setenv("SUPPORTLOOP_MAX_NEW_TOKENS", "24")
    return data_dir


@pytest.fixture(scope="session")
def serving(prepared_dir: Path) -> Iterator[object]:
    """A running SupportLoop over the prepared directory, the chat model generating (answers kept short)."""
    from core.settings import Settings
    from supportloop.app import SupportLoop

    with SupportLoop(Settings(data_dir=prepared_dir, max_new_tokens=24, answer_mode="generate")) as loop:
        yield loop


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A PostgreSQL server on 127.0.0.1 for the session (Debian's package); its base SQLAlchemy URL."""
    from postgres_server import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database for one test, in SQLite and (a second run of the test) in PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db.sqlite'}"
        return
    from postgres_server import fresh_database

    with fresh_database(request.getfixturevalue("postgres")) as url:
        yield url


@pytest.fixture(scope="session")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Chroma server (`chroma run`, from the chromadb wheel) on 127.0.0.1 for the session; its URL."""
    port = helpers.free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    chroma = Path(sys.executable).with_name("chroma")
    server = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},  # the server must not phone home
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "chroma run did not start"
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
