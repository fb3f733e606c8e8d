"""MaliGAN, RankGAN and RelGAN losses against hand-computed values."""

import math

import pytest
import torch

from sparring.critics.losses import bradley_terry_loss
from sparring.gans.losses import maligan_weights, rank_scores, ranker_loss
from sparring.gans.models.relgan import inverse_temperature


def test_maligan_weights_by_hand():
    # D = 0.5, 0.8 -> ratios 1, 4 -> normalised 0.2, 0.8 -> minus mean 0.5
    w = maligan_weights(torch.tensor([0.5, 0.8]))
    assert torch.allclose(w, torch.tensor([-0.3, 0.3]), atol=1e-6)
    assert abs(float(maligan_weights(torch.rand(7)).sum())) < 1e-6


def test_rank_scores_by_hand():
    # one reference u = e1, gamma = 1; candidate = e1 (cos 1), comparison set {e2} (cos 0):
    # R = e^1 / (e^1 + e^0)
    e1, e2 = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    assert rank_scores(e1, e1, e2, 1.0).item() == pytest.approx(math.e / (math.e + 1))
    # a candidate equal to the comparison element scores 1/2
    assert rank_scores(e2, e1, e2, 3.0).item() == pytest.approx(0.5)
    assert ranker_loss(torch.tensor([0.5]), torch.tensor([0.5])).item() == pytest.approx(2 * math.log(2))


def test_relativistic_losses_are_bradley_terry_by_hand():
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 0.0])
    d_loss, g_loss = bradley_terry_loss(real, fake), bradley_terry_loss(fake, real)
    assert d_loss.item() == pytest.approx((math.log1p(math.exp(-2)) + math.log(2)) / 2)
    assert g_loss.item() == pytest.approx((math.log1p(math.exp(2)) + math.log(2)) / 2)


def test_gumbel_inverse_temperature_anneals_exponentially():
    assert inverse_temperature(0, 100, 1000.0) == 1.0
    assert inverse_temperature(50, 100, 1000.0) == pytest.approx(1000 ** 0.5)
    assert inverse_temperature(100, 100, 1000.0) == pytest.approx(1000.0)
