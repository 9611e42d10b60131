"""The warm start: liked answers become demonstrations, and fine-tuning makes the policy write them."""

import pytest
import torch
from helpers import assert_servable_by_model_servers
from transformers import AutoModelForCausalLM, AutoTokenizer

from core.registry import ModelVersion, check_model_folder
from training.datasets import LabelledAnswer
from training.sft import Demonstration, SFTSettings, demonstrations, fine_tune

pytestmark = pytest.mark.slow  # fine-tunes a tiny policy (seconds)


def conversation(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Pages: (quoted)\n\nQuestion: {question}"}]


def answer(n: int, question: str, text: str, up: int, down: int) -> LabelledAnswer:
    return LabelledAnswer(n, question, text, [], up, down, [])


def test_only_liked_stored_answers_to_covered_questions_are_demonstrations():
    prompts = {"How do refunds work?": conversation("refunds"), "How do I export?": conversation("export")}
    answers = [
        answer(1, "How do refunds work?", "Ask within 30 days.", 3, 0),
        answer(2, "How do refunds work?", "Ask within 30 days. ", 2, 1),  # the same answer again
        answer(3, "How do refunds work?", "No idea.", 0, 3),  # disliked
        answer(4, "What is the weather?", "Sunny.", 3, 0),  # no prompt: the pages don't cover it
        answer(-1, "How do I export?", "Use File > Export.", 1, 0),  # an audit counter-example
        answer(5, "How do I export?", "Use File > Export.", 2, 0),
    ]
    assert demonstrations(answers, prompts) == [
        Demonstration(prompts["How do refunds work?"], "Ask within 30 days."),
        Demonstration(prompts["How do I export?"], "Use File > Export."),
    ]


def answer_loss(folder, examples: list[Demonstration]) -> float:
    """Mean per-token loss of the demonstrations' answers under the policy in ``folder``."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    losses = []
    for example in examples:
        prompt = tokenizer.apply_chat_template(
            list(example.conversation), add_generation_prompt=True, tokenize=False
        )
        start = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        ids = tokenizer(prompt + example.answer, add_special_tokens=False, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            logits = model(ids).logits[0, start - 1 : -1]
        losses.append(float(torch.nn.functional.cross_entropy(logits, ids[0, start:])))
    return sum(losses) / len(losses)


def test_fine_tuning_makes_the_liked_answers_likely_and_saves_a_servable_folder(tiny_policy, tmp_path):
    examples = [
        Demonstration(
            conversation(f"How do I change setting {n}?"), f"Open Settings, then choose option {n}."
        )
        for n in range(6)
    ]
    before = answer_loss(tiny_policy, examples)
    result = fine_tune(tiny_policy, examples, tmp_path / "warm", SFTSettings(epochs=3, learning_rate=3e-3))
    assert result.examples == 6 and len(result.losses) == 3
    assert result.losses[-1] < result.losses[0]
    check_model_folder(ModelVersion(1, tmp_path / "warm"))
    assert_servable_by_model_servers(tmp_path / "warm")
    after = answer_loss(tmp_path / "warm", examples)
    assert after < before - 1.0, (before, after)  # nats per answer token
    assert not list(tmp_path.glob(".warm-*"))  # no staging folder left behind
