"""Fit the answerability model (``rag.answerability``) on the dev questions of both help centers.

    python -m training.answerability --site mastodon=DATA_DIR --site demo=DATA_DIR

Each ``DATA_DIR`` holds that help center indexed by ``supportloop index`` (``bench/answer_quality.py``
serves both). Every dev question that is in scope or out of scope is ranked exactly as serving ranks it
(``rag.ranking``), and the ranking's ``features`` are the model's inputs: label 1 where the pages
answer it. The model is a standardised logistic regression. Its threshold comes from 5-fold
cross-validated probabilities, so it is not chosen on the very rows it was fitted on: the highest
threshold whose cross-validated false-decline rate on in-scope questions stays at or under
``MAX_FALSE_DECLINES``. The test splits are never read here.

The last feature, ``question_kind``, comes from a model fitted first, and on other rows: the
hand-written questions of ``rag/data/question_kinds.jsonl``, asked of made-up products (a notes app, an
invoicing tool, a parcel service…), never of the two help centers. Its ``kind`` field says what each
was written as: how-to, trouble, limits, billing and account questions a help center answers, and the
kinds it doesn't (company facts, roadmap, other services' own support, legal, tax or money advice,
usage statistics, a person to call, opinions and small talk). It was written after reading which dev
questions the ranking features alone let through, and without reading the test splits. Fitted on
questions of no site we serve, it learns kinds of question, not one site's topics. Fitted on the dev
questions instead, nested cross-validation said +24 points, but fitted on one site's dev questions and
judged on the other's it gave nothing at 0.04 false declines. It had learnt which topics each of the
two sites covers, and a new customer's help center has no dev questions.

Measured on the dev questions with one site held out, the other's fitting the model (the case of a new
help center), out-of-scope declines at ≤ 0.04 false declines rose from 0.43 to 0.61 (≤ 0.05: 0.48 →
0.67). ``QUESTION_C`` was chosen the same way (0.1 to 100: 0.56–0.61).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from rag.answerability import FEATURES, WEIGHTS, QuestionKinds, features
from rag.evaluation import EvalQuestion, load_eval_questions

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
DEV_SETS = {
    "mastodon": [DATA / "mastodon_questions.jsonl", DATA / "eval" / "mastodon_dev_extra.jsonl"],
    "demo": [ROOT / "supportloop" / "demo_site" / "questions.jsonl", DATA / "eval" / "demo_dev_extra.jsonl"],
}
MAX_FALSE_DECLINES = 0.04  # on dev; the target on test is 0.05, and a dev-chosen threshold drifts
C = 1.0
QUESTION_C = 10.0
QUESTION_KINDS = ROOT / "rag" / "data" / "question_kinds.jsonl"
THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.01), 2)


def dev_questions(site: str) -> list[EvalQuestion]:
    """The site's dev questions that are in scope or out of scope (the two the model tells apart)."""
    rows = [q for path in DEV_SETS[site] for q in load_eval_questions(path)]
    return [q for q in rows if q.kind in ("in_scope", "out_of_scope")]


def fit_question_kinds(path: Path = QUESTION_KINDS) -> dict[str, Any]:
    """The stored form of the ``question_kind`` model, fitted on the bge vectors of ``path``'s
    questions (see the module doc)."""
    from sklearn.linear_model import LogisticRegression

    from core.bge import shared_bge

    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    vectors = shared_bge().encode([row["text"] for row in rows])
    model = LogisticRegression(C=QUESTION_C, max_iter=3000).fit(vectors, [row["answerable"] for row in rows])
    return {
        "encoder": "bge-small-en-v1.5 (core.bge)",
        "questions": len(rows),
        "coef": [round(float(v), 6) for v in model.coef_[0]],
        "intercept": round(float(model.intercept_[0]), 6),
    }


def fit(samples: Iterable[tuple[np.ndarray, bool]], question: dict[str, Any]) -> dict[str, object]:
    """The stored form of a model fitted on (features, answerable) samples, whose last feature came
    from the ``question`` kinds model (see the module doc)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    rows = list(samples)
    x = np.stack([f for f, _ in rows])
    y = np.array([label for _, label in rows])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / scale
    held_out = np.zeros(len(y))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(z, y):
        model = LogisticRegression(C=C, max_iter=1000).fit(z[train], y[train])
        held_out[test] = model.predict_proba(z[test])[:, 1]
    false_declines = {float(t): float((held_out[y] < t).mean()) for t in THRESHOLDS}
    threshold = max(t for t, rate in false_declines.items() if rate <= MAX_FALSE_DECLINES)
    model = LogisticRegression(C=C, max_iter=1000).fit(z, y)
    return {
        "about": "rag.answerability model; fitted by `python -m training.answerability`",
        "features": list(FEATURES),
        "questions": {"in_scope": int(y.sum()), "out_of_scope": int((~y).sum())},
        "threshold": threshold,
        "cross_validated": {
            "false_declines": false_declines[threshold],
            "out_of_scope_declines": float((held_out[~y] < threshold).mean()),
        },
        "mean": [round(float(v), 6) for v in mean],
        "scale": [round(float(v), 6) for v in scale],
        "coef": [round(float(v), 6) for v in model.coef_[0]],
        "intercept": round(float(model.intercept_[0]), 6),
        "question": question,
    }


def ranked_samples(site: str, data_dir: Path, kinds: QuestionKinds) -> list[tuple[np.ndarray, bool]]:
    """Rank the site's dev questions as serving does; their features and labels."""
    from core.cross_encoder import shared_cross_encoder
    from core.embedder import LazyEmbeddings
    from core.settings import Settings
    from rag.index import HelpIndex, chroma_client
    from rag.ranking import Ranker

    s = Settings(data_dir=data_dir)
    embeddings = LazyEmbeddings(s.embed_batch_size)
    client = chroma_client(s.chroma_dir, s.chroma_url)
    index = HelpIndex(client, s.collection_name, embeddings, s.embed_batch_size)
    ranker = Ranker(index, shared_cross_encoder(), candidates=s.rerank_candidates, retrieval=s.retrieval)
    bm25 = index.lexical().bm25
    questions = dev_questions(site)
    return [(features(ranker.rank(q.question), bm25, kinds), q.kind == "in_scope") for q in questions]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", action="append", required=True, help="NAME=DATA_DIR, NAME in mastodon|demo")
    args = parser.parse_args()
    question = fit_question_kinds()
    kinds = QuestionKinds(question)
    samples = []
    for item in args.site:
        site, _, data_dir = item.partition("=")
        samples += ranked_samples(site, Path(data_dir), kinds)
    fitted = fit(samples, question)
    WEIGHTS.write_text(json.dumps(fitted, indent=1) + "\n", encoding="utf-8")
    print(f"threshold {fitted['threshold']}, cross-validated on dev: {fitted['cross_validated']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
