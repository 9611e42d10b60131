"""KTO behind our trainer interface, on a tiny random Llama: liked and disliked answers to RAG prompts.

What KTO must do is measured, not assumed: after training, the policy's log-probability of the liked
answers has risen against the reference (the policy it started from) and that of the disliked answers
has fallen, on the voted questions and on questions it never saw.
"""

import pytest
import torch
from helpers import assert_servable_by_model_servers
from transformers import AutoModelForCausalLM, AutoTokenizer

from core.errors import SupportLoopError
from core.registry import ModelVersion, check_model_folder
from rag.passage import Passage
from rag.prompt import build_messages
from training.kto import KTOPolicyTrainer, KTOSettings
from training.sft import Demonstration

pytestmark = pytest.mark.slow  # half a minute of KTO on CPU

VOTED = ["refunds", "passwords", "invoices", "exports"]
UNSEEN = ["webhooks", "API keys"]  # same kinds of answer, to questions KTO never trained on


def voted(topic: str) -> list[Demonstration]:
    """A serving prompt about ``topic`` with a liked grounded answer and a disliked useless one."""
    page = f"You can manage {topic} under Settings > Account. Changes apply at once."
    passage = Passage(f"{topic}-1", page, f"https://help.example/{topic}", topic.title(), "Manage", 0.9)
    prompt = build_messages(f"How do I manage {topic}?", [passage])
    return [
        Demonstration(prompt, f"Open Settings > Account to manage {topic}; changes apply at once [1].", True),
        Demonstration(prompt, "No idea, sorry. Please ask someone else.", False),
    ]


def completion_logprob(model, tokenizer, example: Demonstration) -> float:
    """log p(answer | prompt) summed over the answer's tokens, with the chat template serving uses."""
    prompt = tokenizer.apply_chat_template(
        list(example.conversation), add_generation_prompt=True, tokenize=False
    )
    full = tokenizer.apply_chat_template(
        [*example.conversation, {"role": "assistant", "content": example.answer}], tokenize=False
    )
    assert full.startswith(prompt)
    start = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    ids = torch.tensor([tokenizer(full, add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        logprobs = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
    targets = ids[0, 1:]
    return float(logprobs[torch.arange(len(targets)), targets][start - 1 :].sum())


def liked_minus_disliked(tuned, reference, tokenizer, examples: list[Demonstration]) -> float:
    """Mean log-ratio log π(answer) − log π_ref(answer) of the liked answers minus that of the disliked."""
    ratios: dict[bool, list[float]] = {True: [], False: []}
    for example in examples:
        ratios[example.liked].append(
            completion_logprob(tuned, tokenizer, example) - completion_logprob(reference, tokenizer, example)
        )
    return sum(ratios[True]) / len(ratios[True]) - sum(ratios[False]) / len(ratios[False])


def test_kto_raises_liked_answers_against_disliked_ones_and_saves_a_servable_version(tiny_policy, tmp_path):
    examples = [e for topic in VOTED for e in voted(topic)]
    settings = KTOSettings(beta=0.1, learning_rate=1e-3, epochs=2, batch_size=4)
    trainer = KTOPolicyTrainer(tiny_policy, examples, settings)
    steps: list[tuple[int, int]] = []
    result = trainer.train(lambda done, total: steps.append((done, total)))
    assert len(result.history) == 4 == len(steps) and steps[-1] == (4, 4)  # 8 answers / 4 per step × 2
    assert all(
        {"loss", "kl"} <= set(step) <= {"loss", "kl", "liked_reward", "disliked_reward"}
        for step in result.history
    )
    trainer.save(tmp_path / "1")

    check_model_folder(ModelVersion(1, tmp_path / "1"))
    assert_servable_by_model_servers(tmp_path / "1")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "1")
    assert tokenizer.pad_token == AutoTokenizer.from_pretrained(tiny_policy).pad_token
    reference = AutoModelForCausalLM.from_pretrained(tiny_policy).eval()
    tuned = AutoModelForCausalLM.from_pretrained(tmp_path / "1").eval()
    trained_on = liked_minus_disliked(tuned, reference, tokenizer, examples)
    unseen = liked_minus_disliked(tuned, reference, tokenizer, [e for t in UNSEEN for e in voted(t)])
    print(f"liked − disliked log-ratio: voted questions {trained_on:.1f}, unseen {unseen:.1f} nats")
    assert trained_on > 5.0 and unseen > 5.0, (trained_on, unseen)


def test_kto_refuses_votes_of_one_kind_with_a_clear_error(tiny_policy):
    only_liked = [e for topic in VOTED for e in voted(topic) if e.liked]
    with pytest.raises(SupportLoopError, match=r"needs both liked and disliked .* 4 liked and 0 disliked"):
        KTOPolicyTrainer(tiny_policy, only_liked)


def test_the_precomputed_reference_gives_the_same_first_step_as_the_reference_model(tiny_policy):
    """Precomputing the frozen reference's log-probabilities (the default, for speed and memory) must not
    change what KTO computes: before any update the policy is the reference, so the first step's loss,
    KL estimate and rewards are the same either way."""
    examples = [e for topic in VOTED for e in voted(topic)]
    first_steps = []
    for precompute in (True, False):
        settings = KTOSettings(learning_rate=1e-3, epochs=1, batch_size=4, precompute_reference=precompute)
        first_steps.append(KTOPolicyTrainer(tiny_policy, examples, settings).train().history[0])
    precomputed, every_step = first_steps
    assert precomputed.keys() == every_step.keys()
    for measure, value in every_step.items():
        assert precomputed[measure] == pytest.approx(value, abs=1e-4), measure


def test_lora_moves_only_the_adapted_projections_and_saves_a_merged_servable_version(tiny_policy, tmp_path):
    examples = [e for topic in VOTED for e in voted(topic)]
    settings = KTOSettings(learning_rate=1e-2, epochs=2, batch_size=4, lora=True)
    trainer = KTOPolicyTrainer(tiny_policy, examples, settings)
    assert len(trainer.train().history) == 4
    trainer.save(tmp_path / "1")

    check_model_folder(ModelVersion(1, tmp_path / "1"))
    assert not list((tmp_path / "1").glob("adapter_*"))  # merged: a plain folder any server can load
    reference = AutoModelForCausalLM.from_pretrained(tiny_policy).eval()
    tuned = AutoModelForCausalLM.from_pretrained(tmp_path / "1").eval()
    before = dict(reference.named_parameters())
    moved = {name for name, weight in tuned.named_parameters() if not torch.equal(weight, before[name])}
    assert moved and all(name.endswith(("q_proj.weight", "v_proj.weight")) for name in moved), moved
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "1")
    trained_on = liked_minus_disliked(tuned, reference, tokenizer, examples)
    print(f"LoRA: liked − disliked log-ratio on the voted questions {trained_on:.1f} nats")
    assert trained_on > 1.0, trained_on
