"""Tuning the policy with PPO, behind our own trainer interface so the algorithm can change.

``PPOPolicyTrainer`` runs ``trl.experimental.ppo.PPOTrainer`` (PPO exists in TRL only up to the pinned
1.12): the policy and a frozen reference copy come from the folder it is given (in retraining, the
warm-started policy of ``training.sft``; the KL penalty keeps the tuned policy near it), the value
model is the policy's backbone with a one-output head, and the reward is any module shaped like a
sequence classifier over the policy's token ids (for SupportLoop, ``training.reward.TextRewardModel``).
Prompts are chat conversations, built the way serving builds them. It implements
``training.policy.PolicyTrainer``, like ``training.kto.KTOPolicyTrainer``.

On a CPU it trains in float32 without activation checkpointing (TRL's defaults need a GPU); on a GPU in
bfloat16 through accelerate. LoRA (peft) is optional: then no separate reference copy is kept.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from core.llm import Conversation
from training.policy import (
    PolicyTrainingResult,
    StepProgress,
    forward_pass_size,
    lora_config,
    progress_callback,
    save_policy,
    trainer_arguments,
    training_dtype,
)

log = logging.getLogger(__name__)
TRAINING_PAD = "<|endoftext|>"  # SmolLM2's eos (<|im_end|>) also ends every chat turn inside prompts


@dataclass(frozen=True)
class PPOSettings:
    updates: int = 20
    batch_size: int = 8
    response_length: int = 64  # as long as serving lets an answer be (SUPPORTLOOP_MAX_NEW_TOKENS)
    ppo_epochs: int = 2
    # Small steps near the warm-started policy: on 600 simulated votes (8 updates x 4 prompts) PPO added
    # +0.05 held-out reward to the warm start at 1e-5 / 0.2, and lost 0.06 at 3e-5 / 0.05 (KL to 7 nats).
    learning_rate: float = 1e-5
    kl_coef: float = 0.2
    # Prompts per forward/backward pass (gradients accumulate to batch_size). None: 2 on a CPU, where a
    # pass of 4 peaked at 18 GiB; the whole batch on a GPU, where one pass of 8 made an update 2.9x faster
    # on an H200 (14.5 s to 5.0 s, 14 GiB; bench/policy_update_speed.py).
    micro_batch_size: int | None = None
    lora: bool = False
    seed: int = 0


class PPOPolicyTrainer:
    """PPO of the policy in ``policy_path`` on ``prompts`` against ``reward_model``; the history has, per
    update, the mean score, KL, policy and value loss."""

    def __init__(
        self,
        policy_path: Path,
        reward_model: torch.nn.Module,
        prompts: Sequence[Conversation],
        settings: PPOSettings | None = None,
    ) -> None:
        from transformers import AutoTokenizer

        self.policy_path = policy_path
        self.reward_model = reward_model
        self.prompts = prompts
        self.settings = settings or PPOSettings()
        self.tokenizer = AutoTokenizer.from_pretrained(policy_path)
        self.tokenizer.padding_side = "left"
        if TRAINING_PAD in self.tokenizer.get_vocab():
            self.tokenizer.pad_token = TRAINING_PAD
        self._trainer: Any = None

    def train(self, progress: StepProgress = lambda done, total: None) -> PolicyTrainingResult:
        from datasets import Dataset
        from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification
        from trl.experimental.ppo import PPOConfig, PPOTrainer

        s = self.settings
        dtype = training_dtype()
        policy = AutoModelForCausalLM.from_pretrained(self.policy_path, dtype=dtype)
        value = AutoModelForSequenceClassification.from_pretrained(
            self.policy_path, num_labels=1, dtype=dtype
        )
        value.config.pad_token_id = self.tokenizer.pad_token_id
        reference, peft_config = None, None
        if s.lora:
            peft_config = lora_config()
        else:
            reference = AutoModelForCausalLM.from_pretrained(self.policy_path, dtype=dtype)
        rows = [
            self.tokenizer(
                self.tokenizer.apply_chat_template(list(c), add_generation_prompt=True, tokenize=False),
                add_special_tokens=False,
            )["input_ids"]
            for c in self.prompts
        ]
        # Micro-batches with gradient accumulation keep the update the same in less memory.
        micro = forward_pass_size(s.batch_size, s.micro_batch_size)
        micro = micro if s.batch_size % micro == 0 else 1
        scratch = tempfile.mkdtemp(prefix="supportloop-ppo-")
        args = PPOConfig(
            output_dir=scratch,
            per_device_train_batch_size=micro,
            gradient_accumulation_steps=s.batch_size // micro,
            local_rollout_forward_batch_size=micro,
            total_episodes=s.updates * s.batch_size,
            response_length=s.response_length,
            num_ppo_epochs=s.ppo_epochs,
            num_mini_batches=1,
            learning_rate=s.learning_rate,
            kl_coef=s.kl_coef,
            stop_token="eos",
            num_sample_generations=0,
            **trainer_arguments(s.seed),
        )
        started = time.perf_counter()
        try:
            self._trainer = PPOTrainer(
                args=args,
                processing_class=self.tokenizer,
                model=policy,
                ref_model=reference,
                reward_model=self.reward_model,
                train_dataset=Dataset.from_dict({"input_ids": rows}),
                value_model=value,
                peft_config=peft_config,
                callbacks=[progress_callback(progress)],
            )
            self._trainer.train()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        history = [
            {
                "score": float(entry["objective/scores"]),
                "kl": float(entry["objective/kl"]),
                "policy_loss": float(entry["loss/policy_avg"]),
                "value_loss": float(entry["loss/value_avg"]),
            }
            for entry in self._trainer.state.log_history
            if "objective/scores" in entry
        ]
        seconds = time.perf_counter() - started
        log.info("PPO: %d updates in %.1f s", len(history), seconds)
        return PolicyTrainingResult(history, seconds)

    def save(self, target: Path) -> None:
        """The tuned policy as a Hugging Face folder (model + the policy's own tokenizer), atomically."""
        if self._trainer is None:
            raise RuntimeError("train() first")
        policy = self._trainer.model.policy
        if self.settings.lora:
            policy = policy.merge_and_unload()
        save_policy(policy, self.policy_path, target)
