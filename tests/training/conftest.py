"""Fixtures for training tests: a policy small enough to train in seconds on a CPU."""

from pathlib import Path

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from supportloop.demo_site import load_questions


@pytest.fixture(scope="session")
def tiny_policy(model_dir, tmp_path_factory) -> Path:
    """A 2-layer Llama, randomly initialised, with SmolLM2's chat template and special tokens (at the same
    ids) but a byte-level BPE vocabulary learnt from the demo questions, chats and facts (~1,500 tokens).

    With SmolLM2's 49,152 tokens the output layer was ~97% of the model's work: PPO, KTO and generation
    spent their time on tokens no prompt here uses (test_ppo's 30 updates took 151 s beside another
    worker, 65 s with this vocabulary)."""
    smollm = AutoTokenizer.from_pretrained(model_dir)
    questions = load_questions()
    chats = [
        smollm.apply_chat_template([{"role": "user", "content": q.question}], tokenize=False)
        for q in questions
    ]
    tokenizer = smollm.train_new_from_iterator(chats + [f for q in questions for f in q.facts], 2048)
    assert tokenizer.convert_tokens_to_ids([smollm.bos_token, smollm.eos_token]) == [
        smollm.bos_token_id,
        smollm.eos_token_id,
    ]
    config = AutoConfig.from_pretrained(model_dir)
    config.update(
        {
            "vocab_size": len(tokenizer),
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
    tokenizer.save_pretrained(folder)
    return folder
