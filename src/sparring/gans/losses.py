"""The text-GAN family's losses, as pure functions of tensors, each unit-tested against hand-computed values."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def policy_gradient_loss(logits: torch.Tensor, tokens: torch.Tensor, q: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """SeqGAN's generator loss: -sum_t log G(y_t | Y_1:t-1) * Q(Y_1:t-1, y_t), averaged over the batch.

    ``logits`` (B, T, V) from a teacher-forced pass over ``tokens`` (B, T); ``q`` (B, T) is treated
    as a constant (no gradient flows into the critic). Summing over time and averaging over the
    batch keeps the scale independent of the batch size; SeqGAN's TF code sums over both, which
    only rescales the gradient by B under Adam.
    """
    log_probs = torch.log_softmax(logits, dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    return -(log_probs * q.detach()).sum(dim=1).mean()


def discriminator_loss(logits: torch.Tensor, labels: torch.Tensor, l2_penalty: torch.Tensor, l2_reg: float) -> torch.Tensor:
    """Cross-entropy of the real/generated classifier plus SeqGAN's L2 term on its output layer."""
    return F.cross_entropy(logits, labels) + l2_reg * l2_penalty


def maligan_weights(d_probs: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """MaliGAN's per-sequence weights: r_i = D_i / (1 - D_i), normalised to sum 1, minus their mean 1/m.

    Training on -sum_i weight_i log G(y_i) moves G towards the distribution D believes is real
    (Che et al., 2017, eq. 8); subtracting the mean weight is their variance-reducing baseline.
    """
    d = d_probs.clamp(eps, 1 - eps)
    ratios = d / (1 - d)
    normalised = ratios / ratios.sum()
    return normalised - 1.0 / len(d_probs)


def rank_scores(candidates: torch.Tensor, references: torch.Tensor, comparison: torch.Tensor, gamma: float) -> torch.Tensor:
    """RankGAN's rank score of each candidate, (N,), from feature vectors.

    R(s | U, C) = mean over u in U of exp(gamma cos(s, u)) / sum over s' in {s} + C of exp(gamma cos(s', u)):
    how strongly the real references U single out s among the comparison set C.
    """
    cand = F.normalize(candidates, dim=-1)
    refs = F.normalize(references, dim=-1)
    comp = F.normalize(comparison, dim=-1)
    own = gamma * cand @ refs.t()  # (N, U)
    others = torch.logsumexp(gamma * comp @ refs.t(), dim=0)  # (U,)
    return torch.exp(own - torch.logaddexp(own, others)).mean(dim=1)


def ranker_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """The ranker ranks real sentences high among generated ones and generated ones low among real ones."""
    return -(torch.log(real_scores.clamp_min(eps)).mean() + torch.log((1 - fake_scores).clamp_min(eps)).mean())


def gaussian_mmd2(x: torch.Tensor, y: torch.Tensor, bandwidths: tuple[float, ...]) -> torch.Tensor:
    """TextGAN's feature-matching loss: the biased estimate of the squared kernel MMD between the
    rows of ``x`` (N, F) and of ``y`` (M, F), with a sum of Gaussian kernels
    k(a, b) = sum over s in ``bandwidths`` of exp(-||a - b||^2 / (2 s^2)).

    MMD^2 = mean k(x, x') + mean k(y, y') - 2 mean k(x, y): 0 when the two sets coincide.
    """

    def kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        sq = (a.unsqueeze(1) - b.unsqueeze(0)).pow(2).sum(-1)
        return sum(torch.exp(-sq / (2.0 * s * s)) for s in bandwidths)

    return kernel(x, x).mean() + kernel(y, y).mean() - 2.0 * kernel(x, y).mean()


def gan_losses(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The standard GAN's (discriminator loss, non-saturating generator loss) from D's logits of
    real and generated sequences: D minimises -log D(real) - log(1 - D(fake)), G minimises
    -log D(fake) (Goodfellow et al., 2014). D(x) = sigmoid(logit)."""
    d_loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    return d_loss, F.softplus(-fake_logits).mean()


def cot_generator_loss(gen_logits: torch.Tensor, mediator_logits: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """CoT's generator objective (Lu et al., 2019): the mean over the positions of G's own samples of
    KL(G(. | s_t) || M(. | s_t)), summed exactly over the vocabulary (no sampling of the next token).

    Its gradient in G's weights, with the states s_t held fixed, is the gradient of the estimated
    JSD(P || G) through the mediator M ~ (P + G) / 2. ``mask`` (B, T): 1 where a position counts.
    """
    log_g = torch.log_softmax(gen_logits, dim=-1)
    log_m = torch.log_softmax(mediator_logits.detach(), dim=-1)
    kl = (log_g.exp() * (log_g - log_m)).sum(dim=-1)  # (B, T)
    if mask is None:
        return kl.mean()
    return (kl * mask).sum() / mask.sum().clamp_min(1)


def novelty_returns(token_nll: torch.Tensor, mask: torch.Tensor | None, discount: float) -> torch.Tensor:
    """DPGAN's per-token returns: the reward of token t is its cross-entropy under the language-model
    discriminator (novelty: text D has seen a lot of costs little), and Q_t = sum over tau >= t of
    discount^(tau - t) r_tau over the tokens that count. Returned minus its batch mean per position
    (a baseline; the paper leaves the variance reduction open)."""
    q = discounted_returns(token_nll, mask, discount)
    return q - q.mean(dim=0, keepdim=True)


def discounted_returns(rewards: torch.Tensor, mask: torch.Tensor | None, discount: float) -> torch.Tensor:
    """R_t = sum over tau >= t of discount^(tau - t) r_tau m_tau, times m_t (B, T): only the positions
    that count are rewarded and returned."""
    if mask is not None:
        rewards = rewards * mask
    returns = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = rewards[:, t] + discount * running
        returns[:, t] = running
    return returns if mask is None else returns * mask


def maskgan_actor_critic(
    d_logits: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, discount: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """MaskGAN's actor-critic terms (Fedus et al., 2018) on the filled positions ``mask`` (B, T):
    the reward of a filled token is log D(token is real), r_t = log sigmoid(logit_t); R_t its
    discounted return over the filled positions; the advantage A_t = R_t - V_t with the learned
    critic V as the baseline. Returns (advantages, detached, for the generator's -A log G;
    returns R; the critic's loss, the mean squared error of V on the filled positions)."""
    m = mask.float()
    returns = discounted_returns(F.logsigmoid(d_logits.detach()), m, discount)
    advantages = (returns - values.detach()) * m
    critic_loss = ((values - returns).pow(2) * m).sum() / m.sum().clamp_min(1)
    return advantages, returns, critic_loss


def dpgan_discriminator_loss(real_nll: torch.Tensor, fake_nll: torch.Tensor, real_cap: float) -> torch.Tensor:
    """DPGAN's discriminator (a language model) minimises the mean cross-entropy of generated tokens and
    maximises that of real ones (Xu et al., 2018): -E_real[R] + E_fake[R] with R the token NLL. The real
    term is capped at ``real_cap`` per token (log V: as novel as uniform), since uncapped it has no
    minimum: D could push it to infinity instead of learning the generated text."""
    return fake_nll.mean() - real_nll.clamp(max=real_cap).mean()


def jsd_weights(seq_logp: torch.Tensor) -> torch.Tensor:
    """JSDGAN's per-sequence weights on a batch of real sequences (Li et al., 2019), from their log
    G(x) (B,). Over the whole sequence space the gradient of JSD(P || G) is
    E_G[grad log G(x) * 1/2 log(2 G(x) / (G(x) + P(x)))], and the constant log 2 adds nothing to
    it; JSDGAN evaluates that sum on real sequences only. Here G inside the batch is renormalised,
    q = softmax(log G), the data are uniform, p = 1/B, and the weights are its terms without the
    constant (TextGAN-PyTorch's form): w_i = q_i log(q_i / (q_i + p_i)) < 0, so every real
    sentence is pulled up, the ones G finds unlikely least. Returned detached: the loss is
    ``(w * seq_logp).sum()``."""
    q = torch.softmax(seq_logp.detach().double(), dim=0)
    p = torch.full_like(q, 1.0 / len(q))
    return (q * torch.log(q / (q + p))).to(seq_logp.dtype)


def dgsan_loss(new_real: torch.Tensor, old_real: torch.Tensor, new_fake: torch.Tensor, old_fake: torch.Tensor) -> torch.Tensor:
    """DGSAN's generator loss (Montahaei et al., 2021): the previous generator G_old is the
    discriminator, D(x) = G(x) / (G(x) + G_old(x)), i.e. logit D = log G(x) - log G_old(x). G
    maximises log D on real sequences and log(1 - D) on G_old's samples. Inputs: sequence
    log-probabilities (B,) under G (``new_*``) and G_old (``old_*``) of real and of G_old's sequences."""
    return -(F.logsigmoid(new_real - old_real.detach()).mean() + F.logsigmoid(old_fake.detach() - new_fake).mean())
