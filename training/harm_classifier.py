"""Fit the harmful-request classifier that serving and the audit share (``rag.harm``).

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
  account or an admin's duty for most of them: with them training, held-out recall on the rows before
  them rose from 0.776 to 0.842 at the same false-refusal limits;
- the dev split of ``tests/data/eval/harmful.jsonl``;
- the ordinary dev questions of both help centers (in scope and out of scope, ``training.answerability``),
  all harmless. Without them the classifier sees only requests about accounts and security, and puts
  "Can we pay by wire transfer?" near 0.5.

The classes are weighted to balance (harmful rows are the fewest). Probabilities for choosing the
threshold are 10-fold cross-validated, so no row scores itself. The threshold is the lowest one (the
most harmful requests refused) whose held-out false refusals stay at or under ``MAX_FALSE_ORDINARY``
for ordinary questions and ``MAX_FALSE_LOOK_ALIKES`` for look-alikes: a refusal instead of an answer
is a real failure for the many users who ask ordinary questions. The held-out recall is stored beside
it. ``--check`` refits and fails if the refit decides differently (``main_check``), so the file can't
drift from its data.

``calibrate`` refits the same rows with a model server's reading as one more feature (``rag.harm_reader``)
and cross-validates both on the same folds; ``supportloop harm calibrate`` keeps the result only where
the reading raised held-out recall.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.harm import EXAMPLES, WEIGHTS, features, probabilities
from rag.harm_reader import EXAMPLES as READER_EXAMPLES
from rag.harm_reader import prompt_fingerprint
from training.answerability import DEV_SETS, dev_questions

ROOT = Path(__file__).resolve().parent.parent
EVAL_SET = ROOT / "tests" / "data" / "eval" / "harmful.jsonl"
C = 10.0  # inverse regularisation: cross-validated recall 0.739, 0.745, 0.776, 0.752 at C = 1, 3, 10, 30
MAX_FALSE_ORDINARY = 0.02
MAX_FALSE_LOOK_ALIKES = 0.10
THRESHOLDS = np.round(np.arange(0.20, 0.91, 0.025), 3)
FOLDS = 10
CHECK_TOLERANCE = 0.02  # how far a refit's probabilities may be from the stored model's (``main_check``)
READ_BATCH = 32  # requests sent to the model server at once while calibrating

if TYPE_CHECKING:
    from rag.harm_reader import HarmReader


def training_rows() -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts, labels, and which rows are ordinary help-center questions (see the module doc)."""
    examples = [json.loads(line) for line in EXAMPLES.read_text(encoding="utf-8").splitlines() if line]
    dev = [json.loads(line) for line in EVAL_SET.read_text(encoding="utf-8").splitlines() if line]
    rows = [(r["text"], bool(r["harmful"])) for r in examples + [r for r in dev if r["split"] == "dev"]]
    ordinary = list(dict.fromkeys(q.question for site in DEV_SETS for q in dev_questions(site)))
    texts = [t for t, _ in rows] + ordinary
    labels = np.array([h for _, h in rows] + [False] * len(ordinary))
    return texts, labels, np.arange(len(texts)) >= len(rows)


def training_features(texts: list[str]) -> np.ndarray:
    from core.embedder import load_embeddings

    return features(load_embeddings(), texts)


