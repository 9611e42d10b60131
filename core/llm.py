"""Chat-model backends: turn batches of chat conversations into replies.

A backend is a class with one abstract method, ``generate``; ``core.batching`` groups concurrent
requests into the batches it receives. The local backend runs the current model version with
transformers; ``core.openai_compat`` sends generation to an OpenAI-compatible server instead.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch

from core.cpu_layout import store_linear_weights_column_major
from core.errors import ModelError
from core.registry import ModelVersion

if TYPE_CHECKING:
    from transformers import StaticCache

log = logging.getLogger(__name__)

Message = dict[str, str]
Conversation = Sequence[Message]
DtypeName = Literal["auto", "bfloat16", "float32"]


class ChatBackend(ABC):
    """Generates one reply per conversation (greedily by default, so the same input gives the same answer)."""

    @abstractmethod
    def generate(self, conversations: Sequence[Conversation], max_new_tokens: int) -> list[str]:
        """Return the assistant's reply to each conversation, in order."""

    def close(self) -> None:  # noqa: B027 - most backends hold nothing to release
        """Release connections and threads; the backend is not used afterwards."""


def cpu_supports_bf16() -> bool:
    """True where the CPU has native bfloat16 instructions (bf16 is then about 2× faster than fp32)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_dtype(name: DtypeName, device: str) -> torch.dtype:
    if name == "float32":
        return torch.float32
    if name == "bfloat16":
        return torch.bfloat16
    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_supports_bf16() else torch.float32


class TransformersChatBackend(ChatBackend):
    """The local policy model: a Hugging Face folder loaded with transformers."""

    def __init__(
        self,
        version: ModelVersion,
        dtype: DtypeName = "auto",
        threads: int | None = None,
        temperature: float = 0.0,
    ) -> None:
        """``temperature`` 0 decodes greedily; above 0 it samples, so answers vary (simulated users want
        several different answers to each question to compare)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if threads:
            torch.set_num_threads(threads)
        self.version = version
        self.temperature = temperature
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.dtype = resolve_dtype(dtype, self.device)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(version.path)
            self.model = AutoModelForCausalLM.from_pretrained(version.path, dtype=self.dtype)
        except Exception as exc:  # transformers/safetensors raise many types for a broken folder
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelError(
                f"Model {version.label} at {version.path} could not be loaded ({first_line}). "
                "Restore the folder, or set SUPPORTLOOP_MODEL_PATH to a Hugging Face model folder."
            ) from exc
        self.model.to(self.device).eval()
        if self.device == "cpu":
            store_linear_weights_column_major(self.model, keep=self.model.get_output_embeddings())
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        log.info("loaded %s on %s as %s", version.label, self.device, self.dtype)

    @torch.inference_mode()
    def generate(self, conversations: Sequence[Conversation], max_new_tokens: int) -> list[str]:
        prompts = [
            self.tokenizer.apply_chat_template(list(c), add_generation_prompt=True, tokenize=False)
            for c in conversations
        ]
        batch = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        batch = batch.to(self.device)
        output = self.model.generate(
            **batch,
            cache=self._read_prompts(batch["input_ids"], batch["attention_mask"], max_new_tokens),
            max_new_tokens=max_new_tokens,
            **self._decoding(),
            repetition_penalty=1.1,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        new_tokens = output[:, batch["input_ids"].shape[1] :]
        return [text.strip() for text in self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]

    def _read_prompts(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, max_new_tokens: int
    ) -> StaticCache:
        """Run each prompt alone, all but its last token, into one left-padded cache for the batch.

        Reading a prompt is compute-bound, so a padded batch only adds work: a padded prefill of eight
        prompts of 465-806 tokens took 12-16 s on two cores, one prompt at a time 8 s. ``generate``
        then reads the last tokens and writes the answers together, where batching pays. Positions
        count from each prompt's first real token, as they do for the padded batch, so every reply
        equals the one its prompt gets alone. A static cache is written in place; a dynamic one is
        copied whole at every new token.
        """
        from transformers import StaticCache

        rows, length = input_ids.shape
        cache = StaticCache(config=self.model.config, max_cache_len=length + max_new_tokens)
        keys: list[list[torch.Tensor]] = [[] for _ in cache.layers]
        values: list[list[torch.Tensor]] = [[] for _ in cache.layers]
        for row in range(rows):
            prefix = input_ids[row, attention_mask[row].bool()][None, :-1]
            read = self.model(input_ids=prefix, use_cache=True, logits_to_keep=1).cache
            padding = (0, 0, length - 1 - prefix.shape[1], 0)  # left-pad the sequence axis
            for n, layer in enumerate(read.layers):
                keys[n].append(torch.nn.functional.pad(layer.keys, padding))
                values[n].append(torch.nn.functional.pad(layer.values, padding))
        for n, layer in enumerate(cache.layers):
            layer.update(torch.cat(keys[n]), torch.cat(values[n]))
        return cache

    def _decoding(self) -> dict[str, object]:
        if self.temperature <= 0:
            return {"do_sample": False}
        return {"do_sample": True, "temperature": self.temperature, "top_p": 0.95}
