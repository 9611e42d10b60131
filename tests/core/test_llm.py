"""The local chat backend and the batching of concurrent requests."""

import threading
import time
from collections.abc import Sequence

import pytest

from core.batching import BatchingGenerator
from core.llm import ChatBackend, Conversation, TransformersChatBackend, cpu_supports_bf16, resolve_dtype
from core.registry import ModelVersion

QUESTION = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": "Passage: Refunds are possible within 30 days.\n\nCan I get a refund?"},
]


class RecordingBackend(ChatBackend):
    """A backend that echoes, records each batch, and fails on demand: for the batching logic alone."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.release = threading.Event()

    def generate(self, conversations: Sequence[Conversation], max_new_tokens: int) -> list[str]:
        self.release.wait(5)
        self.batches.append(len(conversations))
        if any(c[-1]["content"] == "boom" for c in conversations):
            raise RuntimeError("backend failed")
        return [f"{c[-1]['content']}:{max_new_tokens}" for c in conversations]


def ask_concurrently(generator: BatchingGenerator, contents: list[str], limit: int = 8) -> list[object]:
    results: list[object] = [None] * len(contents)

    def one(i: int) -> None:
        try:
            results[i] = generator.chat([{"role": "user", "content": contents[i]}], limit)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(contents))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def test_concurrent_requests_are_batched_and_each_caller_gets_its_own_reply():
    backend = RecordingBackend()
    generator = BatchingGenerator(backend, max_batch_size=4, wait_ms=200)
    backend.release.set()
    results = ask_concurrently(generator, [f"q{i}" for i in range(6)])
    generator.close()
    assert sorted(results) == sorted(f"q{i}:8" for i in range(6))
    assert sum(backend.batches) == 6
    assert max(backend.batches) > 1
    assert all(size <= 4 for size in backend.batches)


def test_announced_requests_still_on_their_way_join_the_batch():
    backend = RecordingBackend()
    backend.release.set()
    generator = BatchingGenerator(backend, max_batch_size=8, wait_ms=1)

    asked_together = threading.Barrier(4)

    def ask(delay: float, generates: bool) -> None:
        with generator.expecting():
            asked_together.wait(5)
            time.sleep(delay)  # retrieval, slower for some questions than for others
            if generates:
                generator.chat([{"role": "user", "content": f"q{delay}"}], 4)

    threads = [threading.Thread(target=ask, args=(d, d != 0.3)) for d in (0.0, 0.1, 0.2, 0.3)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    generator.close()
    assert backend.batches == [3]  # one batch, although requests came 100 ms apart and wait_ms is 1
    assert time.monotonic() - started < 0.9  # the one that never asked (a decline) was not waited for


def test_a_failing_batch_fails_its_callers_and_the_worker_lives_on():
    backend = RecordingBackend()
    backend.release.set()
    generator = BatchingGenerator(backend, max_batch_size=8, wait_ms=100)
    results = ask_concurrently(generator, ["boom", "fine"])
    assert all(isinstance(r, RuntimeError) for r in results)
    assert generator.chat([{"role": "user", "content": "later"}], 3) == "later:3"
    generator.close()


def test_dtype_resolution():
    import torch

    assert resolve_dtype("float32", "cpu") is torch.float32
    assert resolve_dtype("bfloat16", "cpu") is torch.bfloat16
    assert resolve_dtype("auto", "cpu") is (torch.bfloat16 if cpu_supports_bf16() else torch.float32)


@pytest.mark.slow
def test_the_bundled_model_answers_and_batched_replies_match_single_ones(model_dir):
    backend = TransformersChatBackend(ModelVersion(0, model_dir), "float32")
    other = [{"role": "user", "content": "Say hello to the customer in one short sentence."}]
    alone = [backend.generate([QUESTION], 12)[0], backend.generate([other], 12)[0]]
    batched = backend.generate([QUESTION, other], 12)
    assert alone[0].strip() and alone[1].strip() and alone[0] != alone[1]
    assert batched == alone  # prompts of different lengths, each read alone: greedy decoding is unchanged


@pytest.mark.slow
def test_a_temperature_samples_varied_replies(model_dir):
    backend = TransformersChatBackend(ModelVersion(0, model_dir), "float32", temperature=1.0)
    replies = backend.generate([QUESTION] * 4, 12)
    assert all(r.strip() for r in replies) and len(set(replies)) >= 2
