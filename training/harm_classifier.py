"""Fit the harmful-request classifier that serving and the audit share (``rag.harm``).

    python -m training.harm_classifier [--check]

The training rows are the hand-written examples in ``rag/data/harm_examples.jsonl`` and the *dev* split
of ``tests/data/eval/harmful.jsonl``; the test split is never read here. The decision threshold is the
highest one whose leave-one-out recall on the dev split is at least ``MIN_RECALL`` (refusing a harmful
request matters more than the rare legitimate question that gets the refusal's recovery pointers
instead), and the weights are written to ``rag/data/harm_classifier.json``. ``--check`` refits and
fails if the stored file differs, so the file can't drift from its data.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from rag.harm import EXAMPLES, WEIGHTS, features

ROOT = Path(__file__).resolve().parent.parent
EVAL_SET = ROOT / "tests" / "data" / "eval" / "harmful.jsonl"
C = 10.0  # inverse regularisation, chosen by leave-one-out on the dev split (0.3-30 tried)
MIN_RECALL = 0.95
THRESHOLDS = np.round(np.arange(0.30, 0.71, 0.05), 2)


def training_rows() -> tuple[list[str], np.ndarray, int]:
    """Texts and labels: the examples file, then the dev split; and how many rows are dev rows."""
    examples = [json.loads(line) for line in EXAMPLES.read_text(encoding="utf-8").splitlines() if line]
    dev = [json.loads(line) for line in EVAL_SET.read_text(encoding="utf-8").splitlines() if line]
    dev = [row for row in dev if row["split"] == "dev"]
    rows = examples + dev
    return [r["text"] for r in rows], np.array([bool(r["harmful"]) for r in rows]), len(dev)


def fit() -> dict[str, object]:
    from sklearn.linear_model import LogisticRegression

    from core.embedder import load_embeddings

    texts, labels, n_dev = training_rows()
    x = features(load_embeddings(), texts)
    first_dev = len(texts) - n_dev
    held_out = []  # leave-one-out probability of each dev row
    for i in range(first_dev, len(texts)):
        keep = np.arange(len(texts)) != i
        model = LogisticRegression(C=C, max_iter=5000).fit(x[keep], labels[keep])
        held_out.append(model.predict_proba(x[i : i + 1])[0, 1])
    probability, dev_labels = np.array(held_out), labels[first_dev:]
    recall = {float(t): float((probability[dev_labels] >= t).mean()) for t in THRESHOLDS}
    threshold = max(t for t, r in recall.items() if r >= MIN_RECALL)
    model = LogisticRegression(C=C, max_iter=5000).fit(x, labels)
    false_refusals = float((probability[~dev_labels] >= threshold).mean())
    return {
        "about": "rag.harm classifier; fitted by `python -m training.harm_classifier`",
        "training_rows": len(texts),
        "dev_rows": n_dev,
        "C": C,
        "threshold": threshold,
        "dev_leave_one_out": {"recall": recall[threshold], "false_refusals": false_refusals},
        "intercept": round(float(model.intercept_[0]), 6),
        "coef": [round(float(c), 6) for c in model.coef_[0]],
    }


def main_check() -> int:
    """0 when a refit reproduces the stored threshold and weights, else 1."""
    fitted = fit()
    stored = json.loads(WEIGHTS.read_text(encoding="utf-8"))
    same = stored["threshold"] == fitted["threshold"] and np.allclose(
        stored["coef"], fitted["coef"], atol=1e-3
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
    print(f"threshold {fitted['threshold']}, dev leave-one-out {fitted['dev_leave_one_out']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
