"""Fixtures for training tests: a policy small enough to train in seconds on a CPU."""

from pathlib import Path

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer


@pytest.fixture(scope="session")
def tiny_policy(model_dir, tmp_path_factory) -> Path:
    """A 2-layer Llama with SmolLM2's vocabulary and chat template, randomly initialised."""
    config = AutoConfig.from_pretrained(model_dir)
    config.update(
        {
            "num_hidden_layers": 2,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 16,
        }
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-policy")
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(folder)
    return folder
