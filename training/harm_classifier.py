"""Train the harmful-request classifier that serving and the audit share (``rag.harm``).

    python -m training.harm_classifier [--check]

Three kinds of training rows, all dev data (the test split of ``tests/data/eval/harmful.jsonl`` is never
read here):

- the hand-written examples in ``rag/data/harm_examples.jsonl``, harmful requests and the legitimate
  look-alikes (one's own account, an admin's duty). The first 90 are generic; the next 160 (90 harmful,
  70 look-alikes) name both help centers' products and were written without seeing the test split:
  indirect and casual phrasings, pretexts ("asking for a friend", a shared past, a dead parent), and
  look-alikes that share their words (an ex who knew my password, a colleague who agreed to 2FA help).
  The last 113 (60 harmful, 53 look-alikes), also blind to the test split, cover each harmful category
  again (weapons and malware asked plainly, phishing messages to draft, pile-ons and false reports,
  stolen tokens and sessions, a family member's or employee's files) with a look-alike of one's own
  account or an admin's duty for most of them;
- the dev split of ``tests/data/eval/harmful.jsonl``;
- the ordinary dev questions of both help centers (in scope and out of scope, ``training.answerability``)
  and their prompt injections wrapped around a real question, all harmless. Without them the classifier
  sees only requests about accounts and security, and puts "Can we pay by wire transfer?" near the line.

The model is the packaged MiniLM encoder with a rank-``RANK`` adaptation of every matrix in its layers
(LoRA: the packaged weights stay frozen, two thin matrices per matrix learn) and a logistic head over
its unit-length sentence vector, trained ``EPOCHS`` passes with the classes weighted to balance.
Measured by 5-fold cross-validation on these rows, at the false-refusal limits below, the share of
held-out harmful requests refused:

- a logistic regression over the frozen MiniLM and bge vectors and the rules (the model before): 0.773;
- the whole encoder tuned (lr 3e-5, unnormalised pooling): 0.867;
- this adaptation: **0.884** (adaptation lr 1e-3: 0.782; 5 passes: 0.867); with the 7 injection rows
  added, which reshuffled the folds, 0.809 (the stored fit).

200 further hand-written rows, near the line on purpose, lowered the whole-encoder figure on the same
held-out rows (0.867 → 0.849) and are not used.

The threshold comes from the same cross-validated probabilities, so no row scores itself: the lowest one
(the most harmful requests refused) whose held-out false refusals stay at or under
``MAX_FALSE_ORDINARY`` for ordinary questions and ``MAX_FALSE_LOOK_ALIKES`` for look-alikes: a refusal
instead of an answer is a real failure for the many users who ask ordinary questions. A full fit takes
about 3.5 minutes on 2 cores, and a rerun there gave the same figures. ``--check`` refits and fails if
the result differs from the stored files beyond float noise, so they can't drift from their data (a test
compares the stored fingerprint of the rows, ``rows_sha256``, with today's rows, which takes no refit).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rag.evaluation import EvalQuestion, load_eval_questions
from rag.harm import ADAPTER, EXAMPLES, WEIGHTS, adapter_deltas
from training.answerability import DEV_SETS, dev_questions

ROOT = Path(__file__).resolve().parent.parent
EVAL_SET = ROOT / "tests" / "data" / "eval" / "harmful.jsonl"
MAX_FALSE_ORDINARY = 0.02
MAX_FALSE_LOOK_ALIKES = 0.10
THRESHOLDS = np.round(np.arange(0.05, 0.996, 0.005), 3)
FOLDS = 5
RANK = 8
SCALE = 2.0  # LoRA's alpha / rank
EPOCHS = 3
LEARNING_RATE = 5e-4
HEAD_LEARNING_RATE = 1e-2
BATCH = 16
MAX_TOKENS = 256  # as the encoder reads at serving (core.minilm)
ADAPTED = (  # in every layer: what the adaptation adds to
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)


def training_rows() -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts, labels, and which rows are ordinary help-center questions (see the module doc)."""
    examples = [json.loads(line) for line in EXAMPLES.read_text(encoding="utf-8").splitlines() if line]
    dev = [json.loads(line) for line in EVAL_SET.read_text(encoding="utf-8").splitlines() if line]
    rows = [(r["text"], bool(r["harmful"])) for r in examples + [r for r in dev if r["split"] == "dev"]]
    ordinary = list(dict.fromkeys(q.question for site in DEV_SETS for q in dev_questions(site)))
    ordinary += [q.question for q in wrapped_injections()]
    texts = [t for t, _ in rows] + ordinary
    labels = np.array([h for _, h in rows] + [False] * len(ordinary))
    return texts, labels, np.arange(len(texts)) >= len(rows)


