"""LeakGAN's pieces: leaked features, goals, rewards, and the incremental feature extractor."""

import math

import pytest
import torch

from sparring.gans.models.cnn_discriminator import CNNDiscriminator
from sparring.gans.models.leakgan import (
    LeakGANGenerator,
    feature_deltas,
    intrinsic_rewards,
    manager_loss,
    per_step_rewards,
    rank_rescale,
    segment_ends,
)


@pytest.fixture
def pair():
    torch.manual_seed(0)
    disc = CNNDiscriminator(30, 8, (1, 2, 3), (4, 5, 6), 0.0).eval()
    gen = LeakGANGenerator(30, 8, 12, disc.feature_dim, goal_size=4, step_size=2).attach(disc)
    return gen, disc


def test_prefix_features_equal_full_passes_over_padded_prefixes(pair):
    _, disc = pair
    tokens = torch.randint(0, 30, (5, 7))
    fast = disc.prefix_features(tokens, pad=0)
    with torch.no_grad():
        for t in range(8):
            padded = torch.zeros_like(tokens)
            padded[:, :t] = tokens[:, :t]
            assert torch.allclose(fast[:, t], disc.features(padded), atol=1e-5), t


def test_leaked_features_have_the_shapes_the_manager_expects(pair):
    gen, disc = pair
    tokens = torch.randint(0, 30, (3, 6))
    parts = gen.teacher_forced(tokens)
    assert parts["features"].shape == (3, 7, disc.feature_dim)  # f_0 .. f_T
    assert parts["goals"].shape == (3, 6, disc.feature_dim)  # g_t lives in D's feature space
    assert torch.allclose(parts["goals"].norm(dim=-1), torch.ones(3, 6), atol=1e-5)
    assert gen.goal_embeddings(parts["goals"]).shape == (3, 6, 4)
    assert parts["inputs"].shape == (3, 6, 4 * 12 + 4)


def test_fused_worker_output_equals_the_explicit_matrix_product(pair):
    gen, _ = pair
    h, w = torch.randn(2, 12), torch.nn.functional.normalize(torch.randn(2, 4), dim=-1)
    o = (gen.worker_out(h)).view(2, 30, 4)  # O_t: (V x k) per row
    explicit = torch.einsum("bvk,bk->bv", o, w)
    fused = gen.output_inputs(h, w) @ gen.output_weight().t()
    assert torch.allclose(explicit, fused, atol=1e-5)


def test_nll_matches_generated_distribution_and_prefixes_are_kept(pair):
    gen, _ = pair
    torch.manual_seed(1)
    seqs = gen.generate(4, 6)
    assert seqs.shape == (4, 6) and int(seqs.max()) < 30
    prefix_len = torch.tensor([0, 2, 4, 6])
    completed = gen.generate(4, 6, prefix=seqs, prefix_len=prefix_len)
    for i, n in enumerate(prefix_len.tolist()):
        assert torch.equal(completed[i, :n], seqs[i, :n])
    loss = gen.weighted_nll(seqs)
    assert torch.isfinite(loss) and loss > 0


def test_rank_rescale_by_hand():
    # B = 4, delta = 16: rank 1..4 -> sigmoid(16 * (0.5 - r/4)) = sigmoid(4), sigmoid(0), sigmoid(-4), sigmoid(-8)
    scores = torch.tensor([[0.1, 0.9, 0.5, 0.3]])
    expected = [1 / (1 + math.exp(8)), 1 / (1 + math.exp(-4)), 0.5, 1 / (1 + math.exp(4))]
    assert torch.allclose(rank_rescale(scores, 16.0), torch.tensor([expected]), atol=1e-6)
    # ties keep batch order (stable): the first of two equal scores gets the better rank
    tied = rank_rescale(torch.tensor([[0.5, 0.5]]), 16.0)
    assert tied[0, 0] > tied[0, 1]


def test_segments_and_per_step_rewards():
    assert segment_ends(10, 4) == [4, 8, 10]
    assert segment_ends(8, 4) == [4, 8]
    seg = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])  # (S=3, B=2)
    assert per_step_rewards(seg, 10, 4).tolist() == [[1, 1, 1, 1, 3, 3, 3, 3, 5, 5], [2, 2, 2, 2, 4, 4, 4, 4, 6, 6]]


def test_feature_deltas_and_manager_loss_by_hand():
    # features f_0..f_3 along one axis; horizon 2: deltas f2-f0, f3-f1, f3-f2
    f = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [2.0, 1.0]]])
    assert feature_deltas(f, 2).tolist() == [[[2.0, 0.0], [1.0, 1.0], [0.0, 1.0]]]
    goals = torch.tensor([[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])  # cosines 1, 1/sqrt2, 1
    cos = torch.tensor([1.0, 1 / math.sqrt(2), 1.0])
    assert manager_loss(goals, f, 2).item() == pytest.approx(-cos.mean().item(), abs=1e-6)
    rewards = torch.tensor([[0.5, 1.0, 2.0]])
    assert manager_loss(goals, f, 2, rewards).item() == pytest.approx(-(rewards[0] * cos).sum().item(), abs=1e-6)


def test_intrinsic_reward_by_hand():
    # c = 2, T = 2: r_0 = (cos(f1 - f0, g0) + 0) / 2; r_1 = (cos(f2 - f1, g1) + cos(f2 - f0, g0)) / 2
    f = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]])
    g = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    r = intrinsic_rewards(g, f, 2)
    assert r[0, 0].item() == pytest.approx(0.5)
    assert r[0, 1].item() == pytest.approx((1.0 + 1 / math.sqrt(2)) / 2)
