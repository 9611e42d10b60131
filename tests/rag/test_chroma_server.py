"""The index against a real Chroma server (`chroma run`, from the chromadb wheel) on 127.0.0.1."""

import pytest
from helpers import free_port, run_cli

from core.errors import StorageError
from core.settings import Settings
from rag.index import HelpIndex, chroma_client
from rag.ingest import ingest_site


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
