"""PPO behind our trainer interface, on a tiny random Llama (fast on CPU) with a reward it can learn."""

import pytest
import torch
from helpers import assert_servable_by_model_servers
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.modeling_outputs import BaseModelOutput

from core.registry import ModelVersion, check_model_folder
from training.ppo import PPOPolicyTrainer, PPOSettings

pytestmark = pytest.mark.slow  # PPO on CPU (about 20 s)

RESPONSE = 16


class DirectionReward(torch.nn.Module):
    """Rewards response tokens whose embedding points along one fixed direction: a policy can learn it
    by turning its last hidden state that way, so a few dozen updates move the reward clearly."""

    base_model_prefix = "backbone"

    def __init__(self, embeddings: torch.Tensor) -> None:
        super().__init__()
        direction = torch.randn(embeddings.shape[1], generator=torch.Generator().manual_seed(1))
        projection = embeddings @ (direction / direction.norm())
        self.token_reward = (projection - projection.mean()) / projection.std()
        self.backbone = self._Backbone(self.token_reward)
        self.score = torch.nn.Identity()

    class _Backbone(torch.nn.Module):
        def __init__(self, token_reward: torch.Tensor) -> None:
            super().__init__()
            self.token_reward = token_reward

        def forward(self, input_ids, attention_mask, **_):
            ids, mask = input_ids[:, -RESPONSE:], attention_mask[:, -RESPONSE:].float()
            score = (self.token_reward[ids] * mask).sum(1) / mask.sum(1).clamp(min=1)
            hidden = score[:, None, None].expand(input_ids.shape[0], input_ids.shape[1], 1)
            return BaseModelOutput(last_hidden_state=hidden, hidden_states=(hidden,))


def expected_first_token_reward(policy_path, reward: DirectionReward, prompts: list) -> float:
    """The reward of the first answer token in expectation over the policy's distribution, averaged over
    the prompts: exact for given weights, so unlike the sampled scores it does not vary with the rollouts
    (those differ between machines, where float sums run in another order)."""
    model = AutoModelForCausalLM.from_pretrained(policy_path).eval()
    tokenizer = AutoTokenizer.from_pretrained(policy_path)
    total = 0.0
    with torch.no_grad():
        for conversation in prompts:
            text = tokenizer.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
            ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
            total += float(model(ids).logits[0, -1].softmax(-1) @ reward.token_reward)
    return total / len(prompts)


def test_ppo_raises_a_learnable_reward_and_saves_a_servable_version(tiny_policy, tmp_path):
    embeddings = AutoModelForCausalLM.from_pretrained(tiny_policy).get_input_embeddings().weight.detach()
    settings = PPOSettings(
        updates=10, batch_size=8, response_length=RESPONSE, ppo_epochs=4, learning_rate=3e-3, kl_coef=0.01
    )
    prompts = [[{"role": "user", "content": f"How do I change setting {n}?"}] for n in range(16)]
    reward = DirectionReward(embeddings)
    trainer = PPOPolicyTrainer(tiny_policy, reward, prompts, settings)
    steps: list[tuple[int, int]] = []
    result = trainer.train(lambda done, total: steps.append((done, total)))
    assert len(result.scores()) == 10 == len(steps) and steps[-1] == (10, 10)

    trainer.save(tmp_path / "1")
    # Seeds 0-3 here raised it by 0.131 to 0.191 (from 0.002); the scores of 8 sampled answers an update
    # are too noisy to compare.
    before = expected_first_token_reward(tiny_policy, reward, prompts)
    after = expected_first_token_reward(tmp_path / "1", reward, prompts)
    assert after > before + 0.05, (before, after)
    check_model_folder(ModelVersion(1, tmp_path / "1"))
    assert_servable_by_model_servers(tmp_path / "1")
    tuned = AutoModelForCausalLM.from_pretrained(tmp_path / "1")
    original = AutoModelForCausalLM.from_pretrained(tiny_policy)
    changed = [not torch.equal(a, b) for a, b in zip(tuned.parameters(), original.parameters(), strict=True)]
    assert any(changed)
    assert (
        AutoTokenizer.from_pretrained(tmp_path / "1").pad_token
        == AutoTokenizer.from_pretrained(tiny_policy).pad_token
    )


def test_lora_trains_adapters_and_saves_a_merged_servable_version(tiny_policy, tmp_path):
    embeddings = AutoModelForCausalLM.from_pretrained(tiny_policy).get_input_embeddings().weight.detach()
    settings = PPOSettings(updates=3, batch_size=4, response_length=RESPONSE, ppo_epochs=1, lora=True)
    prompts = [[{"role": "user", "content": f"Question {n}?"}] for n in range(8)]
    trainer = PPOPolicyTrainer(tiny_policy, DirectionReward(embeddings), prompts, settings)
    result = trainer.train()
    assert len(result.scores()) == 3
    trainer.save(tmp_path / "2")
    check_model_folder(ModelVersion(2, tmp_path / "2"))
    assert not list((tmp_path / "2").glob("adapter_*"))  # merged: a plain folder any server can load
    AutoModelForCausalLM.from_pretrained(tmp_path / "2")
