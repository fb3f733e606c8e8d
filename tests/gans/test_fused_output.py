"""The fused output layer: loss and gradients equal linear + cross-entropy."""

import pytest
import torch
import torch.nn.functional as F

from sparring.gans.models.fused_output import linear_cross_entropy


@pytest.mark.parametrize("scale", [0.1, 10.0])  # small logits take the no-shift path, large ones the max-shift path
def test_fused_loss_and_gradients_match_linear_plus_cross_entropy(scale):
    torch.manual_seed(0)
    hidden = torch.randn(300, 8, requires_grad=True)
    weight = (torch.randn(50, 8) * scale).requires_grad_()
    bias = torch.randn(50, requires_grad=True)
    targets = torch.randint(0, 50, (300,))
    token_weights = torch.rand(300)

    expected = (F.cross_entropy(F.linear(hidden, weight, bias), targets, reduction="none") * token_weights).sum()
    expected_grads = torch.autograd.grad(expected * 3.0, (hidden, weight, bias))
    got = linear_cross_entropy(hidden, weight, bias, targets, token_weights, chunk=64)
    got_grads = torch.autograd.grad(got * 3.0, (hidden, weight, bias))
    assert torch.allclose(got, expected, rtol=1e-5)
    for g, e in zip(got_grads, expected_grads, strict=True):
        assert torch.allclose(g, e, atol=1e-5, rtol=1e-4)


def test_default_weights_give_the_mean_nll_and_no_grad_mode_skips_gradients():
    torch.manual_seed(1)
    hidden, weight, bias = torch.randn(10, 4), torch.randn(7, 4, requires_grad=True), torch.zeros(7)
    targets = torch.randint(0, 7, (10,))
    with torch.no_grad():
        value = linear_cross_entropy(hidden, weight, bias, targets)
    assert not value.requires_grad
    assert torch.allclose(value, F.cross_entropy(F.linear(hidden, weight, bias), targets))


def test_large_vocabulary_with_large_logits_does_not_overflow():
    """20,000 logits of 79 sum past float32's maximum unless they are shifted first."""
    hidden = torch.ones(2, 1)
    weight = torch.full((20_000, 1), 79.0)
    bias = torch.zeros(20_000)
    value = linear_cross_entropy(hidden, weight, bias, torch.tensor([0, 1]))
    assert torch.isfinite(value) and abs(value.item() - torch.log(torch.tensor(20_000.0)).item()) < 1e-3
