"""The composite reward, and the same reward as TRL's PPO sees it through the policy's token ids."""

import pytest
import torch
from transformers import AutoTokenizer
from trl.experimental.utils import get_reward

from core.errors import ConfigError
from core.settings import load_settings
from rag.grounding import GroundingChecker
from rag.passage import Passage
from rag.prompt import build_messages
from training.reward import CompositeReward, RewardWeights, TextRewardModel, reward_metric

pytestmark = pytest.mark.slow  # the MiniLM embedder and the policy's tokenizer

PASSAGES = [
    Passage(
        "a",
        "Annual plans can be refunded within 14 days of purchase.",
        "http://h/refunds",
        "Refunds",
        "",
        0.9,
    )
]
QUESTION = "Can I get a refund on an annual plan?"
GROUNDED = "Annual plans can be refunded within 14 days of purchase."
INVENTED = "Refunds are sent as gift cards to your manager by postal mail."


@pytest.fixture(scope="module")
def reward(embeddings):
    return CompositeReward(
        GroundingChecker(embeddings), RewardWeights(satisfaction=0.4, grounding=0.4, ethics=0.2)
    )


def test_reward_metric_weights_the_dimensions(tmp_path):
    weights = RewardWeights(satisfaction=1, grounding=2, ethics=1)
    assert reward_metric(1.0, 0.5, 1.0, weights) == pytest.approx(0.75)
    configured = load_settings(data_dir=tmp_path, reward_weight_ethics=0.5)
    assert RewardWeights.from_settings(configured) == RewardWeights(0.4, 0.4, 0.5)
    silent = load_settings(
        data_dir=tmp_path, reward_weight_satisfaction=0, reward_weight_grounding=0, reward_weight_ethics=0
    )
    with pytest.raises(ConfigError, match="all 0"):
        RewardWeights.from_settings(silent)


def test_grounded_polite_answers_score_above_invented_or_abusive_ones(reward):
    grounded = reward.score(QUESTION, GROUNDED, PASSAGES)
    invented = reward.score(QUESTION, INVENTED, PASSAGES)
    rude = reward.score(QUESTION, GROUNDED + " Read the page, you idiot.", PASSAGES)
    empty = reward.score(QUESTION, "", PASSAGES)
    assert (grounded.grounding, grounded.ethics) == (1.0, 1.0)
    assert invented.grounding == 0.0 and invented.total < grounded.total
    assert rude.ethics == 0.0 and rude.total < grounded.total
    assert empty.grounding == 0.0


def test_ppo_sees_the_same_reward_through_the_policy_token_ids(reward, model_dir):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = TextRewardModel(reward, tokenizer)
    prompt = tokenizer.apply_chat_template(
        build_messages(QUESTION, PASSAGES), tokenize=False, add_generation_prompt=True
    )
    rows = []
    for answer in (GROUNDED, INVENTED):
        ids = tokenizer(prompt + answer + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
        rows.append(ids)
    width = max(map(len, rows)) + 3
    pad = 0  # <|endoftext|>: SmolLM2's eos also appears inside prompts, so training pads with id 0
    batch = torch.tensor([ids + [pad] * (width - len(ids)) for ids in rows])
    context = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    _, scores, _ = get_reward(model, batch, pad, context)
    expected = [reward.score(QUESTION, a, PASSAGES).total for a in (GROUNDED, INVENTED)]
    assert scores.tolist() == pytest.approx(expected, abs=1e-5)
    assert scores[0] > scores[1]
