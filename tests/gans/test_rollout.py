"""Monte Carlo rollouts and SeqGAN's policy-gradient loss against hand-computed values."""

import collections

import torch

from sparring.gans.losses import policy_gradient_loss
from sparring.gans.models.lstm import LSTMLanguageModel, initial_state, lstm_step, sample_sequences
from sparring.gans.models.sampling import sample_from_hidden
from sparring.gans.rollout import lagged_update, monte_carlo_q, q_values, rollout_completions


def small_lm(vocab=3, seed=0, std=1.0):
    torch.manual_seed(seed)
    return LSTMLanguageModel(vocab, 4, 5).init_normal_(std)


def test_manual_lstm_step_matches_nn_lstm():
    lm = small_lm(vocab=7)
    tokens = torch.randint(0, 7, (5, 6))
    expected = torch.log_softmax(lm(tokens), -1)
    params = lm.params()
    h, c = initial_state(params, 5)
    token = torch.full((5,), 7)
    for t in range(6):
        h, c = lstm_step(params, token, h, c)
        got = torch.log_softmax(h @ params["output.weight"].t() + params["output.bias"], -1)
        assert torch.allclose(got, expected[:, t], atol=1e-5)
        token = tokens[:, t]


def test_inverse_cdf_sampler_follows_the_softmax_and_temperature():
    weight = torch.tensor([[1.0], [0.0], [-1.0], [2.0]])
    bias = torch.zeros(4)
    h = torch.ones(40_000, 1)
    gen = torch.Generator().manual_seed(0)
    for temperature in (1.0, 0.5):
        draws = sample_from_hidden(h, weight, bias, temperature, gen, chunk=1000)
        freq = torch.bincount(draws, minlength=4).float() / len(draws)
        expected = torch.softmax(weight[:, 0] / temperature, 0)
        assert torch.allclose(freq, expected, atol=0.01), (temperature, freq, expected)


def test_rollouts_keep_the_prefix():
    lm = small_lm(vocab=5)
    seqs = torch.randint(0, 5, (3, 6))
    out = rollout_completions(lm.params(), seqs, rollouts=4)
    assert out.shape == (5, 4, 3, 6)
    for t in range(1, 6):
        assert torch.equal(out[t - 1, :, :, :t], seqs[:, :t].expand(4, 3, t))


def naive_rollouts(lm, seq, t, n):
    """The textbook loop: per rollout, re-run the prefix through nn.LSTM, then multinomial draws."""
    out = []
    for _ in range(n):
        tokens = seq[:t].tolist()
        while len(tokens) < len(seq):
            logits = lm(torch.tensor([tokens + [0]]))[0, len(tokens)]
            tokens.append(int(torch.multinomial(torch.softmax(logits, -1), 1)))
        out.append(tuple(tokens))
    return out


def test_vectorized_rollouts_agree_in_distribution_with_a_naive_loop():
    lm = small_lm(vocab=3, seed=3, std=1.5)
    seq = torch.tensor([2, 0, 1, 1])
    n = 3000
    torch.manual_seed(1)
    fast = rollout_completions(lm.params(), seq.unsqueeze(0), rollouts=n)  # (3, n, 1, 4)
    torch.manual_seed(2)
    with torch.no_grad():
        for t in (1, 2, 3):
            vec = collections.Counter(tuple(s) for s in fast[t - 1, :, 0].tolist())
            ref = collections.Counter(naive_rollouts(lm, seq, t, n))
            tv = 0.5 * sum(abs(vec[k] - ref[k]) for k in set(vec) | set(ref)) / n
            assert tv < 0.05, (t, tv)


def test_monte_carlo_q_matches_a_hand_computed_example():
    """A generator that always writes token 2 and a D that scores the share of zeros."""
    lm = LSTMLanguageModel(3, 2, 2)
    with torch.no_grad():
        for p in lm.parameters():
            p.zero_()
        lm.output.bias.copy_(torch.tensor([-60.0, -60.0, 60.0]))
    seqs = torch.tensor([[0, 1, 0], [1, 0, 0]])

    def share_of_zeros(tokens):
        return (tokens == 0).float().mean(dim=1)

    q = monte_carlo_q(lm.params(), seqs, rollouts=5, score=share_of_zeros)
    # row 0: [0] + 2 2 -> 1/3;  [0 1] + 2 -> 1/3;  D([0 1 0]) = 2/3
    # row 1: [1] + 2 2 -> 0;    [1 0] + 2 -> 1/3;  D([1 0 0]) = 2/3
    expected = torch.tensor([[1 / 3, 1 / 3, 2 / 3], [0.0, 1 / 3, 2 / 3]])
    assert torch.allclose(q, expected, atol=1e-6)


