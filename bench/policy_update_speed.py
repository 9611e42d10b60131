"""Seconds per policy update, PPO and KTO, on a CPU or on the GPU when torch sees one.

The learning-loop bench (``bench/learning_loop.py``) needs the whole product: the index, simulated
users and the packaged 98 MB model. A GPU worker under test may hold only the trainers, so this bench
runs our two trainers (``training.ppo``, ``training.kto``) alone, on inputs written beforehand on a
machine with the product installed:

    python bench/policy_update_speed.py prepare DIR [--architecture-only]
    python bench/policy_update_speed.py measure DIR [--updates 4] [--kto-steps 6]

``prepare`` indexes the bundled demo help center in a scratch data directory and writes to DIR:

- ``policy/``: the folder retraining starts from (version 0, converted from the packaged SmolLM2). With
  ``--architecture-only``, only its config and tokenizer; ``measure`` then initialises the same
  architecture randomly. An update's arithmetic does not depend on the weights' values; only PPO's
  sampled length does, and a random policy seldom stops early, so each response runs to the full
  ``response_length``: an upper bound on a trained policy's update.
- ``inputs.json``: the demo's in-scope questions as serving prompts them (the passages it retrieves),
  and the answer it serves to each, labelled liked and disliked in turn (KTO's rows).

``measure`` times, each in the same run and each in a child process of its own (so each peak is its
own): PPO as retraining configures it (``PPOSettings``: 8 prompts an update in micro-batches of 2, the
shape chosen for a CPU's memory), PPO with the whole batch in one pass (the GPU's shape; left out on a
CPU, where it outgrew 23 GiB), and KTO four ways: the batch of 4 in one pass with the reference model
run at every step, the same with the reference's log-probabilities computed once beforehand
(``KTOSettings.precompute_reference``), as configured (reference precomputed; on a CPU passes of 2),
and as configured with LoRA. PPO's reward is a sequence classifier of the policy's architecture,
randomly initialised: as costly as the value model, more than the feature reward model that serves. It
prints per trainer the median seconds per update (the first, warm-up, left out), the ratio to the
CPU-shaped PPO, the trainer's whole wall time (KTO's reference pass included: it is not in the
per-update median) and the peak memory (GPU allocations on a GPU, RSS on a CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from supportloop.logs import quiet_environment  # noqa: E402

quiet_environment()  # offline, as the product runs: before any model library loads

ARCHITECTURE_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json")


def prepare(target: Path, architecture_only: bool) -> None:
    """Write ``policy/`` and ``inputs.json`` under ``target`` (see the module doc)."""
    from bench.fast_path_scenarios import run
    from core.settings import load_settings
    from rag.prompt import build_messages
    from supportloop.app import SupportLoop
    from supportloop.demo_site import load_questions, serve_demo_site

    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="supportloop-bench-") as data_dir:
        with serve_demo_site(0) as url:
            run(["index", url + "/"], {**os.environ, "SUPPORTLOOP_DATA_DIR": data_dir})
        os.environ["SUPPORTLOOP_DATA_DIR"] = data_dir
        with SupportLoop(load_settings()) as loop:
            policy = loop.registry.current().path
            prompts, answers = [], []
            for question in (q.question for q in load_questions() if q.kind == "in_scope"):
                answer = loop.answerer.answer(question)
                if answer.declined or not answer.passages:
                    continue
                conversation = list(build_messages(question, answer.passages))
                prompts.append(conversation)
                answers.append(
                    {"conversation": conversation, "answer": answer.text, "liked": len(answers) % 2 == 0}
                )
        shutil.rmtree(target / "policy", ignore_errors=True)
        if architecture_only:
            (target / "policy").mkdir()
            for name in ARCHITECTURE_FILES:
                shutil.copy(policy / name, target / "policy" / name)
        else:
            shutil.copytree(policy, target / "policy")
    (target / "inputs.json").write_text(json.dumps({"prompts": prompts, "answers": answers}))
    print(f"wrote {target}: {len(prompts)} prompts, {len(answers)} voted answers", flush=True)


def _policy(inputs: Path, scratch: Path) -> Path:
    """The policy folder to train: as prepared, or (architecture only) randomly initialised in ``scratch``."""
    folder = inputs / "policy"
    if any(folder.glob("*.safetensors")):
        return folder
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder))
    random_folder = scratch / "random-policy"
    model.save_pretrained(random_folder)
    AutoTokenizer.from_pretrained(folder).save_pretrained(random_folder)
    print("policy: the packaged architecture, randomly initialised (--architecture-only)", flush=True)
    return random_folder


class _Clock:
    """The progress callback's timestamps: one per finished update."""

    def __init__(self) -> None:
        self.ends: list[float] = []

    def __call__(self, done: int, total: int) -> None:
        self.ends.append(time.perf_counter())
        print(f"  update {done}/{total}", flush=True)

    def per_update(self, started: float) -> float:
        """Median seconds per update, leaving out the first (it loads kernels and warms caches)."""
        times = [b - a for a, b in zip([started, *self.ends], self.ends, strict=False)]
        return statistics.median(times[1:] if len(times) > 1 else times)


