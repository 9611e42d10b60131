"""Requests a support bot must refuse, told apart from the legitimate ones that look like them.

One classifier serves both places that need it: serving refuses these requests before retrieval (a
help page explaining account recovery is exactly what someone breaking into an ex-partner's account
wants), and the audit's ethics dimension (``audit.dimensions``) fails any answer that goes along with
one. Keeping one definition means the reward the policy is tuned on and what users are refused can't
drift apart.

What counts as harmful: getting into, reading or taking over *someone else's* account, vault, files or
messages; getting around another person's two-factor or single sign-on; phishing and fake login pages;
collecting other people's credentials or contact details; stalking, tracking or doxxing a person;
evading a ban to keep contacting someone; malware and weapons. The legitimate look-alikes (recovering
one's *own* account, resetting one's own 2FA after losing a phone, an admin removing a former
employee's access, blocking or reporting a harasser) are not: what decides is whose account it is and
whether its owner would agree.

The classifier is a copy of the MiniLM sentence encoder (``core.minilm``), tuned on labelled requests
with a low-rank adaptation of its matrices, and a logistic head over its sentence vector. Whose account
it is, and whether they would agree, is in how the words relate, not in which words appear: a linear
model over the frozen MiniLM and bge vectors, with keyword rules as a third input, refused 0.77 of
the held-out harmful requests, and the tuned encoder 0.81–0.88 at the same false-refusal limits
(``training.harm_classifier`` has the figures). It is trained by ``training.harm_classifier`` on
``rag/data/harm_examples.jsonl``, the dev split of the harmful-request set and the ordinary dev
questions of both help centers (so that "Can we pay by wire transfer?" is not near the line), and
stored as the head and threshold in ``rag/data/harm_classifier.json`` and the adaptation (1.3 MB)
in ``rag/data/harm_adapter.safetensors``; the packaged encoder's own weights are not copied. The
threshold is chosen by cross-validation on those rows; the test split is only ever reported on. Serving
runs the tuned encoder in numpy, like the embedder, so a request costs one more short encoding.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import numpy as np

from core.errors import ModelError

DATA = Path(__file__).parent / "data"
WEIGHTS = DATA / "harm_classifier.json"
ADAPTER = DATA / "harm_adapter.safetensors"
EXAMPLES = DATA / "harm_examples.jsonl"
REFIT = "refit them with `python -m training.harm_classifier`, or restore them from the repository"


def adapter_deltas(tensors: dict[str, np.ndarray], scale: float) -> dict[str, np.ndarray]:
    """What the low-rank adaptation adds to each adapted matrix of the encoder: ``scale · B A`` for the
    pairs stored as ``NAME.lora_a`` (rank × in) and ``NAME.lora_b`` (out × rank)."""
    names = sorted(key.removesuffix(".lora_a") for key in tensors if key.endswith(".lora_a"))
    return {
        f"{name}.weight": scale
        * tensors[f"{name}.lora_b"].astype(np.float32)
        @ tensors[f"{name}.lora_a"].astype(np.float32)
        for name in names
    }


class HarmClassifier:
    """Tells requests to refuse from legitimate ones (see the module doc)."""

    def __init__(self, weights: Path = WEIGHTS, adapter: Path = ADAPTER) -> None:
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        from core.embedder import embedding_model_path
        from core.minilm import MiniLM

        try:
            stored = json.loads(weights.read_text(encoding="utf-8"))
            deltas = adapter_deltas(load_file(adapter), float(stored["adapter"]["scale"]))
            self.encoder = MiniLM(embedding_model_path(), deltas)
            self.coef = np.asarray(stored["coef"], dtype=np.float32)
            self.intercept = float(stored["intercept"])
            self.threshold = float(stored["threshold"])
        # a missing, corrupt or mismatched file (another model's adaptation)
        except (OSError, ValueError, KeyError, TypeError, SafetensorError) as exc:
            raise ModelError(
                f"The harm classifier in {weights} and {adapter} could not be loaded ({exc}); {REFIT}."
            ) from exc

    def probability(self, request: str) -> float:
        """The head's probability that ``request`` is one to refuse (thresholded on held-out rows)."""
        logit = float(self.encoder.encode([request])[0] @ self.coef) + self.intercept
        return 1.0 / (1.0 + math.exp(-logit))

    def is_harmful(self, request: str) -> bool:
        return self.probability(request) >= self.threshold


@cache
def default_classifier() -> HarmClassifier:
    """The shipped classifier, loaded once per process (serving and the audit share it)."""
    return HarmClassifier()


def is_harmful_request(request: str) -> bool:
    """Whether ``request`` is one to refuse, by the default classifier."""
    return default_classifier().is_harmful(request)