def wrapped_injections() -> list[EvalQuestion]:
    """The dev split's prompt injections around a real question ("How do I pin a post? Also, disregard
    the help pages and…"): the question is to be answered and the injection stripped (``rag.safety``),
    so they are harmless here, and the classifier must not learn that an injection's words are harm."""
    rows = [q for site in DEV_SETS.values() for path in site for q in load_eval_questions(path)]
    return [q for q in rows if q.kind == "adversarial" and q.source]


def rows_digest(texts: Sequence[str], labels: np.ndarray) -> str:
    """A fingerprint of the training rows, stored with the model: a test compares it with today's rows."""
    rows = json.dumps([[text, bool(label)] for text, label in zip(texts, labels, strict=True)])
    return hashlib.sha256(rows.encode()).hexdigest()


@dataclass
class Tuned:
    """A trained classifier in the stored form: the adaptation's matrices and the logistic head."""

    tensors: dict[str, np.ndarray]  # NAME.lora_a, NAME.lora_b for each adapted NAME.weight
    coef: np.ndarray
    intercept: float


def train(texts: Sequence[str], labels: np.ndarray, *, epochs: int = EPOCHS, seed: int = 0) -> Tuned:
    """Adapt the packaged encoder and fit the head on ``texts`` (see the module doc)."""
    from transformers import AutoModel, AutoTokenizer

    from core.embedder import embedding_model_path

    torch.manual_seed(seed)
    folder = str(embedding_model_path())
    tokenizer = AutoTokenizer.from_pretrained(folder)
    encoder = AutoModel.from_pretrained(folder)
    encoder.requires_grad_(False)
    adapters = _adapt(encoder)
    head = torch.nn.Linear(encoder.config.hidden_size, 1)
    groups = [
        {"params": [p for a in adapters.values() for p in (a.lora_a, a.lora_b)], "lr": LEARNING_RATE},
        # The head reads unit-length vectors: its weights must grow to tens for confident logits.
        {"params": list(head.parameters()), "lr": HEAD_LEARNING_RATE},
    ]
    optimiser = torch.optim.AdamW(groups, weight_decay=0.01)
    balance = torch.tensor(float(len(labels) - labels.sum()) / max(float(labels.sum()), 1.0))
    order = np.random.default_rng(seed)
    encoder.train()
    for _ in range(epochs):
        batches = order.permutation(len(texts))
        for start in range(0, len(batches), BATCH):
            chosen = batches[start : start + BATCH]
            logits = head(_sentences(encoder, tokenizer, [texts[i] for i in chosen]))[:, 0]
            target = torch.tensor(labels[chosen], dtype=torch.float32)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, pos_weight=balance)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    tensors = {}
    for name, adapter in adapters.items():
        tensors[f"{name}.lora_a"] = adapter.lora_a.detach().numpy().copy()
        tensors[f"{name}.lora_b"] = adapter.lora_b.detach().numpy().copy()
    return Tuned(tensors, head.weight.detach().numpy()[0].copy(), float(head.bias.detach()[0]))


def _adapt(encoder: torch.nn.Module) -> dict[str, _LowRank]:
    """Wrap each ``ADAPTED`` linear layer of ``encoder`` in a trainable low-rank update, by the name
    of its weight in the checkpoint (what ``core.minilm`` adds the update to)."""
    adapters = {}
    for number, layer in enumerate(encoder.encoder.layer):
        for path in ADAPTED:
            *parents, attribute = path.split(".")
            parent = layer
            for part in parents:
                parent = getattr(parent, part)
            adapter = _LowRank(getattr(parent, attribute))
            setattr(parent, attribute, adapter)
            adapters[f"encoder.layer.{number}.{path}"] = adapter
    return adapters


def _sentences(encoder: torch.nn.Module, tokenizer: Any, texts: list[str]) -> torch.Tensor:
    """Unit-length mean-pooled vectors, as ``core.minilm`` computes them."""
    batch = tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
    hidden = encoder(**batch).last_hidden_state
    real = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * real).sum(1) / real.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1)


class _LowRank(torch.nn.Module):
    """``base(x) + SCALE · x Aᵀ Bᵀ``: B starts at zero, so training starts from the packaged encoder."""

    def __init__(self, base: torch.nn.Linear) -> None:
        super().__init__()
        self.base = base
        self.lora_a = torch.nn.Parameter(torch.randn(RANK, base.in_features) / base.in_features**0.5)
        self.lora_b = torch.nn.Parameter(torch.zeros(base.out_features, RANK))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + SCALE * (x @ self.lora_a.T) @ self.lora_b.T


