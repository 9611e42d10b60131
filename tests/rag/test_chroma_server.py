"""The index against a real Chroma server (`chroma run`, from the chromadb wheel) on 127.0.0.1."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import run_cli

from core.errors import StorageError
from core.settings import Settings
from rag.index import HelpIndex, chroma_client
from rag.ingest import ingest_site


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
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


def test_ingest_and_search_through_a_chroma_server(tmp_path, chroma_url, site_url, embeddings):
    settings = Settings(data_dir=tmp_path / "data", chroma_url=chroma_url, crawl_rate_per_host=1000)
    index = HelpIndex(chroma_client(settings.chroma_dir, settings.chroma_url), "served", embeddings)
    report = ingest_site([site_url + "/"], index, settings)
    assert report.pages >= 25
    assert not settings.chroma_dir.exists()  # nothing was written locally
    other = HelpIndex(chroma_client(settings.chroma_dir, settings.chroma_url), "served", embeddings)
    assert other.search("how long do refunds take", 1)[0].source.endswith("/billing/refunds.html")
    assert other.search("refund", 1, mode="bm25")
    again = ingest_site([site_url + "/"], index, settings)
    assert again.chunks == 0 and again.unchanged == report.pages


def test_the_cli_uses_the_server_from_settings(tmp_path, chroma_url):
    result = run_cli(
        "status", env={"SUPPORTLOOP_DATA_DIR": str(tmp_path), "SUPPORTLOOP_CHROMA_URL": chroma_url}
    )
    assert result.returncode == 0, result.stderr
    assert "Index" in result.stdout


def test_an_unreachable_server_is_a_clear_error(tmp_path):
    with pytest.raises(StorageError, match="Cannot reach the Chroma server"):
        chroma_client(tmp_path, f"http://127.0.0.1:{free_port()}")