def test_q_values_average_rollouts_and_end_with_d_of_y():
    scores = torch.tensor([[[0.2, 0.4], [0.6, 0.0]]])  # (T-1=1, R=2, B=2)
    q = q_values(scores, torch.tensor([0.9, 0.1]))
    assert torch.allclose(q, torch.tensor([[0.4, 0.9], [0.2, 0.1]]))


def test_policy_gradient_loss_matches_a_hand_computed_example():
    # B=1, T=2, V=2: logits give p(y0=1)=e/(1+e), p(y1=0)=0.5
    logits = torch.tensor([[[0.0, 1.0], [0.0, 0.0]]], requires_grad=True)
    tokens = torch.tensor([[1, 0]])
    q = torch.tensor([[0.5, 2.0]])
    loss = policy_gradient_loss(logits, tokens, q)
    import math

    logp0 = 1.0 - math.log(1 + math.e)
    logp1 = math.log(0.5)
    assert abs(loss.item() - (-(logp0 * 0.5 + logp1 * 2.0))) < 1e-6
    loss.backward()
    # d/dlogits of -Q*log softmax = Q * (softmax - onehot)
    p0 = torch.softmax(torch.tensor([0.0, 1.0]), 0)
    assert torch.allclose(logits.grad[0, 0], 0.5 * (p0 - torch.tensor([0.0, 1.0])), atol=1e-6)
    assert torch.allclose(logits.grad[0, 1], 2.0 * (torch.tensor([0.5, 0.5]) - torch.tensor([1.0, 0.0])), atol=1e-6)


def test_policy_gradient_loss_averages_over_the_batch():
    logits = torch.zeros(2, 3, 4)
    tokens = torch.zeros(2, 3, dtype=torch.long)
    q = torch.ones(2, 3)
    import math

    assert abs(policy_gradient_loss(logits, tokens, q).item() - 3 * math.log(4)) < 1e-6


def test_lagged_update_is_an_exponential_moving_copy():
    rollout = {"w": torch.tensor([1.0, 1.0])}
    lagged_update(rollout, {"w": torch.tensor([0.0, 2.0])}, keep=0.8)
    assert torch.allclose(rollout["w"], torch.tensor([0.8, 1.2]))


def test_sample_sequences_is_reproducible_with_a_generator():
    params = small_lm(vocab=6).params()
    a = sample_sequences(params, 10, 5, generator=torch.Generator().manual_seed(4))
    b = sample_sequences(params, 10, 5, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and a.shape == (10, 5) and int(a.max()) < 6


def test_generator_weighted_nll_equals_the_policy_gradient_loss():
    """SeqGAN's loss is a Q-weighted NLL: the fused path and the reference definition agree."""
    lm = small_lm(vocab=9)
    seqs = torch.randint(0, 9, (4, 5))
    q = torch.rand(4, 5)
    reference = policy_gradient_loss(lm(seqs), seqs, q)
    fused = lm.weighted_nll(seqs, q / seqs.shape[0])
    assert torch.allclose(reference, fused, atol=1e-5)


def test_monte_carlo_q_with_prefix_scoring_equals_plain_scoring():
    torch.manual_seed(0)
    from sparring.gans.models.cnn_discriminator import CNNDiscriminator

    lm = LSTMLanguageModel(12, 8, 8)
    disc = CNNDiscriminator(vocab_size=12, emb_dim=6, filter_sizes=(2, 4), num_filters=(3, 3), dropout=0.0)
    seqs = torch.randint(0, 12, (5, 6))
    plain = monte_carlo_q(lm.params(), seqs, 3, disc.prob_real, generator=torch.Generator().manual_seed(1))
    shared = monte_carlo_q(
        lm.params(), seqs, 3, disc.prob_real, generator=torch.Generator().manual_seed(1), score_completions=disc.prob_real_completions
    )
    assert torch.allclose(plain, shared, atol=1e-6)
