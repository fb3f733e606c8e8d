"""RA3's E-step: a proposal policy learns comments that raise the frozen model's likelihood of the
next expert lines; the posterior choice annotates the programs; the ELBO terms of the chosen comments.
(The EM loop and its reading of the paper: ``sparring.code.ra3``.)"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from rich.progress import Progress

from sparring.code.config import RA3Config
from sparring.code.latents import (
    Document,
    assemble,
    choose_latent,
    code_char_mask,
    comment_line,
    first_line,
    indentation,
    latent_positions,
    next_lines,
    prefix_before,
    think_reward,
)
from sparring.hf.generation import encode_with_char_mask, span_logprobs, token_logprobs
from sparring.parallel import ONE_PROCESS, DataParallel
from sparring.rl.advantages import group_advantages

Position = tuple[int, int]  # (document index, line index)


# --- the E-step's pieces -------------------------------------------------------------------------


def proposal_prompt(doc: Document, t: int) -> str:
    return prefix_before(doc, t) + indentation(doc.lines[t]) + "#"


def propose(
    policy: Any, tokenizer: Any, docs: Sequence[Document], positions: Sequence[Position], group: int, cfg: RA3Config, seed: int
) -> list[list[str]]:
    """``group`` sampled continuations after ``#`` for every position (first line only)."""
    from sparring.hf.generation import generate

    prompts = [proposal_prompt(docs[d], t) for d, t in positions for _ in range(group)]
    e = cfg.estep
    texts = generate(policy, tokenizer, prompts, e.comment_tokens, e.temperature, 1.0, cfg.batch_size, seed, "proposing", True, ["\n"])
    cut = [first_line(text) for text in texts]
    return [cut[i * group : (i + 1) * group] for i in range(len(positions))]


def think_rewards(
    frozen: Any,
    tokenizer: Any,
    docs: Sequence[Document],
    positions: Sequence[Position],
    continuations: Sequence[Sequence[str]],
    cfg: RA3Config,
) -> torch.Tensor:
    """(positions, G) rewards: gain of the next k lines' log-likelihood under the frozen model, minus c."""
    k, size, length = cfg.estep.horizon, cfg.batch_size, cfg.data.max_length
    plain = [prefix_before(docs[d], t) for d, t in positions]
    targets = [next_lines(docs[d], t, k) for d, t in positions]
    without = span_logprobs(frozen, tokenizer, [p + x for p, x in zip(plain, targets, strict=True)], [len(p) for p in plain], size, length)
    texts, starts = [], []
    for (d, t), prefix, target, group in zip(positions, plain, targets, continuations, strict=True):
        for continuation in group:
            context = prefix + comment_line(docs[d], t, continuation) + "\n"
            texts.append(context + target)
            starts.append(len(context))
    with_comment = span_logprobs(frozen, tokenizer, texts, starts, size, length)
    g = len(continuations[0])
    rewards = [think_reward(with_comment[i * g + j], without[i], cfg.estep.think_cost) for i in range(len(positions)) for j in range(g)]
    return torch.tensor(rewards).view(len(positions), g)


