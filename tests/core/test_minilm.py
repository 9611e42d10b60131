"""The embedder computes what sentence-transformers computes for the same model, so an index built by
either serves with the other; and it does so without importing torch or sentence-transformers."""

import subprocess
import sys

import numpy as np
from sentence_transformers import SentenceTransformer

from core.embedder import embedding_model_path

TEXTS = [
    "How do I change my display name?",
    "ok",
    "Videos up to 99 MB can be attached to a post. " * 6,
    "Steps:\n1. Open Settings\n2. Choose Security",  # newlines are whitespace to the tokenizer
    "A page far longer than the model reads: " + "every word counts until the cut. " * 120,  # truncated
    "Zwei-Faktor-Authentifizierung für das Konto einrichten",
]


def test_the_embedder_gives_sentence_transformers_vectors_in_any_batch(embeddings):
    plain = SentenceTransformer(str(embedding_model_path()), device="cpu")
    expected = plain.encode(TEXTS, normalize_embeddings=True)
    queries = np.array([embeddings.embed_query(text) for text in TEXTS])
    np.testing.assert_allclose(queries, expected, atol=1e-5)
    in_batches = embeddings.model.encode(TEXTS, batch_size=4)  # padded to the longest text of each batch
    assert in_batches.dtype == np.float32
    np.testing.assert_allclose(in_batches, expected, atol=1e-5)
    np.testing.assert_allclose(np.array(embeddings.embed_documents(TEXTS)), expected, atol=1e-5)
    assert embeddings.embed_documents([]) == []


def test_loading_the_embedder_imports_neither_torch_nor_transformers():
    code = (
        "import sys; from core.embedder import load_embeddings; load_embeddings().embed_query('hi'); "
        "heavy = ('sentence_transformers', 'transformers', 'sklearn', 'torch'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]", found.stderr
