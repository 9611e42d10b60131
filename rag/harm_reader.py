"""A chat model's reading of a request, as one more feature of the harm classifier (``rag.harm``).

Linear models over frozen sentence vectors stopped learning from more examples: what separates "get
into my ex's account" from "get into my old account" is whose account it is and whether its owner would
agree, which a sentence vector blurs. An instruct model reads that, but asked outright it says yes to
nearly everything (Qwen2.5-Coder-1.5B-Instruct, harmful against look-alikes: AUC 0.38). So its answer is
never the decision. How much likelier it is to say "YES" than "NO" to the policy below, after sixteen
labelled examples, is one more column beside the vectors and the rules, and the classifier's weights
are refitted with it for the model the server hosts (``training.harm_classifier --llm-url``): each model's
margins are on its own scale. A calibration file records which model and which prompt it was fitted
for, so a changed model or prompt is noticed instead of silently misweighted.

The examples are sixteen of the classifier's training rows, drawn at random; the calibration leaves
them out, so no row it is measured on was shown. Sixteen examples written for the prompt about made-up
products, tried first, gave a reading that added nothing (held-out recall 0.779 → 0.788 on average over
five fold shuffles with Qwen2.5-Coder-1.5B); these, in the users' own casual phrasing, 0.779 → 0.840,
higher on every shuffle. The eval sets' test split is never read.

The reader needs a model server (``SUPPORTLOOP_LLM_URL``) that returns ``top_logprobs``. On 2 CPU cores
a local llama.cpp server reads a request in ~0.45 s (``bench/llama_logprob_server.py``), because the
system message and examples are the same prefix every time and stay cached.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.errors import ModelError
from core.openai_compat import OpenAICompatibleBackend

if TYPE_CHECKING:
    from core.llm import Conversation
    from core.settings import Settings
    from rag.harm import Reading

POLICY = (
    "You screen requests sent to a company's customer-support assistant. Answer YES if helping would "
    "mean getting into, reading or taking over someone else's account, files or messages; getting around "
    "another person's two-factor login or other security; phishing or fake login pages; collecting other "
    "people's credentials or personal details; stalking, tracking or exposing a person; evading a ban to "
    "keep contacting someone; or malware and weapons. Answer NO for ordinary questions, for anything about "
    "the asker's own account (even a locked or forgotten one), and for an admin managing their own "
    "organisation's accounts. Answer with YES or NO only."
)
EXAMPLES_FILE = Path(__file__).parent / "data" / "harm_examples.jsonl"
# Lines (from 0) of ``EXAMPLES_FILE`` shown as examples: 8 harmful requests and 8 look-alikes drawn at
# random (``random.Random(0)``) from its rows that name the help centers' products (lines 90–249).
EXAMPLE_LINES = (128, 141, 244, 228, 207, 139, 152, 143, 216, 95, 245, 241, 155, 197, 225, 123)


def _examples() -> tuple[tuple[str, bool], ...]:
    rows = EXAMPLES_FILE.read_text(encoding="utf-8").splitlines()
    return tuple((row["text"], bool(row["harmful"])) for row in (json.loads(rows[n]) for n in EXAMPLE_LINES))


EXAMPLES = _examples()
CALIBRATION_FILE = "harm_reader.json"  # in the data directory, written by ``supportloop harm calibrate``
READ_TIMEOUT_S = 10.0  # a harm check waits at most this long for the server, then judges without it


def conversation(request: str) -> Conversation:
    """The chat that asks the model about ``request``: the policy, the examples as earlier turns, then it.

    Everything before the request is the same for every request, so a server with prefix caching (vLLM,
    llama.cpp) reads only the request's own tokens."""
    turns: list[dict[str, str]] = [{"role": "system", "content": POLICY}]
    for text, harmful in EXAMPLES:
        turns += [
            {"role": "user", "content": f"Request: {text}"},
            {"role": "assistant", "content": "YES" if harmful else "NO"},
        ]
    return [*turns, {"role": "user", "content": f"Request: {request}"}]


def prompt_fingerprint() -> str:
    """A short hash of the policy and the examples: a calibration is valid only for the prompt it read."""
    return hashlib.sha256(json.dumps([POLICY, EXAMPLES]).encode()).hexdigest()[:16]


class HarmReader:
    """Reads requests through a model server; ``LLMServerError`` when the server fails."""

    def __init__(self, backend: OpenAICompatibleBackend) -> None:
        self.backend = backend

    @property
    def model(self) -> str:
        return self.backend.model

    def scores(self, requests: Sequence[str]) -> np.ndarray:
        """One row per request: the model's YES − NO log-probability margin (sent all at once)."""
        margins = self.backend.yes_no_margins([conversation(r) for r in requests])
        return np.asarray(margins, dtype=np.float32).reshape(-1, 1)


@dataclass(frozen=True)
class Calibration:
    """The harm classifier's weights refitted with a model's reading as its last feature."""

    model: str
    coef: np.ndarray
    intercept: float
    threshold: float

    @classmethod
    def load(cls, path: Path, model: str) -> Calibration:
        """The calibration in ``path`` for ``model``, or ``ModelError`` saying why it can't be used."""
        fix = f"run `supportloop harm calibrate` against the model server to refit it ({path})"
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            found = cls(
                str(stored["model"]),
                np.asarray(stored["coef"], dtype=np.float32),
                float(stored["intercept"]),
                float(stored["threshold"]),
            )
            fingerprint = stored["prompt"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"The harm reader's calibration can't be read ({exc}); {fix}.") from exc
        if found.model != model:
            raise ModelError(
                f"The harm reader was calibrated for model {found.model!r}, not {model!r}; {fix}."
            )
        if fingerprint != prompt_fingerprint():
            raise ModelError(f"The harm reader's prompt changed since it was calibrated; {fix}.")
        return found


def reader_for(settings: Settings, timeout_s: float = READ_TIMEOUT_S, retries: int = 1) -> HarmReader:
    """A reader over the configured model server. Serving's waits ``READ_TIMEOUT_S`` at most and
    retries once: a request waits for its harm check, so a stalled server costs seconds, not minutes."""
    if not settings.llm_url:
        raise ModelError("No model server is set: set SUPPORTLOOP_LLM_URL to one that hosts a chat model.")
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    backend = OpenAICompatibleBackend(
        settings.llm_url,
        settings.llm_model,
        key,
        timeout_s=min(settings.llm_timeout_s, timeout_s),
        retries=retries,
        stream=False,
        max_parallel=settings.max_batch_size,
    )
    return HarmReader(backend)


def calibration_path(settings: Settings) -> Path:
    """Where the calibration for the configured model server is kept."""
    return settings.data_dir / CALIBRATION_FILE


def configured_reading(settings: Settings) -> Reading | None:
    """The reader and its calibration where a model server is set and calibrated for its model, else
    None; ``ModelError`` where the calibration is for another model or prompt, or unreadable."""
    path = calibration_path(settings)
    if not settings.llm_url or not path.exists():
        return None
    return reader_for(settings), Calibration.load(path, settings.llm_model)
