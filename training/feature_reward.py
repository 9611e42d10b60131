"""The feature reward model: P(👍) from what an answer looks like, learnt from votes in seconds.

A logistic regression over the answer's length, numbered steps, sentences and paragraphs, whether it
addresses the question (the packaged cross-encoder), how close its opening is to the question, and its
opening's MiniLM embedding (the packaged encoder, frozen, in numpy). Why this and not a fine-tuned
encoder:

- **It learns a taste from a few hundred votes.** What a team likes beyond a right answer is mostly
  form: short answers, the page's steps, one page rather than several. A composed answer gives each
  page it quotes a paragraph of its own (``rag.compose``), so its paragraphs count its pages. A
  fine-tuned MiniLM reads neither length nor line breaks from its pooled vector; on 300 simulated
  "short" votes it learnt no more than always predicting 👎 (held-out accuracy 0.750 = the
  majority's) in an 11-minute fast path. This one fits in seconds,
  which is what lets a pattern of 👎 change the served answers within minutes.
- **It reads the question only for what the answer must address.** Relevance is the opening's cosine
  to the closest sentence of the question (injected instructions and asides in parentheses removed):
  a greeting, "I'm 78 years old." or "(she/her)" beside the question is nothing the answer need
  address, so who asks barely moves a score. (The answer's cosine to the whole question, or the packaged
  cross-encoder's score of it, moved approvals between groups of askers past the audit's threshold.)
  Without relevance, a taste for short answers also liked a short reply about something else.
- **It reads what an answer opens with, and the rest by its form.** Relevance and the embedding are
  of the answer's first sentence, where a composed answer starts its best page; what follows counts
  only through length, steps and sentences. Otherwise text tacked on after an answer (the question's
  keywords, filler, an instruction) moved the embedding toward what users liked: under the steps taste,
  keyword stuffing won 79% of the audit's cases. A flattering first sentence is one about nothing the
  question asks.
- **Length is never rewarded in itself.** The weights on length, sentences and paragraphs are bounded
  at zero (``_fit``): a taste for shorter answers is learnt, a taste for more words is not, because in
  votes longer answers are often simply the ones that did not miss a fact.
- **Whether the answer addresses the question is read from all of it, and saturates.** Where two
  answers have the same form, users like the one that answers (every taste first asks for a correct
  answer), and the opening alone often can't tell: the answering sentence may come second. So the
  packaged cross-encoder reads the whole answer against the question's sentence closest to its
  opening (who asks left out, as for relevance), scored on its own so a score never depends on a
  batch (``core.cross_encoder``), and the feature is its probability, not its logit: an answer that
  already addresses the question gains nothing from more of the question's words, and only one the
  cross-encoder misreads can (with the logit, keyword stuffing won 67% of the audit's cases under
  the ``one-page`` taste; with the probability, 21%: the cases whose honest answer it scores below
  0). On seven sets of the tastes bench's ``one-page`` votes, the pairs ranked right on unseen
  questions went from 0.68–0.86 to 0.84–0.96 (``docs/learning-loop.md``).
- **Whether an answer is right beyond that is not its to judge.** It never sees the pages, so it
  cannot know that a refund window is 30 days and not 90. That is the composite reward's grounding
  dimension, which reads the passages (``training.reward``); the audit judges the probes about facts
  and topic on the composite (``audit.adversarial``). Served alternatives are all quoted from the
  question's own top passages (``rag.compose``), and PPO is tuned on the composite.

Each answer's votes are pooled (``training.datasets``) and weigh by their margin: an answer liked by
three and disliked by none counts more than one liked 2 to 1. A saved model is ``reward.json`` only:
the objective, the weights and the held-out metrics; the encoder comes from its package.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ModelError
from core.registry import write_folder_atomically
from core.vector_memory import VectorMemory
from rag.compose import STEP
from rag.safety import strip_injections
from rag.text import split_sentences
from training.datasets import FeedbackDataset, require_both_labels
from training.reward_model import METADATA, evaluate_reward_model, reward_text, without_repeats

OBJECTIVE = "features"
FORM_FEATURES = ("log characters", "numbered steps", "sentences", "extra paragraphs")
ADDRESSES = "addresses the question"  # the packaged cross-encoder's probability, reading the whole answer
SCALARS = (*FORM_FEATURES, ADDRESSES)  # the features before relevance and the embedding
NEVER_REWARDED = ("log characters", "sentences", "extra paragraphs")
REGULARISATION = 0.3  # logistic regression's C: a few hundred answers against 389 weights
_ANSWER = re.compile(r"\nAnswer:\s?")
_SENTENCE_END = re.compile(r"(?<!\d)[.!?](?:\s|$)")  # "1." starts a step, it ends nothing
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_ASIDE = re.compile(r"\s*\([^()]*\)")  # "(she/her)": who asks, said inside a sentence of the question


@cache
def _encoder() -> Any:
    """The packaged MiniLM (``core.minilm``: numpy, no torch), loaded once per process."""
    from core.embedder import embedding_model_path
    from core.minilm import MiniLM

    return MiniLM(embedding_model_path())


@cache
def _tokenizer() -> Any:
    from transformers import AutoTokenizer

    from core.embedder import embedding_model_path

    return AutoTokenizer.from_pretrained(embedding_model_path())


@cache
def _embedder() -> VectorMemory:
    """The packaged MiniLM with the vectors of recent texts remembered: cross-fitting and the audit score
    the same openings and questions many times (160 batches of them in a fast-path run)."""
    return VectorMemory(lambda texts: _encoder().encode(texts))


def form(answer: str) -> list[float]:
    """The answer's length (log characters), numbered step lines, sentences and paragraphs after the
    first (in a composed answer, the pages it quotes beyond one), each capped."""
    lines = answer.splitlines()
    steps = sum(bool(STEP.match(line)) for line in lines)
    sentences = len(_SENTENCE_END.findall(answer))
    paragraphs = len([p for p in _PARAGRAPH_BREAK.split(answer.strip()) if p.strip()])
    extra = min(max(paragraphs - 1, 0), 3)
    return [math.log1p(len(answer)), min(steps, 10) / 5, min(sentences, 10) / 5, extra]


def opening(answer: str) -> str:
    """The answer up to the end of its first sentence (a sentence that introduces steps runs on to the
    first step): what its relevance and its embedding read."""
    end = _SENTENCE_END.search(answer)
    return answer[: end.end()].strip() if end else answer


def features(questions: Sequence[str], answers: Sequence[str]) -> np.ndarray:
    """One row per answer: ``form`` of the whole answer, whether it addresses the closest sentence of
    its question (``addresses``), then its opening's cosine to that sentence and its opening's
    embedding."""
    said = [without_repeats(answer) for answer in answers]
    encoder = _encoder()
    if not said:
        return np.zeros((0, len(SCALARS) + 1 + encoder.dimension))
    sentences = {q: split_sentences(_ASIDE.sub("", strip_injections(q) or q)) or [q] for q in set(questions)}
    distinct = sorted({s for parts in sentences.values() for s in parts})
    vectors = dict(zip(distinct, _embedder()(distinct), strict=True))
    embedded = _embedder()([opening(a) for a in said])
    closest = [
        max(sentences[q], key=lambda s: float(vectors[s] @ a))
        for q, a in zip(questions, embedded, strict=True)
    ]
    relevance = np.array([float(vectors[s] @ a) for s, a in zip(closest, embedded, strict=True)])
    scalars = np.array([[*form(a), addresses(s, a)] for s, a in zip(closest, said, strict=True)])
    return np.concatenate([scalars, relevance[:, None], embedded], axis=1)


def addresses(question: str, answer: str) -> float:
    """The packaged cross-encoder's probability that ``answer``, read whole, addresses ``question``.
    Scored alone: its int8 model scales activations per batch, so a pair scored in a batch moves with
    its neighbours (``core.cross_encoder``), and a reward must not. Serving shares the ranker's session
    and its memory of recent calls."""
    from core.cross_encoder import shared_cross_encoder

    [logit] = shared_cross_encoder().score(question, [answer])
    return float(1 / (1 + np.exp(-logit)))


@dataclass
class FeatureRewardModel:
    """Scores answers by a logistic regression over ``features``; the protocol of ``RewardModel``."""

    weights: np.ndarray
    bias: float
    metrics: dict[str, float] = field(default_factory=dict)
    objective: str = OBJECTIVE
    calibration: tuple[float, float] = (1.0, 0.0)  # a logistic regression is its own calibration

    @property
    def tokenizer(self) -> Any:
        """The encoder's tokenizer: what SHAP masks the text with."""
        return _tokenizer()

    def score(self, questions: Sequence[str], answers: Sequence[str]) -> np.ndarray:
        """Raw reward (a logit) per answer to its question."""
        return features(list(questions), list(answers)) @ self.weights + self.bias

    def probability(self, questions: Sequence[str], answers: Sequence[str]) -> np.ndarray:
        return 1 / (1 + np.exp(-self.score(questions, answers)))

    def text(self, question: str, answer: str) -> str:
        return reward_text(question, answer)

    def score_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Raw reward of texts built by ``text`` (SHAP masks them): the part after "Answer:"."""
        parts = [_ANSWER.split(text.removeprefix("Question: "), maxsplit=1) for text in texts]
        return self.score([p[0] if len(p) == 2 else "" for p in parts], [p[-1] for p in parts])

    def save(self, target: Path) -> None:
        meta = {
            "objective": self.objective,
            "features": [*SCALARS, "relevance", "MiniLM embedding"],
            "weights": [float(w) for w in self.weights],
            "bias": self.bias,
            "metrics": self.metrics,
        }

        def write(staging: Path) -> None:
            (staging / METADATA).write_text(json.dumps(meta))

        write_folder_atomically(target, write)

    @classmethod
    def load(cls, path: Path) -> FeatureRewardModel:
        try:
            meta = json.loads((path / METADATA).read_text())
            weights = _with_new_features(np.array(meta["weights"], dtype=float), meta["features"])
            bias = float(meta["bias"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"The reward model at {path} cannot be loaded ({exc}).") from exc
        if weights.shape != (len(SCALARS) + 1 + _encoder().dimension,):
            raise ModelError(f"The reward model at {path} has {weights.size} weights, not the features'.")
        return cls(weights, bias, meta.get("metrics", {}))


def _with_new_features(weights: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """The weights of a model saved with the features ``names`` (``SCALARS`` as they were, then
    relevance and the embedding), with a zero weight on each of ``SCALARS`` added since: a model fit
    before a feature existed never read it, so it scores every answer as it did when it was promoted."""
    saved = list(names[: len(names) - 2])
    if saved == list(SCALARS) or weights.size != len(saved) + 1 + _encoder().dimension:
        return weights
    by_name = dict(zip(saved, weights[: len(saved)], strict=True))
    scalar_weights = [by_name.get(name, 0.0) for name in SCALARS]
    return np.concatenate([scalar_weights, weights[len(saved) :]])


def train_feature_reward(data: FeedbackDataset) -> FeatureRewardModel:
    """Fit on ``data.train`` (weighed by each answer's vote margin) and measure on ``data.test``."""
    require_both_labels(data.train)
    labels = np.array([a.label for a in data.train])
    margins = np.array([abs(a.upvotes - a.downvotes) for a in data.train], dtype=float)
    weights, bias = _fit(
        features([a.question for a in data.train], [a.answer for a in data.train]), labels, margins
    )
    model = FeatureRewardModel(weights, bias)
    model.metrics = evaluate_reward_model(model, data.test, data.test_pairs)  # type: ignore[arg-type]
    return model


def _fit(x: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression (``REGULARISATION`` as its C) whose weights on length,
    sentences and paragraphs (``NEVER_REWARDED``) cannot be positive: more words are never worth a vote
    in themselves; and whose weight on addressing the question cannot be negative: no taste prefers an
    answer about something else, so votes that do are poisoned or noise, and a model fitted to them
    must not rank their pairs right (the fast path's gate then refuses it before its audit does).

    Why bounded: votes confound length with correctness. Under a taste for the page's steps, the
    composer's short alternatives more often miss a fact, so users' 👍 go to longer answers, and an
    unbounded fit learnt "longer is better": appending filler sentences to an answer then raised its
    score for 96–100% of the audit's padding, stuffing and flattery probes, and the audit refused the
    model. A taste for shorter answers still gets its negative weight.
    """
    from scipy.optimize import minimize

    signs = 2.0 * labels - 1.0
    total = sample_weight.sum()

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        margin = signs * (x @ theta[:-1] + theta[-1])
        per_answer = np.logaddexp(0.0, -margin)
        slope = -signs * sample_weight / (1.0 + np.exp(margin))
        value = (sample_weight * per_answer).sum() + theta[:-1] @ theta[:-1] / (2 * REGULARISATION)
        gradient = np.append(x.T @ slope + theta[:-1] / REGULARISATION, slope.sum())
        return float(value / total), gradient / total

    never_rewarded = {SCALARS.index(name) for name in NEVER_REWARDED}
    limits = {**{k: (None, 0.0) for k in never_rewarded}, SCALARS.index(ADDRESSES): (0.0, None)}
    bounds = [limits.get(k, (None, None)) for k in range(x.shape[1])]
    result = minimize(
        loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B", bounds=[*bounds, (None, None)]
    )
    return result.x[:-1].copy(), float(result.x[-1])
