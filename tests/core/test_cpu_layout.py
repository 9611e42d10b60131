"""Column-major weights change how fast a product runs, never what it computes."""

import torch
from sentence_transformers import SentenceTransformer

from core.cpu_layout import store_linear_weights_column_major
from core.embedder import embedding_model_path


def test_linear_layers_compute_the_same_with_column_major_weights():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(576, 1536), torch.nn.SiLU(), torch.nn.Linear(1536, 576))
    tied = model[2]
    inputs = [torch.randn(rows, 576) for rows in (1, 8, 300)]
    before = [model(x) for x in inputs]
    store_linear_weights_column_major(model, keep=tied)
    assert model[0].weight.stride() == (1, 1536)  # transposed in memory, same shape
    assert model[0].weight.shape == (1536, 576)
    assert tied.weight.is_contiguous()
    for x, expected in zip(inputs, before, strict=True):
        assert torch.allclose(model(x), expected, atol=1e-5)


def test_the_embedder_gives_the_vectors_of_the_plain_model(embeddings):
    plain = SentenceTransformer(str(embedding_model_path()), device="cpu")
    texts = ["How do I change my display name?", "Videos up to 99 MB can be attached to a post. " * 6]
    expected = plain.encode(texts, normalize_embeddings=True)
    assert any(
        not m.weight.is_contiguous() for m in embeddings._client.modules() if isinstance(m, torch.nn.Linear)
    )
    got = [embeddings.embed_query(texts[0]), *embeddings.embed_documents(texts[1:])]
    assert torch.allclose(torch.tensor(got), torch.tensor(expected), atol=1e-5)
