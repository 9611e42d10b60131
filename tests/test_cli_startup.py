"""The commands that only look (``--help``, ``settings``, ``status``, ``models``) start without loading
any model library: torch, transformers and Chroma take seconds to import. bench/cli_startup.py times
them; this checks, in the real command, that they stay out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import run_cli

from rag.index import chroma_client

HEAVY = {"torch", "transformers", "chromadb", "sentence_transformers"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory whose index holds 3 chunks of 2 pages."""
    data = tmp_path_factory.mktemp("startup") / "data"
    client = chroma_client(data / "chroma", None)
    collection = client.get_or_create_collection("helpcenter")
    pages = ["http://127.0.0.1/a", "http://127.0.0.1/a", "http://127.0.0.1/b"]
    collection.add(
        ids=["a1", "a2", "b1"],
        embeddings=[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]],
        metadatas=[{"source": page} for page in pages],
        documents=["one", "two", "three"],
    )
    return data


def imports(result) -> set[str]:
    return set(re.findall(r"^import time:.*\|\s*(\w+)$", result.stderr, flags=re.MULTILINE))


@pytest.mark.parametrize("args", [["--help"], ["settings"], ["status"], ["models"], ["votes", "--help"]])
def test_looking_commands_import_no_model_library(data_dir, args):
    env = {"SUPPORTLOOP_DATA_DIR": str(data_dir), "PYTHONPROFILEIMPORTTIME": "1"}
    result = run_cli(*args, env=env)
    assert result.returncode == 0, result.stderr
    assert "typer" in imports(result)  # the import report is there to read
    assert not imports(result) & HEAVY
    if args == ["status"]:  # the index is counted all the same
        assert re.search(r"Index\s+2 pages, 3 chunks", result.stdout)


def test_an_index_in_an_unknown_layout_is_counted_through_chroma(tmp_path):
    (tmp_path / "chroma").mkdir()
    (tmp_path / "chroma" / "chroma.sqlite3").write_bytes(b"")  # an empty SQLite file: no Chroma tables
    result = run_cli("status", env={"SUPPORTLOOP_DATA_DIR": str(tmp_path), "PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0, result.stderr
    assert re.search(r"Index\s+0 pages, 0 chunks", result.stdout)
    assert "chromadb" in imports(result)
