"""How a model version does on held-out questions, measured the same way for the current version and
a candidate so the promotion gate compares like with like.

Each version answers every held-out prompt greedily, as serving does; each answer gets the composite
reward and its dimensions, whether it would cite a page, and (for questions from a known question set)
the share of expected facts it states. Each question's composite reward is kept too, so the gate can
compare two versions question by question. ``kl_divergence`` measures how far a candidate moved from the
current version on those answers: the mean over answers of the summed per-token log-ratio of the
candidate's own answer, log p_candidate(answer) − log p_current(answer), an estimate of
KL(candidate ‖ current).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from core.llm import Conversation, DtypeName, TransformersChatBackend
from core.registry import ModelVersion
from rag.evaluation import fact_recall
from rag.passage import Passage
from training.promotion import Estimate, VersionScores
from training.reward import CompositeReward


@dataclass(frozen=True)
class HeldOutPrompt:
    question: str
    passages: list[Passage]
    conversation: Conversation


def load_version(version: ModelVersion, dtype: DtypeName) -> TransformersChatBackend:
    """A version as evaluation uses it: greedy, in ``dtype``, serving's precision (its model also serves
    ``kl_divergence``). The gate should judge the answers users would get; and on a CPU with bfloat16
    instructions, answering the held-out questions takes about half as long as in float32."""
    return TransformersChatBackend(version, dtype)


def evaluate_version(
    backend: TransformersChatBackend,
    prompts: Sequence[HeldOutPrompt],
    reward: CompositeReward,
    max_new_tokens: int,
    facts: Mapping[str, Sequence[str]],
) -> tuple[VersionScores, list[str]]:
    """The version's scores on ``prompts`` and its answers; ``facts``: expected facts by question."""
    answers = backend.generate([p.conversation for p in prompts], max_new_tokens)
    scored = [reward.score(p.question, a, p.passages) for p, a in zip(prompts, answers, strict=True)]
    recall = [
        r
        for p, answer in zip(prompts, answers, strict=True)
        if (r := fact_recall(answer, facts.get(p.question, ()))) is not None
    ]
    scores = VersionScores(
        reward=Estimate.of([s.total for s in scored]),
        grounding=Estimate.of([s.grounding for s in scored]),
        satisfaction=Estimate.of([s.satisfaction for s in scored]),
        ethics=Estimate.of([s.ethics for s in scored]),
        citation_rate=Estimate.of([float(s.cited) for s in scored]),
        fact_recall=Estimate.of(recall),
        rewards={p.question: s.total for p, s in zip(prompts, scored, strict=True)},
    )
    return scores, answers


@torch.inference_mode()
def kl_divergence(
    candidate: TransformersChatBackend,
    current: TransformersChatBackend,
    prompts: Sequence[HeldOutPrompt],
    answers: Sequence[str],
) -> float:
    """Mean over answers of Σ log p_candidate − log p_current over the candidate's answer tokens."""
    tokenizer = candidate.tokenizer
    total = 0.0
    for prompt, answer in zip(prompts, answers, strict=True):
        text = tokenizer.apply_chat_template(
            list(prompt.conversation), add_generation_prompt=True, tokenize=False
        )
        prefix = tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
        reply = tokenizer(answer, return_tensors="pt", add_special_tokens=False)["input_ids"]
        if reply.shape[1] == 0:
            continue
        ids = torch.cat([prefix, reply], dim=1).to(candidate.device)
        start = prefix.shape[1]
        logps = []
        for backend in (candidate, current):
            logits = backend.model(ids).logits[0, start - 1 : -1].float()
            logps.append(torch.log_softmax(logits, -1).gather(1, ids[0, start:, None]).sum())
        total += float(logps[0] - logps[1])
    return total / len(prompts) if prompts else float("nan")
