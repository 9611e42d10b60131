"""The interface every policy-tuning algorithm implements, so retraining can switch between them.

A trainer is built with everything its algorithm learns from (PPO: prompts and a reward model; KTO: the
voted answers), then ``train`` runs it, reporting steps as they finish, and ``save`` writes the tuned
policy as a servable Hugging Face folder. ``training.pipeline`` picks the trainer from
``SUPPORTLOOP_POLICY_ALGORITHM`` in one place and treats them all alike. What the TRL trainers share
(precision, logging, the progress callback, saving) lives here once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from core.registry import save_servable, write_folder_atomically

StepProgress = Callable[[int, int], None]
"""Called with (optimisation steps done, steps in all) after each step."""


@dataclass(frozen=True)
class PolicyTrainingResult:
    history: list[dict[str, float]]  # per logged step: the algorithm's own measures (PPO: score, kl, …)
    seconds: float

    def scores(self) -> list[float]:
        """PPO's mean reward of each update's sampled answers (KTO samples nothing, so has none)."""
        return [step["score"] for step in self.history]


class PolicyTrainer(Protocol):
    def train(self, progress: StepProgress = ...) -> PolicyTrainingResult: ...

    def save(self, target: Path) -> None: ...


def progress_callback(progress: StepProgress) -> Any:
    """A TRL trainer callback that forwards the step count to ``progress``: retraining's job progress
    moves during the minutes of tuning, not only after them. Built when a trainer needs it, so importing
    this module (as the pipeline and the fast path do) does not load transformers' Trainer (seconds)."""
    from transformers import TrainerCallback

    class ProgressCallback(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            progress(state.global_step, state.max_steps)

    return ProgressCallback()


def training_dtype() -> torch.dtype:
    """bfloat16 on a GPU (half the memory, tensor cores); float32 on a CPU, where TRL's mixed precision
    is not available."""
    return torch.bfloat16 if torch.cuda.is_available() else torch.float32


def trainer_arguments(seed: int) -> dict[str, Any]:
    """The TRL config fields every trainer here shares: on a CPU float32 without activation
    checkpointing (TRL's defaults need a GPU), on a GPU bfloat16; a log entry per step, kept in memory
    for the history; no checkpoints, reports or progress bars (``progress_callback`` reports progress)."""
    gpu = torch.cuda.is_available()
    return {
        "seed": seed,
        "bf16": gpu,
        "use_cpu": not gpu,
        "activation_checkpointing": False,
        "report_to": [],
        "save_strategy": "no",
        "logging_steps": 1,
        "disable_tqdm": True,
    }


def lora_config() -> Any:
    """LoRA adapters (rank 8) on the attention's query and value projections, for every trainer that
    offers LoRA: no optimiser state or weight gradients for the full model, and no separate reference
    copy (the reference is the policy with its adapters switched off). Merged back before saving."""
    from peft import LoraConfig

    return LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")


def forward_pass_size(batch: int, requested: int | None) -> int:
    """Sequences per forward/backward pass (gradients accumulate to ``batch``): ``requested``, else the
    whole batch on a GPU and 2 on a CPU, where full-vocabulary logits over ~800-token RAG prompts are
    most of the memory (a PPO pass of 4 peaked at 18 GiB; KTO's peak went from 10.9 to 7.3 GiB in
    passes of 2, as fast: bench/policy_update_speed.py)."""
    return requested or (batch if torch.cuda.is_available() else 2)


def save_policy(model: Any, policy_path: Path, target: Path) -> None:
    """``model`` (tuned from ``policy_path``) as a version folder, atomically, in float32 with the policy's
    own tokenizer: serving's pad token, not the one a trainer may have set for training."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(policy_path)
    write_folder_atomically(
        target, lambda staging: save_servable(model.to("cpu", torch.float32), tokenizer, staging)
    )
