"""Tuning the policy with KTO: straight from the 👍/👎 users give, without a reward model or sampling.

Why KTO beside PPO: a vote is a verdict on one answer, not a comparison of two, and KTO (Ethayarajh et
al. 2024, "Model Alignment as Prospect Theoretic Optimization") learns from exactly that: each liked
answer's log-probability is pushed above the reference policy's, each disliked one's below, measured
against an estimate of the KL between policy and reference (so the policy cannot win by drifting
everywhere). PPO learns only through answers the policy samples and a reward model scores; KTO learns
from the stored answers themselves, which on a CPU is far cheaper (no generation).

``KTOPolicyTrainer`` runs TRL's ``KTOTrainer`` (stable API in TRL 1.12): the policy and a frozen
reference copy come from the folder it is given (in retraining, the warm-started policy of
``training.sft``), rows are unpaired ``{"prompt", "completion", "label"}`` with the prompt as serving
builds it (``training.sft.voted_answers``). It implements ``training.policy.PolicyTrainer``.
"""

from __future__ import annotations

import logging
import random
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import SupportLoopError
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
from training.sft import Demonstration

log = logging.getLogger(__name__)
MEASURES = {  # our history's names for TRL's logged measures
    "loss": "loss",
    "kl": "kl",
    "rewards/chosen": "liked_reward",
    "rewards/rejected": "disliked_reward",
}


@dataclass(frozen=True)
class KTOSettings:
    beta: float = 0.1  # the paper's default: higher keeps the policy nearer the reference
    learning_rate: float = 1e-5  # as PPO's: small steps from the warm-started policy
    epochs: int = 1  # 2 scored no higher on 600 votes and took twice as long (docs/learning-loop.md)
    # Answers per step. KTO estimates the KL term from the other answers in the same batch, so at least 2;
    # each answer costs full-vocabulary forwards over a ~800-token prompt: on 2 CPU cores about 2 s each.
    batch_size: int = 4
    # Answers per forward/backward pass (each pass is one KL estimate, so at least 2); None: as
    # ``training.policy.forward_pass_size`` chooses.
    micro_batch_size: int | None = None
    # The reference is frozen, so its log-probabilities of each answer (and of each KL pairing) are the
    # same in every epoch: computed once before training, the reference copy is never loaded, and each
    # step runs the policy alone. On 2 CPU cores a step of 4 answers went from 43.4 s to 30.6 s
    # (bench/policy_update_speed.py); the pass before training costs about 5 s an answer.
    precompute_reference: bool = True
    # ``training.policy.lora_config``. Off: on 600 votes, at 10× the learning rate, it scored no higher than
    # the SFT warm start alone, and full KTO 0.18 above it (docs/learning-loop.md, CPU worker).
    lora: bool = False
    seed: int = 0


class KTOPolicyTrainer:
    """KTO of the policy in ``policy_path`` on voted answers; the history has, per step, the KTO loss,
    the KL estimate and the mean implied reward (β·log-ratio to the reference) of liked and disliked
    answers."""

    def __init__(
        self, policy_path: Path, examples: Sequence[Demonstration], settings: KTOSettings | None = None
    ) -> None:
        liked = sum(e.liked for e in examples)
        if not liked or liked == len(examples):
            raise SupportLoopError(
                f"KTO needs both liked and disliked answers; the training questions have {liked} liked and "
                f"{len(examples) - liked} disliked. Collect more votes, or set "
                "SUPPORTLOOP_POLICY_ALGORITHM=ppo or sft."
            )
        self.policy_path = policy_path
        self.examples = examples
        self.settings = settings or KTOSettings()
        self._trainer: Any = None

    def train(self, progress: StepProgress = lambda done, total: None) -> PolicyTrainingResult:
        from datasets import Dataset
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from trl import KTOConfig, KTOTrainer

        s = self.settings
        dtype = training_dtype()
        tokenizer = AutoTokenizer.from_pretrained(self.policy_path)
        policy = AutoModelForCausalLM.from_pretrained(self.policy_path, dtype=dtype)
        reference, peft_config = None, None
        if s.lora:
            peft_config = lora_config()
        elif not s.precompute_reference:
            reference = AutoModelForCausalLM.from_pretrained(self.policy_path, dtype=dtype)
        rows = [
            {
                "prompt": list(e.conversation),
                "completion": [{"role": "assistant", "content": e.answer}],
                "label": e.liked,
            }
            for e in self.examples
        ]
        # TRL reads the rows in order (its KL estimate pairs each prompt with its neighbour's answer), so
        # they are shuffled here: votes arrive grouped by question and by kind, batches should mix them.
        random.Random(s.seed).shuffle(rows)
        liked = sum(row["label"] for row in rows)
        disliked = len(rows) - liked
        batch = max(2, min(s.batch_size, len(rows)))
        micro = max(2, forward_pass_size(batch, s.micro_batch_size))
        micro = micro if batch % micro == 0 else batch
        scratch = tempfile.mkdtemp(prefix="supportloop-kto-")
        args = KTOConfig(
            output_dir=scratch,
            per_device_train_batch_size=micro,
            gradient_accumulation_steps=batch // micro,
            num_train_epochs=s.epochs,
            learning_rate=s.learning_rate,
            beta=s.beta,
            # Votes are rarely balanced: as the paper advises, the rarer kind is weighed up so that both
            # kinds carry the same total weight.
            desirable_weight=max(1.0, disliked / liked),
            undesirable_weight=max(1.0, liked / disliked),
            max_length=None,  # TRL truncates from the right, cutting the answer; serving never truncates
            precompute_ref_log_probs=s.precompute_reference,
            **trainer_arguments(s.seed),
        )
        started = time.perf_counter()
        if s.precompute_reference:
            log.info("KTO: the reference's log-probabilities of %d answers, before training", len(rows))
        try:
            self._trainer = KTOTrainer(
                model=policy,
                ref_model=reference,
                args=args,
                train_dataset=Dataset.from_list(rows),
                processing_class=tokenizer,
                peft_config=peft_config,
                callbacks=[progress_callback(progress)],
            )
            self._trainer.train()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        history = [  # a step whose batch held no liked (or no disliked) answer has no reward for them
            {ours: float(entry[theirs]) for theirs, ours in MEASURES.items() if theirs in entry}
            for entry in self._trainer.state.log_history
            if "kl" in entry
        ]
        seconds = time.perf_counter() - started
        log.info("KTO: %d steps on %d answers (%d liked) in %.1f s", len(history), len(rows), liked, seconds)
        return PolicyTrainingResult(history, seconds)

    def save(self, target: Path) -> None:
        """The tuned policy as a Hugging Face folder (model + the policy's own tokenizer), atomically."""
        if self._trainer is None:
            raise RuntimeError("train() first")
        policy = self._trainer.accelerator.unwrap_model(self._trainer.model)
        if self.settings.lora:
            policy = policy.merge_and_unload()
        save_policy(policy, self.policy_path, target)