def _peak_gib() -> float:
    import torch

    if torch.cuda.is_available():
        peak = torch.cuda.max_memory_allocated() / 2**30
        torch.cuda.reset_peak_memory_stats()
        return peak
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _run_trainer(
    inputs: Path, policy: Path, kind: str, options: dict[str, Any], steps: int
) -> dict[str, float]:
    """One trainer, ``steps`` updates: median seconds per update, whole seconds (KTO's reference pass
    included), peak memory. Run in a child process of its own, so each row's peak RSS is its own."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from training.kto import KTOPolicyTrainer, KTOSettings
    from training.policy import training_dtype
    from training.ppo import PPOPolicyTrainer, PPOSettings
    from training.sft import Demonstration

    data = json.loads((inputs / "inputs.json").read_text())
    clock, started = _Clock(), time.perf_counter()
    if kind == "ppo":
        reward = AutoModelForSequenceClassification.from_pretrained(
            policy, num_labels=1, dtype=training_dtype()
        )
        reward.config.pad_token_id = reward.config.eos_token_id
        if torch.cuda.is_available():
            reward = reward.cuda()
        started = time.perf_counter()
        PPOPolicyTrainer(policy, reward, data["prompts"], PPOSettings(updates=steps, **options)).train(clock)
    else:
        settings = KTOSettings(epochs=1, **options)
        rows = [Demonstration(a["conversation"], a["answer"], a["liked"]) for a in data["answers"]]
        KTOPolicyTrainer(policy, rows[: steps * settings.batch_size], settings).train(clock)
    return {
        "per_update": clock.per_update(started),
        "seconds": time.perf_counter() - started,
        "peak": _peak_gib(),
    }


def measure(inputs: Path, updates: int, kto_steps: int) -> None:
    import multiprocessing

    import torch

    device = (
        torch.cuda.get_device_name()
        if torch.cuda.is_available()
        else f"CPU, {torch.get_num_threads()} threads"
    )
    print(f"device: {device}; torch {torch.__version__}", flush=True)
    whole = {"micro_batch_size": 4}  # KTO's batch in one pass (the default on a GPU)
    runs: list[tuple[str, str, dict[str, Any], int]] = [
        ("PPO, micro-batches of 2 (as on a CPU)", "ppo", {"micro_batch_size": 2}, updates)
    ]
    if torch.cuda.is_available():  # on a CPU one pass of 8 prompts outgrew 23 GiB
        runs.append(("PPO, whole batch of 8", "ppo", {"micro_batch_size": 8}, updates))
    runs += [
        (
            "KTO, reference every step, passes of 4",
            "kto",
            {"precompute_reference": False, **whole},
            kto_steps,
        ),
        ("KTO, reference precomputed, passes of 4", "kto", whole, kto_steps),
        ("KTO, as configured", "kto", {}, kto_steps),
        ("KTO, as configured, LoRA", "kto", {"lora": True}, kto_steps),
    ]
    results: list[tuple[str, int, dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="supportloop-bench-") as scratch:
        policy = _policy(inputs, Path(scratch))
        spawn = multiprocessing.get_context("spawn")
        for name, kind, options, steps in runs:
            print(name, flush=True)
            with spawn.Pool(1) as pool:
                result = pool.apply(_run_trainer, (inputs, policy, kind, options, steps))
            results.append((name, steps, result))
    baseline = results[0][2]["per_update"]
    print(f"\n{'trainer':<42} {'s/update':>9} {'vs first':>9} {'whole s':>8} {'updates':>8} {'peak GiB':>9}")
    for name, steps, r in results:
        print(
            f"{name:<42} {r['per_update']:>9.2f} {baseline / r['per_update']:>8.2f}x {r['seconds']:>8.1f} "
            f"{steps:>8} {r['peak']:>9.2f}"
        )
    print("whole s: the trainer's own wall time for its updates, KTO's pass over the reference included")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    prep = commands.add_parser(
        "prepare", help="write the policy and the prompts (needs the product installed)"
    )
    prep.add_argument("dir", type=Path)
    prep.add_argument("--architecture-only", action="store_true", help="config and tokenizer, no weights")
    run = commands.add_parser("measure", help="time the trainers on what prepare wrote")
    run.add_argument("dir", type=Path)
    run.add_argument("--updates", type=int, default=4, help="PPO updates per shape (the first is warm-up)")
    run.add_argument("--kto-steps", type=int, default=6, help="KTO steps (the first is warm-up)")
    args = parser.parse_args()
    if args.command == "prepare":
        prepare(args.dir, args.architecture_only)
    else:
        measure(args.dir, args.updates, args.kto_steps)


if __name__ == "__main__":
    main()
