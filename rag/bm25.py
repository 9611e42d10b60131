"""Okapi BM25 over the index's chunks, as one sparse matrix so a query costs a column slice and a sum.

Dense MiniLM vectors find paraphrases; BM25 finds the exact words support questions hinge on (a
command, a setting, an error message). Words are matched on their Snowball stems (``rag.text.terms``),
so a question about "uploading" finds the page that says "uploads". ``rag.index`` fuses the two
rankings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy import sparse

from rag.text import terms


class BM25:
    """BM25 scores of every document for a query; documents are fixed at construction."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.ids = list(ids)
        vocabulary: dict[str, int] = {}
        rows, cols, counts = [], [], []
        lengths = np.zeros(len(texts), dtype=np.float32)
        for row, text in enumerate(texts):
            words = terms(text)
            lengths[row] = len(words)
            for word, count in Counter(words).items():
                rows.append(row)
                cols.append(vocabulary.setdefault(word, len(vocabulary)))
                counts.append(count)
        self.vocabulary = vocabulary
        shape = (len(texts), len(vocabulary))
        tf = sparse.csr_matrix((np.asarray(counts, dtype=np.float32), (rows, cols)), shape=shape)
        n_docs = max(len(texts), 1)
        df = np.bincount(np.asarray(cols, dtype=np.int64), minlength=len(vocabulary))
        idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        self.idf = idf
        self.rarest = float(np.log(1.0 + (n_docs + 0.5) / 0.5))  # the idf a word the index lacks would have
        average = max(float(lengths.mean()), 1.0) if len(texts) else 1.0
        norm = k1 * (1 - b + b * lengths / average)
        tf = tf.tocoo()
        weights = idf[tf.col] * tf.data * (k1 + 1) / (tf.data + norm[tf.row])
        self.weights = sparse.csc_matrix((weights, (tf.row, tf.col)), shape=shape)

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """The ``k`` best-scoring document ids with their scores; documents sharing no word are left out."""
        columns = sorted({self.vocabulary[w] for w in terms(query) if w in self.vocabulary})
        if not columns or not self.ids:
            return []
        scores = np.asarray(self.weights[:, columns].sum(axis=1)).ravel()
        k = min(k, int(np.count_nonzero(scores)))
        if k == 0:
            return []
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best])]
        return [(self.ids[i], float(scores[i])) for i in best]

    def word_idf(self, word: str) -> float:
        """How rare a (stemmed) word is in the index; a word it has never seen is rarest of all."""
        column = self.vocabulary.get(word)
        return self.rarest if column is None else float(self.idf[column])
