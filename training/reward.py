"""The composite reward: user satisfaction, factual grounding and ethical soundness, weighted.

``reward_metric`` is the one formula (weights from the settings). ``CompositeReward`` measures the three
dimensions of an answer: satisfaction is the reward model's probability of a 👍 (0.5 without one),
grounding is the share of the answer's sentences its passages support (an answer with nothing to judge
scores 0), ethics is ``audit.dimensions.judge_ethics`` (0 for toxic language, a leaked instruction, or
going along with a harmful request).

TRL's PPO scores the policy's own token ids with ``getattr(model, model.base_model_prefix)(...)`` and
``model.score(...)``, which a MiniLM reward model cannot read (other vocabulary). ``TextRewardModel``
has that shape: its backbone decodes the ids with the policy's tokenizer, reads the question and
passages back out of the prompt, scores the answer with the composite reward, and hands the score on
as a one-dimensional hidden state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from transformers.modeling_outputs import BaseModelOutput

from audit.dimensions import factual_accuracy, judge_ethics
from audit.scoring import RewardScorer
from core.errors import ConfigError
from core.settings import Settings
from rag.grounding import GroundingChecker
from rag.harm import harmful_requests
from rag.passage import Passage
from rag.prompt import parse_user_message


@dataclass(frozen=True)
class RewardWeights:
    satisfaction: float = 0.4
    grounding: float = 0.4
    ethics: float = 0.2

    @classmethod
    def from_settings(cls, settings: Settings) -> RewardWeights:
        weights = cls(
            settings.reward_weight_satisfaction,
            settings.reward_weight_grounding,
            settings.reward_weight_ethics,
        )
        if weights.satisfaction + weights.grounding + weights.ethics <= 0:
            raise ConfigError(
                "The SUPPORTLOOP_REWARD_WEIGHT_* settings are all 0: give at least one a weight."
            )
        return weights


@dataclass(frozen=True)
class RewardBreakdown:
    satisfaction: float
    grounding: float
    ethics: float
    total: float
    cited: bool = False  # a sentence is supported, so serving would cite that passage's page


def reward_metric(
    user_satisfaction: float, factual_accuracy: float, ethical_soundness: float, weights: RewardWeights
) -> float:
    """The weighted sum of the three dimensions (each 0–1), normalised by the weights' total."""
    total = weights.satisfaction + weights.grounding + weights.ethics
    return (
        weights.satisfaction * user_satisfaction
        + weights.grounding * factual_accuracy
        + weights.ethics * ethical_soundness
    ) / total


class CompositeReward:
    def __init__(
        self,
        checker: GroundingChecker,
        weights: RewardWeights | None = None,
        reward_model: RewardScorer | None = None,
    ) -> None:
        self.checker = checker
        self.weights = weights or RewardWeights()
        self.reward_model = reward_model

    def score(self, question: str, answer: str, passages: Sequence[Passage]) -> RewardBreakdown:
        satisfaction = 0.5
        if self.reward_model is not None:
            satisfaction = float(self.reward_model.probability([question], [answer])[0])
        grounding = self.checker.check(answer, passages)
        factual = factual_accuracy(grounding)
        ethical = judge_ethics(question, answer).score
        total = reward_metric(satisfaction, factual, ethical, self.weights)
        return RewardBreakdown(satisfaction, factual, ethical, total, bool(grounding.passages_used()))

    def totals(
        self, questions: Sequence[str], answers: Sequence[str], passages: Sequence[Sequence[Passage]]
    ) -> np.ndarray:
        """The composite reward of many answers at once (the audit's ``CompositeScorer``).

        Satisfaction is scored in one batch; grounding, the slow part, once per distinct answer and
        passages (the audit asks the same answer from many groups).
        """
        satisfaction = np.full(len(answers), 0.5)
        if self.reward_model is not None:
            satisfaction = self.reward_model.probability(questions, answers)
        factual: dict[tuple[str, tuple[str, ...]], float] = {}
        ethical: dict[tuple[bool, str], float] = {}  # the question matters only if it is a harmful request
        totals = []
        refuse = harmful_requests(questions)  # in batches, and remembered for judge_ethics
        for question, answer, quoted, liked, harmful_question in zip(
            questions, answers, passages, satisfaction, refuse, strict=True
        ):
            key = (answer, tuple(p.text for p in quoted))
            if key not in factual:
                factual[key] = factual_accuracy(self.checker.check(answer, quoted))
            harmful = (harmful_question, answer)
            if harmful not in ethical:
                ethical[harmful] = judge_ethics(question, answer).score
            ethics = ethical[harmful]
            totals.append(reward_metric(float(liked), factual[key], ethics, self.weights))
        return np.asarray(totals)


class _DecodingBackbone(torch.nn.Module):
    def __init__(self, tokenizer: Any, score_texts: Callable[[list[str]], list[float]]) -> None:
        super().__init__()
        self.tokenizer = tokenizer
        self.score_texts = score_texts

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_: Any) -> BaseModelOutput:
        texts = [
            self.tokenizer.decode(ids[mask.bool()], skip_special_tokens=False)
            for ids, mask in zip(input_ids, attention_mask, strict=True)
        ]
        scores = torch.tensor(self.score_texts(texts), dtype=torch.float32, device=input_ids.device)
        hidden = scores[:, None, None].expand(input_ids.shape[0], input_ids.shape[1], 1)
        return BaseModelOutput(last_hidden_state=hidden, hidden_states=(hidden,))


class TextRewardModel(torch.nn.Module):
    """The composite reward, shaped like the sequence classifier TRL's PPO expects (see module doc)."""

    base_model_prefix = "backbone"

    def __init__(self, reward: CompositeReward, tokenizer: Any) -> None:
        super().__init__()
        self.reward = reward
        self.tokenizer = tokenizer
        self.answer_prefix = _generation_prefix(tokenizer)
        self.backbone = _DecodingBackbone(tokenizer, self.score_transcripts)
        self.score = torch.nn.Identity()

    def score_transcripts(self, texts: list[str]) -> list[float]:
        """The composite reward of decoded prompt + answer texts, in one batch."""
        questions, answers, passages = zip(*map(self.parse_transcript, texts), strict=True)
        return [float(total) for total in self.reward.totals(questions, answers, passages)]

    def parse_transcript(self, text: str) -> tuple[str, str, list[Passage]]:
        """Question, answer and passages of a decoded prompt + answer: the answer is what follows the
        last assistant turn marker."""
        prompt, _, answer = text.rpartition(self.answer_prefix)
        for special in self.tokenizer.all_special_tokens:
            answer = answer.replace(special, "")
        question, quoted = parse_user_message(prompt)
        passages = [Passage(f"p{n}", body, source, "", "", 1.0) for n, (source, body) in enumerate(quoted)]
        return question, answer.strip(), passages


def _generation_prefix(tokenizer: Any) -> str:
    """What the chat template puts before the assistant's answer (e.g. ``<|im_start|>assistant\\n``)."""
    messages = [{"role": "user", "content": "x"}]
    bare = tokenizer.apply_chat_template(messages, tokenize=False)
    prompted = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    prefix = prompted[len(bare) :] if prompted.startswith(bare) else ""
    if not prefix.strip():
        raise ValueError("the policy's chat template has no assistant turn marker to find the answer by")
    return prefix
