"""Per-token NLL (NLL-oracle, NLL-test) against hand-computed values."""

import math

import torch

from sparring.gans.config import EvalConfig
from sparring.gans.corpus import Corpus
from sparring.gans.engine import evaluate_generator
from sparring.gans.models.lstm import LSTMLanguageModel
from sparring.gans.nll import per_token_nll


def unigram_model(probs):
    """A 3-token LM whose LSTM is silent (all weights zero, so h = 0): p(y_t) = softmax(bias)."""
    model = LSTMLanguageModel(vocab_size=len(probs), emb_dim=2, hidden_dim=2)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.output.bias.copy_(torch.log(torch.tensor(probs)))
    return model


def test_per_token_nll_matches_hand_computed_value():
    model = unigram_model([0.5, 0.25, 0.25])
    tokens = torch.tensor([[0, 1, 2], [0, 0, 0]])
    # (-ln .5 - ln .25 - ln .25 - 3 ln .5) / 6 = (ln2 + 2 ln4 + 3 ln2) / 6 = 8 ln2 / 6
    expected = 8 * math.log(2) / 6
    assert abs(per_token_nll(model, tokens) - expected) < 1e-6
    assert abs(per_token_nll(model, tokens, batch_size=1) - expected) < 1e-6


def test_nll_uses_context_through_the_start_token():
    """Position 0 is predicted from the start token alone: a start-dependent model shows it."""
    model = unigram_model([1 / 3, 1 / 3, 1 / 3])
    with torch.no_grad():
        # Only the start token's embedding is non-zero; it opens the input gate and writes a cell
        # state that raises token 2's logit by a known amount at every later position too.
        model.embedding.weight[3] = torch.tensor([10.0, 0.0])
        model.lstm.weight_ih_l0.zero_()
        model.lstm.weight_ih_l0[0, 0] = 10.0  # input gate of unit 0 -> ~1 for the start token
        model.lstm.weight_ih_l0[4, 0] = 10.0  # candidate g of unit 0 -> tanh(100) ~ 1
        model.lstm.weight_ih_l0[6, 0] = 10.0  # output gate of unit 0 -> ~1
        model.output.weight[2, 0] = 1.0
    h0 = math.tanh(0.5 * 0 + 1.0)  # c = i*g = 1, h = o * tanh(c)
    logits = torch.tensor([0.0, 0.0, h0]) + math.log(1 / 3)
    expected = -torch.log_softmax(logits, 0)[2].item()
    got = per_token_nll(model, torch.tensor([[2]]))
    assert abs(got - expected) < 1e-4


def test_nll_test_is_measured_on_the_held_out_split_only():
    oracle = unigram_model([0.5, 0.25, 0.25])
    gen = unigram_model([0.2, 0.2, 0.6])
    train = torch.zeros(4, 3, dtype=torch.long)
    test = torch.full((4, 3), 2, dtype=torch.long)
    corpus = Corpus(train, test, train, oracle.vocab_size, oracle=oracle)
    metrics = evaluate_generator(gen, corpus, EvalConfig(n_samples=2000, temperature=1.0))
    assert abs(metrics["nll_test"] - (-math.log(0.6))) < 1e-6
    # NLL-oracle of generator samples: E_gen[-ln p_oracle] = .2 ln2 + .2 ln4 + .6 ln4 = 1.803 (Monte Carlo)
    expected = 0.2 * math.log(2) + 0.8 * math.log(4)
    assert abs(metrics["nll_oracle"] - expected) < 0.03
    assert metrics["temperature"] == 1.0 and metrics["n_samples"] == 2000
