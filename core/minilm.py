"""all-MiniLM-L6-v2 as sentence-transformers computes it, in numpy: tokenize, encode, mean-pool.

Why not sentence-transformers: importing it (and with it transformers and scikit-learn) takes 3–4 s on
two cores. Why not torch either: importing torch alone takes 1.3–2 s, and ``supportloop ask`` needs
nothing else from it. Six small layers are a few matrix products each, which numpy hands to BLAS: on
two busy cores the 40 README lines embed in 0.75 s with one BLAS thread (torch: 2.0 s with its default
two threads, 0.5 s with one). This is the same BERT read from the same ``model.safetensors`` and
``tokenizer.json``, with the same settings (truncation at 256 tokens, mean pooling over real tokens,
unit length); its vectors agree with sentence-transformers' to float rounding
(``tests/core/test_minilm.py``), so indexes built by either serve with the other.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from scipy.special import erf

MAX_TOKENS = 256  # sentence_bert_config.json's max_seq_length: longer text is cut, as at indexing


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    centred = x - x.mean(-1, keepdims=True)
    return centred / np.sqrt((centred**2).mean(-1, keepdims=True) + eps) * weight + bias


class _Linear:
    """``x @ W.T + b`` with W stored transposed, so the product is one plain row-major GEMM."""

    def __init__(self, weights: dict[str, np.ndarray], name: str) -> None:
        self.weight = np.ascontiguousarray(weights[f"{name}.weight"].T)
        self.bias = weights[f"{name}.bias"]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        # Flattened to rows: numpy multiplies a 3-d array by a matrix several times slower than 2-d.
        out = x.reshape(-1, x.shape[-1]) @ self.weight
        out += self.bias
        return out.reshape(*x.shape[:-1], -1)


class _Layer:
    """One BERT encoder layer (post-norm), read from the checkpoint's parameters ``prefix.*``."""

    def __init__(self, weights: dict[str, np.ndarray], prefix: str, heads: int, eps: float) -> None:
        self.heads, self.eps = heads, eps
        self.query, self.key, self.value = (
            _Linear(weights, f"{prefix}.attention.self.{name}") for name in ("query", "key", "value")
        )
        self.attention_out = _Linear(weights, f"{prefix}.attention.output.dense")
        self.attention_norm = (
            weights[f"{prefix}.attention.output.LayerNorm.weight"],
            weights[f"{prefix}.attention.output.LayerNorm.bias"],
        )
        self.intermediate = _Linear(weights, f"{prefix}.intermediate.dense")
        self.output = _Linear(weights, f"{prefix}.output.dense")
        self.output_norm = (
            weights[f"{prefix}.output.LayerNorm.weight"],
            weights[f"{prefix}.output.LayerNorm.bias"],
        )

    def __call__(self, x: np.ndarray, mask_bias: np.ndarray) -> np.ndarray:
        batch, length, hidden = x.shape
        size = hidden // self.heads

        def split(linear: _Linear) -> np.ndarray:  # (batch, heads, length, size), contiguous for matmul
            heads = linear(x).reshape(batch, length, self.heads, size)
            return np.ascontiguousarray(heads.transpose(0, 2, 1, 3))

        query, key, value = split(self.query), split(self.key), split(self.value)
        scores = query @ np.ascontiguousarray(key.transpose(0, 1, 3, 2))
        scores *= np.float32(1 / math.sqrt(size))
        scores += mask_bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        context = (scores @ value).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
        x = _layer_norm(self.attention_out(context) + x, *self.attention_norm, self.eps)
        inner = self.intermediate(x)
        inner *= 0.5 * (1 + erf(inner * np.float32(1 / math.sqrt(2))))  # exact (erf) GELU, as BERT's "gelu"
        return _layer_norm(self.output(inner) + x, *self.output_norm, self.eps)


class MiniLM:
    """The encoder and its tokenizer, loaded from a sentence-transformers model folder."""

    def __init__(self, folder: Path) -> None:
        from safetensors.numpy import load_file
        from threadpoolctl import threadpool_limits
        from tokenizers import Tokenizer

        # One BLAS thread per product, for the whole process: bots and `ask --file` embed from several
        # threads at once, and OpenBLAS's spinning threads then fight over the cores (78 questions
        # answered in 8 threads took 3.6 min with two BLAS threads each, 0.9 min with one). A single
        # query's products are too small to gain from a second thread on a busy machine either.
        threadpool_limits(1, user_api="blas")

        config = json.loads((folder / "config.json").read_text())
        weights = load_file(folder / "model.safetensors")
        self.eps = config["layer_norm_eps"]
        self.word = weights["embeddings.word_embeddings.weight"]
        self.position = weights["embeddings.position_embeddings.weight"]
        self.token_type = weights["embeddings.token_type_embeddings.weight"][0]
        self.norm = (weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"])
        heads = config["num_attention_heads"]
        self.layers = [
            _Layer(weights, f"encoder.layer.{i}", heads, self.eps) for i in range(config["num_hidden_layers"])
        ]
        self.dimension = config["hidden_size"]

        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest text of the batch

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Unit-length float32 sentence vectors, one row per text, in order.

        Texts are batched by length (as sentence-transformers does), so a batch pads little.
        """
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            vectors[chosen] = self._encode_batch([texts[i] for i in chosen])
        return vectors

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings])
        real = np.array([e.attention_mask for e in encodings], dtype=bool)
        x = self.word[ids] + self.position[: ids.shape[1]] + self.token_type
        x = _layer_norm(x, *self.norm, self.eps)
        # Every token attends to the real tokens only: padding gets -inf before the softmax.
        mask_bias = np.where(real, 0.0, -np.inf).astype(np.float32)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, mask_bias)
        weights = real[..., None].astype(np.float32)
        pooled = (x * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