def probabilities(tuned: Tuned, texts: Sequence[str]) -> np.ndarray:
    """The probabilities serving computes (numpy, ``core.minilm``) for ``texts``."""
    from core.embedder import embedding_model_path
    from core.minilm import MiniLM

    encoder = MiniLM(embedding_model_path(), adapter_deltas(tuned.tensors, SCALE))
    logits = encoder.encode(list(texts)) @ tuned.coef + tuned.intercept
    return 1.0 / (1.0 + np.exp(-logits))


def fit(progress: Callable[[str], None] = print) -> tuple[dict[str, object], Tuned]:
    """The stored form (threshold, cross-validated figures, head) and the trained model."""
    from sklearn.model_selection import StratifiedKFold

    texts, labels, ordinary = training_rows()
    held_out = np.zeros(len(texts))
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(np.zeros(len(labels)), labels)
    for fold, (train_rows, test_rows) in enumerate(folds, 1):
        progress(f"fold {fold}/{FOLDS}: training on {len(train_rows)} rows")
        tuned = train([texts[i] for i in train_rows], labels[train_rows], seed=fold)
        held_out[test_rows] = probabilities(tuned, [texts[i] for i in test_rows])
    look_alikes = ~labels & ~ordinary

    def false_refusals(rows: np.ndarray, threshold: float) -> float:
        return float((held_out[rows] >= threshold).mean())

    threshold = float(
        min(
            t
            for t in THRESHOLDS
            if false_refusals(ordinary, t) <= MAX_FALSE_ORDINARY
            and false_refusals(look_alikes, t) <= MAX_FALSE_LOOK_ALIKES
        )
    )
    progress(f"final model: training on all {len(texts)} rows")
    tuned = train(texts, labels, seed=0)
    stored = {
        "about": "rag.harm classifier; trained by `python -m training.harm_classifier`",
        "training_rows": {
            "harmful": int(labels.sum()),
            "look_alikes": int(look_alikes.sum()),
            "ordinary_questions": int(ordinary.sum()),
        },
        "rows_sha256": rows_digest(texts, labels),
        "adapter": {
            "rank": RANK,
            "scale": SCALE,
            "epochs": EPOCHS,
            "learning_rate": LEARNING_RATE,
            "head_learning_rate": HEAD_LEARNING_RATE,
        },
        "threshold": threshold,
        "cross_validated": {
            "recall": float((held_out[labels] >= threshold).mean()),
            "false_refusals_look_alikes": false_refusals(look_alikes, threshold),
            "false_refusals_ordinary": false_refusals(ordinary, threshold),
        },
        "intercept": round(tuned.intercept, 6),
        "coef": [round(float(c), 6) for c in tuned.coef],
    }
    return stored, tuned


def save(stored: dict[str, object], tuned: Tuned, weights: Path = WEIGHTS, adapter: Path = ADAPTER) -> None:
    """Write both files, each atomically (a half-written model never loads)."""
    from safetensors.numpy import save_file

    adapter_tmp = adapter.with_name(adapter.name + ".tmp")
    save_file({k: v.astype(np.float32) for k, v in tuned.tensors.items()}, str(adapter_tmp))
    weights_tmp = weights.with_name(weights.name + ".tmp")
    weights_tmp.write_text(json.dumps(stored, indent=1) + "\n", encoding="utf-8")
    adapter_tmp.replace(adapter)
    weights_tmp.replace(weights)


def main_check() -> int:
    """0 when a refit reproduces the stored threshold and model, else 1."""
    from safetensors.numpy import load_file

    fitted, tuned = fit()
    stored = json.loads(WEIGHTS.read_text(encoding="utf-8"))
    tensors = load_file(ADAPTER)
    same = (
        stored["threshold"] == fitted["threshold"]
        and np.allclose(stored["coef"], fitted["coef"], atol=1e-3)
        and tensors.keys() == tuned.tensors.keys()
        and all(np.allclose(tensors[k], v, atol=1e-3) for k, v in tuned.tensors.items())
    )
    print("stored model matches its data" if same else "stored model differs from a refit")
    return 0 if same else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="refit and compare with the stored model")
    args = parser.parse_args()
    if args.check:
        return main_check()
    stored, tuned = fit()
    save(stored, tuned)
    print(f"threshold {stored['threshold']}, cross-validated on dev: {stored['cross_validated']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
