"""The newer family's losses, rewards and estimators against hand-computed values (TextGAN, GSGAN,
CoT, DPGAN, JSDGAN, DGSAN), and the relaxed generation they differentiate through."""

import math

import pytest
import torch

from sparring.gans.jsdgan import batch_jsd
from sparring.gans.losses import (
    cot_generator_loss,
    dgsan_loss,
    dpgan_discriminator_loss,
    gan_losses,
    gaussian_mmd2,
    jsd_weights,
    novelty_returns,
)
from sparring.gans.models.lstm import LSTMLanguageModel


def test_mmd_with_a_known_kernel():
    x, y = torch.tensor([[0.0]]), torch.tensor([[1.0]])
    # one Gaussian kernel of bandwidth 1: k(x,x) = k(y,y) = 1, k(x,y) = exp(-1/2)
    assert gaussian_mmd2(x, y, (1.0,)).item() == pytest.approx(2 - 2 * math.exp(-0.5))
    # two kernels add: bandwidths 1 and 2 -> k(x,y) = exp(-1/2) + exp(-1/8), k(x,x) = 2
    assert gaussian_mmd2(x, y, (1.0, 2.0)).item() == pytest.approx(4 - 2 * (math.exp(-0.5) + math.exp(-0.125)))
    same = torch.randn(5, 3)
    assert gaussian_mmd2(same, same.clone(), (1.0, 4.0)).item() == pytest.approx(0.0, abs=1e-6)


def test_the_standard_gan_losses_at_even_odds():
    d_loss, g_loss = gan_losses(torch.zeros(3), torch.zeros(3))
    assert d_loss.item() == pytest.approx(2 * math.log(2)) and g_loss.item() == pytest.approx(math.log(2))
    d_loss, g_loss = gan_losses(torch.tensor([math.log(3)]), torch.tensor([0.0]))  # D(real) = 3/4
    assert d_loss.item() == pytest.approx(-math.log(0.75) + math.log(2)) and g_loss.item() == pytest.approx(math.log(2))


def test_cot_objective_on_a_two_token_toy():
    """One position, two tokens: G = (3/4, 1/4), M = (1/2, 1/2): KL(G || M) = 3/4 ln 3/2 + 1/4 ln 1/2."""
    gen = torch.log(torch.tensor([[[0.75, 0.25]]])).requires_grad_()
    med = torch.log(torch.tensor([[[0.5, 0.5]]]))
    loss = cot_generator_loss(gen, med)
    assert loss.item() == pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5))
    loss.backward()
    # d KL / d logit_0 = p0 p1 (log(p0/m0) - log(p1/m1)) = 3/16 * ln 3
    assert gen.grad[0, 0, 0].item() == pytest.approx(3 / 16 * math.log(3)) and gen.grad[0, 0].sum().item() == pytest.approx(0, abs=1e-7)
    assert cot_generator_loss(med.clone(), med).item() == pytest.approx(0.0, abs=1e-7)
    # a mask drops positions: the second position (KL 0) counted or not changes the mean
    two = torch.cat([gen.detach(), med], dim=1)
    both = torch.cat([med, med], dim=1)
    assert cot_generator_loss(two, both, torch.tensor([[1.0, 0.0]])).item() == pytest.approx(loss.item())
    assert cot_generator_loss(two, both).item() == pytest.approx(loss.item() / 2)


def test_dpgan_novelty_returns_by_hand():
    rewards = torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    # discount 0.5: Q row 0 = (1 + 0.5 * 3.5, 2 + 0.5 * 3, 3) = (2.75, 3.5, 3); row 1 = (4.25, 2.5, 1); minus the column means
    q = novelty_returns(rewards, None, 0.5)
    assert torch.allclose(q, torch.tensor([[-0.75, 0.5, 1.0], [0.75, -0.5, -1.0]]))
    # a mask ends a sequence: nothing after it is rewarded or returned
    q = novelty_returns(rewards, torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]), 1.0)
    assert torch.allclose(q, torch.tensor([[3.0, 2.0, 0.0], [6.0, 3.0, 1.0]]) - torch.tensor([[4.5, 2.5, 0.5]]))


def test_dpgan_discriminator_loss_caps_the_real_term():
    loss = dpgan_discriminator_loss(torch.tensor([1.0, 10.0]), torch.tensor([0.5, 1.5]), real_cap=5.0)
    assert loss.item() == pytest.approx(1.0 - (1.0 + 5.0) / 2)


