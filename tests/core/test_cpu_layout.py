"""Column-major weights change how fast a product runs, never what it computes."""

import torch

from core.cpu_layout import store_linear_weights_column_major


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
