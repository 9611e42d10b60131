"""Vectors of the texts encoded lately, so that a text seen again is not encoded again.

The learning loop reads the same texts many times: a fast-path run's cross-fitting and audit score the
same answer openings and questions in every fold and probe, and grounding checks read the same help-page
sentences for every answer to a question (a collect cycle grounds hundreds of answers built from a few
dozen pages). Encoding is what those steps spend their time on, so each encoder that sees repeats keeps
one of these in front of it. The harm classifier keeps its verdicts in one too, as rows of one number:
an audit asks about the same questions once per answer and dimension. Serving threads share them, hence
the lock, which is held only to read and write the memory, never while encoding.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

DEFAULT_SIZE = 8192  # 12 MiB of 384-dimensional vectors: an audit's texts several times over


class VectorMemory:
    """``encode`` (texts to one float32 row each) with the last ``size`` texts' rows remembered."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray], size: int = DEFAULT_SIZE) -> None:
        self.encode = encode
        self.size = size
        self._rows: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._rows)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text, in order; an empty input gives an empty (0, 0) array."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        with self._lock:
            known = {text: self._rows[text] for text in set(texts) if text in self._rows}
            for text in known:
                self._rows.move_to_end(text)
        missing = sorted(set(texts) - known.keys())
        if missing:
            fresh = dict(zip(missing, np.asarray(self.encode(missing), dtype=np.float32), strict=True))
            with self._lock:
                self._rows.update(fresh)
                while len(self._rows) > self.size:
                    self._rows.popitem(last=False)
            known.update(fresh)
        return np.stack([known[text] for text in texts])