def test_jsdgan_weights_by_hand():
    # equal likelihoods: q = p = 1/2, w = 1/2 ln(1/2 / 1) each; the JSD is 0
    w = jsd_weights(torch.tensor([-7.0, -7.0]))
    assert torch.allclose(w, torch.full((2,), 0.5 * math.log(0.5)))
    assert batch_jsd(torch.tensor([-7.0, -7.0])) == pytest.approx(0.0, abs=1e-12)
    # G(x1) = 3 G(x2): q = (3/4, 1/4) -> w = (3/4 ln(3/4 / 5/4), 1/4 ln(1/4 / 3/4))
    w = jsd_weights(torch.tensor([math.log(3.0), 0.0]))
    assert torch.allclose(w, torch.tensor([0.75 * math.log(0.6), 0.25 * math.log(1 / 3)]))
    m = (0.625, 0.375)
    kl_p = 0.5 * math.log(0.5 / m[0]) + 0.5 * math.log(0.5 / m[1])
    kl_q = 0.75 * math.log(0.75 / m[0]) + 0.25 * math.log(0.25 / m[1])
    expected = 0.5 * kl_p + 0.5 * kl_q
    assert batch_jsd(torch.tensor([math.log(3.0), 0.0])) == pytest.approx(expected)


def test_dgsan_loss_by_hand():
    zero = torch.zeros(2)
    assert dgsan_loss(zero, zero, zero, zero).item() == pytest.approx(2 * math.log(2))  # D = 1/2 everywhere
    # real: log G - log G_old = ln 3 -> D = 3/4; fake unchanged -> D = 1/2
    loss = dgsan_loss(torch.full((2,), math.log(3.0)), zero, zero, zero)
    assert loss.item() == pytest.approx(-(math.log(0.75) + math.log(0.5)))


def test_relaxed_generation_is_a_sample_and_differentiable():
    torch.manual_seed(0)
    gen = LSTMLanguageModel(6, 4, 5).init_normal_(0.5)
    tokens, soft = gen.relaxed_generate(3, 4, inverse_temperature=1000.0)
    assert tokens.shape == (3, 4) and soft.shape == (3, 4, 6)
    assert torch.equal(soft.argmax(-1), tokens)  # beta large: the relaxation is (almost) the one-hot of the token
    assert torch.allclose(soft.sum(-1), torch.ones(3, 4))
    _, soft = gen.relaxed_generate(3, 4, inverse_temperature=1.0)  # a soft relaxation: gradients are not saturated
    (soft[:, -1, 0]).sum().backward()  # the last step's output depends on the word embeddings through the fed-back mixture
    assert gen.embedding.weight.grad is not None and gen.embedding.weight.grad[:6].abs().sum() > 0


def test_maskgan_advantage_is_the_discounted_log_d_return_minus_the_critic():
    from sparring.gans.losses import maskgan_actor_critic

    # two filled positions out of three; D(real) = 1/2 and 1/4 there: rewards ln 1/2, ln 1/4
    logits = torch.tensor([[0.0, math.log(1 / 3), 5.0]])
    mask = torch.tensor([[True, True, False]])
    values = torch.tensor([[-1.0, -0.5, 7.0]], requires_grad=True)
    advantages, returns, critic_loss = maskgan_actor_critic(logits, values, mask, discount=0.5)
    r0, r1 = math.log(0.5), math.log(0.25)
    assert torch.allclose(returns, torch.tensor([[r0 + 0.5 * r1, r1, 0.0]]))
    assert torch.allclose(advantages, torch.tensor([[r0 + 0.5 * r1 + 1.0, r1 + 0.5, 0.0]]))
    assert critic_loss.item() == pytest.approx(((r0 + 0.5 * r1 + 1.0) ** 2 + (r1 + 0.5) ** 2) / 2)
    critic_loss.backward()
    assert values.grad[0, 2].item() == 0.0  # the unmasked position teaches the critic nothing


def test_contiguous_masks_are_one_span_inside_the_sentence():
    from sparring.gans.models.maskgan import contiguous_mask

    torch.manual_seed(0)
    tokens = torch.tensor([[5, 6, 7, 8, 0, 0, 0, 0]] * 50)  # 4 words and <eos> (id 0), then padding
    mask = contiguous_mask(tokens, 0.5, eos=0)
    assert (mask.sum(dim=1) == 3).all()  # ceil(0.5 * 5)
    assert not mask[:, 5:].any()  # never the padding
    starts = mask.float().argmax(dim=1)
    for row, start in zip(mask, starts.tolist(), strict=True):
        assert row[start : start + 3].all()  # one contiguous span
    assert set(starts.tolist()) == {0, 1, 2}  # every start that fits
    assert contiguous_mask(tokens, 1.0, eos=0).all()


def test_maskgan_never_changes_an_unmasked_token():
    from sparring.gans.models.maskgan import InfillingGenerator, contiguous_mask

    torch.manual_seed(1)
    gen = InfillingGenerator(9, 4, 6, mask_rate=0.4, eos=None)
    real = torch.randint(9, (20, 10))
    mask = contiguous_mask(real, 0.4, None)
    filled = gen.fill(real, mask)
    assert torch.equal(filled[~mask], real[~mask])
    assert (filled[mask] != real[mask]).any()  # the masked ones are drawn, not copied
    whole = gen.generate(5, 10)
    assert whole.shape == (5, 10) and whole.max() < 9
