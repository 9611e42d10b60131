"""Supervised warm start: before PPO or KTO, the policy learns to write the answers users liked.

Why: PPO improves a policy only through the answers it samples. A 135M policy's own drafts are almost
never grounded in the passages, so on a CPU's budget of a few dozen PPO episodes the reward barely moves.
The answers users gave 👍 are demonstrations of exactly what the reward asks for (grounded, cited,
concise); fine-tuning on them first, as InstructGPT does before its PPO, gives PPO a policy whose
samples the reward can tell apart. PPO then keeps its KL penalty to this fine-tuned policy, and KTO
measures its log-ratios against it.

Each demonstration is a liked stored answer to a training question, with the prompt rebuilt exactly as
serving builds it (the question and the passages retrieved for it). The loss is the answer's tokens
only (the prompt is context, not something to imitate). The result is a Hugging Face folder like any
version's, written atomically.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from core.llm import Conversation
from core.registry import save_servable, write_folder_atomically
from training.datasets import LabelledAnswer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SFTSettings:
    epochs: int = 2  # 0: no warm start, tuning starts from the current version
    learning_rate: float = 2e-5
    min_examples: int = 4  # fewer liked answers than this: skip the warm start
    max_answer_tokens: int = 256
    seed: int = 0


@dataclass(frozen=True)
class Demonstration:
    conversation: Conversation  # the prompt as serving builds it
    answer: str  # what the users voted on
    liked: bool = True  # most of its votes (over every stored copy of the text) were 👍


@dataclass(frozen=True)
class SFTResult:
    examples: int
    losses: list[float]  # mean answer-token loss per epoch
    seconds: float


def voted_answers(answers: Sequence[LabelledAnswer], prompts: dict[str, Conversation]) -> list[Demonstration]:
    """Stored answers (not the audit's counter-examples) to questions with a prompt, once each, liked or
    not: the warm start imitates the liked ones, KTO (``training.kto``) learns from both. The same text
    served more than once is judged on all its votes together; a tie says nothing and is left out."""
    margins: dict[tuple[str, str], int] = {}  # 👍 minus 👎 over every stored copy of the answer
    for a in answers:
        if a.answer_id > 0 and a.question in prompts and a.answer.strip():
            key = (a.question, a.answer.strip())
            margins[key] = margins.get(key, 0) + a.upvotes - a.downvotes
    return [
        Demonstration(prompts[question], answer, margin > 0)
        for (question, answer), margin in margins.items()
        if margin
    ]


def demonstrations(
    answers: Sequence[LabelledAnswer], prompts: dict[str, Conversation]
) -> list[Demonstration]:
    """Liked stored answers (not the audit's counter-examples) to questions with a prompt, once each."""
    return [d for d in voted_answers(answers, prompts) if d.liked]


def fine_tune(
    policy_path: Path,
    examples: Sequence[Demonstration],
    target: Path,
    settings: SFTSettings | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> SFTResult:
    """Fine-tune the policy in ``policy_path`` on ``examples``; save model and tokenizer to ``target``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    settings = settings or SFTSettings()
    started = time.perf_counter()
    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    tokenizer = AutoTokenizer.from_pretrained(policy_path)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = AutoModelForCausalLM.from_pretrained(policy_path, dtype=torch.float32).to(device)
    rows = [_tokenize(tokenizer, e, settings.max_answer_tokens) for e in examples]
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate)
    backbone, head = getattr(model, model.base_model_prefix), model.get_output_embeddings()
    model.train()
    losses = []
    for epoch in range(settings.epochs):
        order = list(range(len(rows)))
        rng.shuffle(order)
        total = 0.0
        for step, index in enumerate(order, start=1):
            ids, start = rows[index]
            ids = ids.to(device)
            with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
                hidden = backbone(input_ids=ids[None]).last_hidden_state[0, start - 1 : -1]
                logits = head(hidden).float()  # answer positions only: full-prompt logits are most memory
            loss = torch.nn.functional.cross_entropy(logits, ids[start:])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
            progress(epoch * len(rows) + step, settings.epochs * len(rows))
        losses.append(total / max(len(rows), 1))
        log.info("SFT epoch %d: answer loss %.3f", epoch + 1, losses[-1])
    model.eval()
    _save(model, tokenizer, target)
    return SFTResult(len(rows), losses, time.perf_counter() - started)


def _tokenize(tokenizer: Any, example: Demonstration, max_answer_tokens: int) -> tuple[torch.Tensor, int]:
    """Prompt + answer + end-of-turn token ids, and where the answer starts."""
    prompt = tokenizer.apply_chat_template(
        list(example.conversation), add_generation_prompt=True, tokenize=False
    )
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(example.answer, add_special_tokens=False)["input_ids"][:max_answer_tokens]
    ids = prompt_ids + answer_ids + [tokenizer.eos_token_id]
    return torch.tensor(ids), len(prompt_ids)


def _save(model: Any, tokenizer: Any, target: Path) -> None:
    write_folder_atomically(target, lambda staging: save_servable(model.to("cpu"), tokenizer, staging))
