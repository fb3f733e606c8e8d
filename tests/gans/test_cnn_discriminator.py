"""The GANs' CNN discriminator: it learns, its loss adds L2 on the output layer, its features."""

import torch

from sparring.gans.engine import adam, discriminator_accuracy, discriminator_round
from sparring.gans.losses import discriminator_loss
from sparring.gans.models.cnn_discriminator import CNNDiscriminator


def test_discriminator_separates_two_trivially_different_sets():
    torch.manual_seed(0)
    real = torch.randint(0, 10, (400, 8))  # words 0-9
    fake = torch.randint(10, 20, (400, 8))  # words 10-19
    disc = CNNDiscriminator(vocab_size=20, emb_dim=16, filter_sizes=(1, 2, 3), num_filters=(8, 8, 8), dropout=0.25)
    opt = adam(disc.parameters(), 1e-3)
    assert discriminator_accuracy(disc, real[:100], fake[:100]) < 0.9  # not separated before training
    discriminator_round(disc, opt, real[100:], fake[100:], epochs=3, batch_size=32, l2_reg=0.2)
    assert discriminator_accuracy(disc, real[:100], fake[:100]) > 0.98


def test_discriminator_shapes_and_features():
    disc = CNNDiscriminator(vocab_size=30, emb_dim=8, filter_sizes=(1, 5), num_filters=(3, 4), dropout=0.0)
    tokens = torch.randint(0, 30, (6, 5))
    assert disc(tokens).shape == (6, 2)
    assert disc.features(tokens).shape == (6, 7)
    p = disc.prob_real(tokens)
    assert p.shape == (6,) and bool(((p > 0) & (p < 1)).all())


def test_unfolded_convolution_equals_conv1d():
    torch.manual_seed(0)
    disc = CNNDiscriminator(vocab_size=30, emb_dim=8, filter_sizes=(2, 3), num_filters=(3, 4), dropout=0.0)
    tokens = torch.randint(0, 30, (5, 7))
    emb = disc.embedding(tokens).transpose(1, 2)
    pooled = []
    for width, weight, bias in zip(disc.filter_sizes, disc.conv_weights, disc.conv_biases, strict=True):
        kernel = weight.view(weight.shape[0], width, 8).transpose(1, 2)  # (n, E, w)
        pooled.append(torch.relu(torch.nn.functional.conv1d(emb, kernel, bias)).amax(-1))
    flat = torch.cat(pooled, 1)
    gate, cand = disc.highway(flat).chunk(2, 1)
    gate = torch.sigmoid(gate)
    expected = gate * torch.relu(cand) + (1 - gate) * flat
    assert torch.allclose(disc.features(tokens), expected, atol=1e-5)


def test_discriminator_loss_adds_l2_on_the_output_layer():
    logits = torch.tensor([[0.0, 0.0]])
    labels = torch.tensor([1])
    import math

    assert abs(discriminator_loss(logits, labels, torch.tensor(3.0), 0.2).item() - (math.log(2) + 0.6)) < 1e-6


def test_prob_real_of_completions_reuses_prefix_windows_without_changing_scores():
    """Scoring Monte Carlo completions from their shared prefixes gives D(Y) of each completion."""
    torch.manual_seed(0)
    disc = CNNDiscriminator(vocab_size=30, emb_dim=8, filter_sizes=(1, 3, 7), num_filters=(3, 4, 5), dropout=0.5)
    disc.train()  # the reuse path must score in eval mode, like prob_real
    seqs = torch.randint(0, 30, (4, 7))
    prefix_lens = [1, 3, 6]
    completions = torch.randint(0, 30, (len(prefix_lens), 2, 4, 7))
    for g, t in enumerate(prefix_lens):
        completions[g, :, :, :t] = seqs[:, :t]
    fast = disc.prob_real_completions(seqs, completions, prefix_lens)
    plain = disc.prob_real(completions.reshape(-1, 7)).view(len(prefix_lens), 2, 4)
    assert fast.shape == (3, 2, 4)
    assert torch.allclose(fast, plain, atol=1e-6)
    assert disc.training