def proposal_logprobs(
    model: Any,
    tokenizer: Any,
    docs: Sequence[Document],
    positions: Sequence[Position],
    continuations: Sequence[Sequence[str]],
    max_length: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log q(continuation | prompt) and its mask, (positions*G, tokens), with gradients."""
    texts, masks = [], []
    for (d, t), group in zip(positions, continuations, strict=True):
        prompt = proposal_prompt(docs[d], t)
        for continuation in group:
            texts.append(prompt + continuation + "\n")
            masks.append([i >= len(prompt) for i in range(len(prompt) + len(continuation) + 1)])
    return token_logprobs(model, encode_with_char_mask(tokenizer, texts, masks, max_length))


def estep_update(
    policy: Any,
    frozen: Any,
    tokenizer: Any,
    optimizer: Any,
    docs: Sequence[Document],
    positions: Sequence[Position],
    cfg: RA3Config,
    seed: int,
    dp: DataParallel = ONE_PROCESS,
) -> dict[str, float]:
    """One group-relative policy-gradient update of the proposal on ``positions`` (every rank gets the
    same list and works on its share); returns what it measured, over all ranks."""
    mine = dp.share(positions)
    continuations = propose(policy, tokenizer, docs, mine, cfg.estep.group, cfg, seed + 1_000_003 * dp.rank)
    rewards = think_rewards(frozen, tokenizer, docs, mine, continuations, cfg)
    advantages = group_advantages(rewards).flatten().to(next(policy.parameters()).device)
    policy.train()
    logp, mask = proposal_logprobs(policy, tokenizer, docs, mine, continuations, cfg.data.max_length)
    with torch.no_grad():
        ref_logp, _ = proposal_logprobs(frozen, tokenizer, docs, mine, continuations, cfg.data.max_length)
    tokens = mask.sum(dim=1).clamp(min=1)
    pg = -(advantages * logp.sum(dim=1) / tokens).mean()
    log_ratio = (ref_logp - logp) * mask  # k3 estimator of KL(q || q0) per token: exp(r) - r - 1
    kl = ((log_ratio.exp() - log_ratio - 1) * mask).sum(dim=1).div(tokens).mean()
    weight = len(mine) / len(positions)  # this rank's part of the mean over all positions (1.0 in one process)
    loss = (pg + cfg.estep.kl_coef * kl) * weight
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    dp.sum_gradients(policy.parameters())
    torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
    optimizer.step()
    best = rewards.max(dim=1).values
    reward_mean = dp.sum(float(rewards.mean()) * weight)
    return {
        "reward_mean": reward_mean,
        "gain_mean": reward_mean + cfg.estep.think_cost,
        "think_rate": dp.sum(float((best > 0).float().mean()) * weight),
        "comment_tokens": dp.sum(float(tokens.mean()) * weight),
        "kl": dp.sum(float(kl.detach()) * weight),
        "loss": dp.sum(float(loss.detach())),
    }


# --- annotation (the posterior choice) and the ELBO ----------------------------------------------


@torch.no_grad()
def annotate(
    policy: Any, frozen: Any, tokenizer: Any, docs: Sequence[Document], cfg: RA3Config, seed: int, dp: DataParallel = ONE_PROCESS
) -> tuple[list[dict[int, str]], list[float], list[tuple[Position, str]]]:
    """Comments chosen for every latent position of every document, the gains of those chosen, and
    each chosen (position, continuation after ``#``). Each rank annotates its share of the
    positions; every rank returns the whole, gathered."""
    positions = dp.share([(d, t) for d, doc in enumerate(docs) for t in latent_positions(doc)])
    picks: list[tuple[Position, str, float]] = []  # (position, continuation, gain) of each thought chosen here
    chunk = max(1, cfg.batch_size)
    with Progress(transient=True, disable=not dp.is_main) as bar:
        task = bar.add_task("annotating", total=len(positions))
        for start in range(0, len(positions), chunk):
            part = positions[start : start + chunk]
            continuations = propose(policy, tokenizer, docs, part, cfg.mstep.annotate_group, cfg, seed + start + 1_000_003 * dp.rank)
            rewards = think_rewards(frozen, tokenizer, docs, part, continuations, cfg)
            for position, group, row in zip(part, continuations, rewards.tolist(), strict=True):
                choice = choose_latent(row)
                if choice is not None:
                    picks.append((position, group[choice], row[choice] + cfg.estep.think_cost))
            bar.advance(task, len(part))
    comments: list[dict[int, str]] = [{} for _ in docs]
    gains: list[float] = []
    chosen: list[tuple[Position, str]] = []
    for (d, t), continuation, gain in sorted((tuple(p[0]), p[1], p[2]) for part in dp.gather(picks) for p in part):
        comments[d][t] = comment_line(docs[d], t, continuation)
        gains.append(gain)
        chosen.append(((d, t), first_line(continuation)))
    return comments, gains, chosen


@torch.no_grad()
def chosen_logprob(
    policy: Any,
    tokenizer: Any,
    docs: Sequence[Document],
    chosen: Sequence[tuple[Position, str]],
    cfg: RA3Config,
    dp: DataParallel = ONE_PROCESS,
) -> float:
    """log q(z | x): the proposal's summed log-probability of each chosen comment's text after ``#``
    (each rank scores its share; the sum is over all)."""
    total = 0.0
    chosen = dp.share(chosen)
    for i in range(0, len(chosen), cfg.batch_size):
        part = chosen[i : i + cfg.batch_size]
        logp, _ = proposal_logprobs(policy, tokenizer, docs, [p for p, _ in part], [[c] for _, c in part], cfg.data.max_length)
        total += float(logp.sum())
    return dp.sum(total)


@torch.no_grad()
def code_logprob(
    model: Any,
    tokenizer: Any,
    docs: Sequence[Document],
    comments: Sequence[dict[int, str]],
    cfg: RA3Config,
    with_comments: bool = False,
    dp: DataParallel = ONE_PROCESS,
) -> tuple[float, int]:
    """Summed log p of the expert code tokens (not the header; the comments' tokens too when
    ``with_comments``: log p(x, z)) with the given comments, and their count (over all ranks' shares)."""
    texts = dp.share([assemble(doc, c) for doc, c in zip(docs, comments, strict=True)])
    masks = dp.share([code_char_mask(doc, c, include_comments=with_comments) for doc, c in zip(docs, comments, strict=True)])
    total, count = 0.0, 0
    for i in range(0, len(texts), cfg.batch_size):
        batch = encode_with_char_mask(tokenizer, texts[i : i + cfg.batch_size], masks[i : i + cfg.batch_size], cfg.data.max_length)
        logp, mask = token_logprobs(model, batch)
        total += float(logp.sum())
        count += int(mask.sum())
    return dp.sum(total), int(dp.sum(count))


