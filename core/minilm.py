"""all-MiniLM-L6-v2 as sentence-transformers computes it, in plain torch: tokenize, encode, mean-pool.

Why not sentence-transformers itself: importing it (and with it transformers and scikit-learn) takes
3–4 s on two cores, longer than answering a question, and every ``supportloop ask`` paid it. This is the
same six-layer BERT read from the same ``model.safetensors`` and ``tokenizer.json``, with the same
settings (truncation at 256 tokens, mean pooling over real tokens, unit length); its vectors agree with
sentence-transformers' to float rounding (``tests/core/test_minilm.py``), so indexes built by either
serve with the other.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

MAX_TOKENS = 256  # sentence_bert_config.json's max_seq_length: longer text is cut, as at indexing


class _Layer(nn.Module):
    """One BERT encoder layer (post-norm), with the checkpoint's parameter names."""

    def __init__(self, hidden: int, heads: int, intermediate: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.attention = nn.ModuleDict(
            {
                "self": nn.ModuleDict(
                    {name: nn.Linear(hidden, hidden) for name in ("query", "key", "value")}
                ),
                "output": nn.ModuleDict(
                    {"dense": nn.Linear(hidden, hidden), "LayerNorm": nn.LayerNorm(hidden, eps=eps)}
                ),
            }
        )
        self.intermediate = nn.ModuleDict({"dense": nn.Linear(hidden, intermediate)})
        self.output = nn.ModuleDict(
            {"dense": nn.Linear(intermediate, hidden), "LayerNorm": nn.LayerNorm(hidden, eps=eps)}
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = x.shape
        qkv = self.attention["self"]

        def split(name: str) -> torch.Tensor:
            return qkv[name](x).view(batch, length, self.heads, hidden // self.heads).transpose(1, 2)

        context = F.scaled_dot_product_attention(split("query"), split("key"), split("value"), attn_mask=mask)
        context = context.transpose(1, 2).reshape(batch, length, hidden)
        out = self.attention["output"]
        x = out["LayerNorm"](out["dense"](context) + x)
        inner = F.gelu(self.intermediate["dense"](x))  # exact (erf) GELU, as BERT's "gelu"
        return self.output["LayerNorm"](self.output["dense"](inner) + x)


class MiniLM(nn.Module):
    """The encoder and its tokenizer, loaded from a sentence-transformers model folder."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        config = json.loads((folder / "config.json").read_text())
        hidden, eps = config["hidden_size"], config["layer_norm_eps"]
        self.embeddings = nn.ModuleDict(
            {
                "word_embeddings": nn.Embedding(config["vocab_size"], hidden),
                "position_embeddings": nn.Embedding(config["max_position_embeddings"], hidden),
                "token_type_embeddings": nn.Embedding(config["type_vocab_size"], hidden),
                "LayerNorm": nn.LayerNorm(hidden, eps=eps),
            }
        )
        layers = [
            _Layer(hidden, config["num_attention_heads"], config["intermediate_size"], eps)
            for _ in range(config["num_hidden_layers"])
        ]
        self.encoder = nn.ModuleDict({"layer": nn.ModuleList(layers)})
        weights = load_file(folder / "model.safetensors")
        encoder_weights = {
            k: v for k, v in weights.items() if not k.startswith("pooler.") and "position_ids" not in k
        }
        self.load_state_dict(encoder_weights, strict=True)  # a missing or misnamed tensor is an error
        self.eval().requires_grad_(False)

        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest text of the batch

    @torch.inference_mode()
    def encode(self, texts: list[str], batch_size: int = 32) -> torch.Tensor:
        """Unit-length sentence vectors, one row per text, in order.

        Texts are batched by length (as sentence-transformers does), so a batch pads little.
        """
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors = torch.empty(len(texts), self.embeddings["word_embeddings"].embedding_dim)
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            vectors[chosen] = self._encode_batch([texts[i] for i in chosen])
        return vectors

    def _encode_batch(self, texts: list[str]) -> torch.Tensor:
        encodings = self.tokenizer.encode_batch(texts)
        ids = torch.tensor([e.ids for e in encodings])
        real = torch.tensor([e.attention_mask for e in encodings], dtype=torch.bool)
        emb = self.embeddings
        positions = torch.arange(ids.shape[1])
        x = (
            emb["word_embeddings"](ids)
            + emb["position_embeddings"](positions)
            + emb["token_type_embeddings"].weight[0]
        )
        x = emb["LayerNorm"](x)
        mask = real[:, None, None, :]  # every token attends to the real tokens only
        for layer in self.encoder["layer"]:
            x = layer(x, mask)
        weights = real.unsqueeze(-1).to(x.dtype)
        pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return F.normalize(pooled, p=2, dim=1)