def fit(x: np.ndarray | None = None, rows: np.ndarray | None = None) -> dict[str, object]:
    """The classifier fitted on ``training_rows`` (``x``: their features, if already computed; ``rows``:
    a mask of the rows to use, all by default)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    texts, labels, ordinary = training_rows()
    x = training_features(texts) if x is None else x
    if rows is not None:
        labels, ordinary, x = labels[rows], ordinary[rows], x[rows]
    held_out = np.zeros(len(labels))
    for train, test in StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(x, labels):
        model = LogisticRegression(C=C, max_iter=5000, class_weight="balanced").fit(x[train], labels[train])
        held_out[test] = model.predict_proba(x[test])[:, 1]
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
    model = LogisticRegression(C=C, max_iter=5000, class_weight="balanced").fit(x, labels)
    return {
        "about": "rag.harm classifier; fitted by `python -m training.harm_classifier`",
        "training_rows": {
            "harmful": int(labels.sum()),
            "look_alikes": int(look_alikes.sum()),
            "ordinary_questions": int(ordinary.sum()),
        },
        "C": C,
        "threshold": threshold,
        "cross_validated": {
            "recall": float((held_out[labels] >= threshold).mean()),
            "false_refusals_look_alikes": false_refusals(look_alikes, threshold),
            "false_refusals_ordinary": false_refusals(ordinary, threshold),
        },
        "intercept": round(float(model.intercept_[0]), 6),
        "coef": [round(float(c), 6) for c in model.coef_[0]],
    }


def calibration_rows() -> np.ndarray:
    """Which of ``training_rows`` a calibration reads: all but those the reader's prompt shows."""
    shown = {text for text, _ in READER_EXAMPLES}
    return np.array([text not in shown for text in training_rows()[0]])


def calibrate(reader: HarmReader, advance: Callable[[int], None] = lambda n: None) -> dict[str, object]:
    """The classifier refitted with ``reader``'s margins as its last feature, for ``rag.harm_reader``.

    The rows the reader's prompt shows as examples are left out. Both fits use the same rows and folds,
    so ``without_reader`` is the figure the reading has to beat, at the same false-refusal limits.
    ``advance`` is told of each batch of rows read. ``LLMServerError`` when the server fails."""
    every, rows = training_rows()[0], calibration_rows()
    texts = [text for text, keep in zip(every, rows, strict=True) if keep]
    reading = np.zeros((len(every), 1), dtype=np.float32)  # the shown rows' zeros are left out with them
    margins = []  # read first: a server that can't be read fails before the minute of encoding
    for start in range(0, len(texts), READ_BATCH):
        batch = texts[start : start + READ_BATCH]
        margins.append(reader.scores(batch))
        advance(len(batch))
    reading[rows] = np.vstack(margins)
    base = training_features(every)
    fitted = fit(np.hstack([base, reading]), rows)
    return {
        **fitted,
        "about": "rag.harm_reader calibration; fitted by `supportloop harm calibrate`",
        "model": reader.model,
        "prompt": prompt_fingerprint(),
        "without_reader": fit(base, rows)["cross_validated"],
    }


def main_check() -> int:
    """0 when a refit reproduces the stored model, else 1: the same threshold, and on every training
    row the same decision at a probability within ``CHECK_TOLERANCE``.

    Weights are not compared one by one: sentence vectors differ in their last bits between CPUs
    (AVX2 and AVX-512 kernels), and at C = 10 that moves single weights by up to 0.06 while the
    probabilities move by less than 0.006 and no decision moves (a refit on an AVX2 machine of weights
    fitted on an AVX-512 one)."""
    texts, _, _ = training_rows()
    x = training_features(texts)
    fitted = fit(x)
    stored = json.loads(WEIGHTS.read_text(encoding="utf-8"))

    def chances(model: dict) -> np.ndarray:
        return probabilities(x.astype(np.float64), np.asarray(model["coef"]), float(model["intercept"]))

    was, now = chances(stored), chances(fitted)
    same = (
        stored["threshold"] == fitted["threshold"]
        and bool(np.all((was >= stored["threshold"]) == (now >= fitted["threshold"])))
        and float(np.abs(was - now).max()) <= CHECK_TOLERANCE
    )
    print("stored weights match their data" if same else "stored weights differ from a refit")
    return 0 if same else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="refit and compare with the stored weights")
    args = parser.parse_args()
    if args.check:
        return main_check()
    fitted = fit()
    WEIGHTS.write_text(json.dumps(fitted, indent=1) + "\n", encoding="utf-8")
    print(f"threshold {fitted['threshold']}, cross-validated on dev: {fitted['cross_validated']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
