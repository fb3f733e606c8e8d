"""``sparring ra3`` and ``sparring ntp``: mid-training on expert code, with and without latent thoughts.

RA3 (Zhang et al., arXiv 2509.25810) is an EM loop on a temporal ELBO. Our reading, with every
choice the paper leaves open (all in the README):

- **Expert code**: MBPP's training ids (511-1000 of the sanitized file), each document being the
  task docstring (the same prompt format eval-code uses) followed by the reference solution.
- **E-step**: a proposal policy q, copied from the current model p, proposes comments at latent
  positions: it continues the expert prefix, the next line's indentation and ``#``. A frozen snapshot
  of p scores each proposal by the log-likelihood gain of the next k expert lines, minus the think
  cost c; ``<act>`` scores 0. q is trained with a group-relative policy gradient over the G proposals
  of a position (GRPO without clipping, one update per batch, so the ratio is 1) with a per-token KL
  penalty to its initialisation. Positions are treated independently given the expert prefix.
- **Posterior choice**: when annotating, each position takes the best of G proposals if its reward
  beats ``<act>``'s 0, else acts. A larger c gives fewer thoughts and, in the limit, NTP.
- **M-step**: SFT of p on the annotated documents; the loss covers comment and code tokens (the model
  learns to emit its own abstractions), or only code with ``mstep.mask_comments``. The header is
  never in the loss.
- **NTP baseline** (``sparring ntp``): the same SFT on the same documents without comments, for the
  same number of trained tokens as an RA3 run (``--match RUN``), so it gets more passes over the code.

Data parallel under ``accelerate launch`` (``sparring.parallel``): every rank takes its share of each
E-step's positions, of the positions to annotate and of each SFT batch; the losses are normalised by
the global counts and the gradients summed, so every replica takes the same step as one process
would on the whole batch (up to sampling: each rank draws its own comments). Annotations are
gathered so that every rank trains on the same annotated programs; rank 0 writes the run.
"""

from __future__ import annotations

import copy
import json
import random
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from rich.progress import Progress

from sparring.checkpoints import Checkpoints, restore_rng, rng_state
from sparring.code.benchmarks import load_benchmark
from sparring.code.config import NTPConfig, RA3Config
from sparring.code.latents import (
    Document,
    assemble,
    choose_latent,
    code_char_mask,
    comment_line,
    first_line,
    full_elbo,
    indentation,
    latent_positions,
    next_lines,
    prefix_before,
    temporal_elbo,
    think_reward,
)
from sparring.config import to_dict
from sparring.devices import resolve_device
from sparring.errors import UserError
from sparring.files import atomic_write_text
from sparring.hf.generation import encode_with_char_mask, span_logprobs, token_logprobs
from sparring.hf.models import save_model
from sparring.hf.sft import sft_step, target_tokens
from sparring.parallel import ONE_PROCESS, DataParallel
from sparring.rl.advantages import group_advantages
from sparring.runs import RunDir, RunWriter, check_run, start_run

Position = tuple[int, int]  # (document index, line index)


def expert_documents(cfg: RA3Config | NTPConfig) -> tuple[list[str], list[Document]]:
    """Task ids and documents of MBPP's training split (first ``data.train_limit``)."""
    bench = load_benchmark("mbpp", cfg.data.mbpp_file)
    ids = bench.ids_in_split("train")
    ids = ids[: cfg.data.train_limit] if cfg.data.train_limit else ids
    if not ids:
        raise UserError(f"{cfg.data.mbpp_file}: no training tasks (MBPP ids 511-1000)")
    return ids, [Document.from_code(bench.tasks[t].prompt, bench.tasks[t].reference) for t in ids]


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


# --- SFT, shared by the M-step and the NTP baseline ----------------------------------------------


def shuffled_batches(n: int, size: int, rng: random.Random) -> Iterator[tuple[list[int], bool]]:
    """Endless epochs of shuffled index batches, each flagged when it is the last of its epoch."""
    while True:
        order = list(range(n))
        rng.shuffle(order)
        for start in range(0, n, size):
            yield order[start : start + size], start + size >= n


def sft(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    char_masks: Sequence[Sequence[bool]],
    cfg: RA3Config | NTPConfig,
    seed: int,
    epochs: int,
    token_budget: int | None = None,
    log: Callable[[dict[str, Any]], None] = lambda row: None,
    dp: DataParallel = ONE_PROCESS,
    checkpoints: Checkpoints | None = None,
    writer: RunWriter | None = None,
    before: dict[str, Any] | None = None,
) -> int:
    """Next-token loss on the masked-in tokens, ``epochs`` passes or until ``token_budget`` tokens
    have been trained on; returns the tokens trained on. Under data parallelism every rank draws the
    same batch and trains on its share, the loss divided by the batch's tokens on all ranks.

    With ``checkpoints`` (and the run's ``writer``) the loop saves every ``cfg.checkpoint_every``
    optimiser steps and continues from the newest complete one: the batches are a seeded sequence,
    so the resumed loop skips the ones it has trained on and draws the same ones next. The logs go
    back to that checkpoint, or to ``before`` (where they stood when the loop began) without one."""
    params = list(model.parameters())
    optimizer = torch.optim.AdamW(params, lr=cfg.mstep.lr, weight_decay=0.0)
    size = cfg.mstep.batch_size
    trained, step, epochs_done = 0, 0, 0
    last = checkpoints.latest() if checkpoints is not None and writer is not None and writer.resumed else None
    if last is not None:
        model.load_state_dict(last["model"])
        optimizer.load_state_dict(last["optimizer"])
        restore_rng(last["rng"])
        trained, step, epochs_done = last.state["trained"], last.step, last.state["epochs_done"]
    if writer is not None:
        writer.rewind(last.state["log"] if last is not None else before)
    order = shuffled_batches(len(texts), size, random.Random(seed))
    for _ in range(step):  # the batches the checkpoint has trained on
        next(order)
    model.train()
    with Progress(transient=True, disable=not dp.is_main) as bar:
        task = bar.add_task("SFT", total=token_budget or epochs * -(-len(texts) // size), completed=trained if token_budget else step)
        while (trained < token_budget) if token_budget else (epochs_done < epochs):
            picked, ends_epoch = next(order)
            mine = dp.share(picked)  # the epoch's last batch can be smaller than the number of ranks: a share may be empty
            batches = []
            if mine:
                chosen = [texts[i] for i in mine], [char_masks[i] for i in mine]
                batches.append(encode_with_char_mask(tokenizer, *chosen, cfg.data.max_length))
            tokens = int(dp.sum(sum(target_tokens(b) for b in batches)))
            local_loss, _ = sft_step(model, optimizer, params, batches, tokens, dp)
            trained, step, epochs_done = trained + tokens, step + 1, epochs_done + ends_epoch
            log({"sft_step": step, "sft_loss": dp.sum(local_loss), "tokens_trained": trained})
            bar.advance(task, tokens if token_budget else 1)
            if checkpoints is not None and writer is not None and step % cfg.checkpoint_every == 0:
                state = {"trained": trained, "epochs_done": epochs_done, "log": writer.rows()}
                checkpoints.save(step, {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "rng": rng_state()}, state)
    model.eval()
    return trained


# --- the runs --------------------------------------------------------------------------------------


def train_ra3(
    cfg: RA3Config, out: str | Path, resume: bool = False, log: Callable[[str], None] = print, report_to: str = "none"
) -> dict[str, Any]:
    """The EM loop. Each iteration ends with a checkpoint of the model (``checkpoints/em``); within
    one, the E-step's outcome (``checkpoints/estep``) and the M-step's SFT (``checkpoints/mstep-N``)
    are checkpointed too, so a resume continues at the phase it was in."""
    from sparring.hf.models import load_model_and_tokenizer

    dp = start_parallel(cfg)
    log = log if dp.is_main else _silent
    if dp.is_main:
        check_run(out, to_dict(cfg), resume, report_to=report_to)
    task_ids, docs = expert_documents(cfg)
    run = RunDir(out)
    last = run.checkpoints(EM).latest() if resume and run.config_path.is_file() else None
    done = last.step if last is not None else 0
    start_from = str(last.path("model")) if last is not None else cfg.model
    model, tokenizer, model_path = load_model_and_tokenizer(start_from, dp.device_for(resolve_device(cfg.device)))
    facts = {"model_path": model_path, "train_task_ids": task_ids}
    with start_run(out, to_dict(cfg), resume, facts=facts, report_to=report_to, is_main=dp.is_main) as writer:
        if writer.already_complete:
            return writer.dir.read_summary() or {}
        state = {"tokens_trained": last.state["tokens_trained"]} if last is not None else {"tokens_trained": 0}
        state["log"] = last.state["log"] if last is not None else None  # where the logs stand after the last iteration
        em = writer.dir.checkpoints(EM, enabled=dp.is_main)
        for iteration in range(done + 1, cfg.iterations + 1):
            state = em_iteration(writer, model, tokenizer, task_ids, docs, cfg, iteration, state, log, dp)
            weights = {"model": lambda folder: save_model(model, tokenizer, folder)}
            em.save(iteration, state=state, folders=weights)
            if dp.is_main:  # the iteration's M-step checkpoints are behind the one just written
                shutil.rmtree(writer.dir.checkpoints(f"{MSTEP}-{iteration}").folder, ignore_errors=True)
        summary = {"algo": "ra3", "tokens_trained": state["tokens_trained"], "iterations": cfg.iterations}
        return _finish(writer, model, tokenizer, summary)


EM, ESTEP, MSTEP = "em", "estep", "mstep"  # RUN_DIR/checkpoints/<phase>/step-N (N: the EM iteration, or the M-step's SFT step)


def em_iteration(
    writer: RunWriter,
    model: Any,
    tokenizer: Any,
    task_ids: list[str],
    docs: list[Document],
    cfg: RA3Config,
    iteration: int,
    state: dict[str, Any],
    log: Callable[[str], None],
    dp: DataParallel = ONE_PROCESS,
) -> dict[str, Any]:
    """One EM iteration: the E-step trains a proposal, which annotates the programs; the M-step is SFT on them.
    On a resume it continues from the iteration's newest checkpoint; the logs are cut back once, to
    that checkpoint (``state["log"]``: where they stood after the previous iteration)."""
    seed = cfg.seed * 1000 + iteration
    all_positions = [(d, t) for d, doc in enumerate(docs) for t in latent_positions(doc)]
    estep = writer.dir.checkpoints(ESTEP, enabled=dp.is_main)
    found = estep.latest() if writer.resumed else None
    if found is not None and found.step == iteration:  # the E-step of this iteration is done
        restore_rng(found["rng"])
        outcome, position = found.state["outcome"], found.state["log"]
    else:
        writer.rewind(state["log"])
        outcome = e_step(writer, model, tokenizer, docs, all_positions, cfg, iteration, seed, log, dp)
        position = writer.rows()
        estep.save(iteration, {"rng": rng_state()}, {"outcome": outcome, "log": position})
    comments = [{int(t): text for t, text in c.items()} for c in outcome["comments"]]
    texts = [assemble(doc, c) for doc, c in zip(docs, comments, strict=True)]
    masks = [code_char_mask(doc, c, include_comments=not cfg.mstep.mask_comments) for doc, c in zip(docs, comments, strict=True)]
    if dp.is_main:
        (writer.path / "annotated").mkdir(exist_ok=True)
        atomic_write_text(
            writer.path / "annotated" / f"iter-{iteration}.jsonl",
            "".join(json.dumps({"task_id": t, "text": text}) + "\n" for t, text in zip(task_ids, texts, strict=True)),
        )
    for p in model.parameters():  # M-step
        p.requires_grad_(True)
    mstep = writer.dir.checkpoints(f"{MSTEP}-{iteration}", enabled=dp.is_main)
    trained = sft(model, tokenizer, texts, masks, cfg, seed, cfg.mstep.epochs, dp=dp, checkpoints=mstep, writer=writer, before=position)
    tokens_trained = state["tokens_trained"] + trained
    em_row = {"phase": "em", "iteration": iteration, **outcome["row"], "mstep_tokens": trained, "tokens_trained": tokens_trained}
    writer.log(em_row, guard=("elbo_per_token", "elbo_full_per_token", "ntp_logp_per_token"), where=f"iteration {iteration}")
    log(
        f"iter {iteration}: ELBO {em_row['elbo_per_token']:.4f} (full {em_row['elbo_full_per_token']:.4f}) vs NTP "
        f"{em_row['ntp_logp_per_token']:.4f} nats/token, "
        f"think rate {em_row['think_rate']:.3f}, M-step {trained} tokens"
    )
    return {**state, "tokens_trained": tokens_trained, "log": writer.rows()}


def e_step(
    writer: RunWriter,
    model: Any,
    tokenizer: Any,
    docs: list[Document],
    all_positions: list[Position],
    cfg: RA3Config,
    iteration: int,
    seed: int,
    log: Callable[[str], None],
    dp: DataParallel = ONE_PROCESS,
) -> dict[str, Any]:
    """The E-step and the posterior choice: a proposal trained from the model, the comments it
    chooses for every program, and the ELBO terms of those (JSON, so a checkpoint can hold it)."""
    torch.manual_seed(seed)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    policy = copy.deepcopy(model)
    for p in policy.parameters():
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=cfg.estep.lr, weight_decay=0.0)
    rng = random.Random(seed)
    for step in range(1, cfg.estep.steps + 1):
        positions = rng.sample(all_positions, min(cfg.estep.positions_per_step, len(all_positions)))
        row = estep_update(policy, model, tokenizer, optimizer, docs, positions, cfg, seed * 100 + step, dp)
        row = {"phase": "estep", "iteration": iteration, "step": step, **row}
        writer.log(row, guard=("loss",), where=f"iteration {iteration} E-step {step}")
        log(f"iter {iteration} E-step {step}/{cfg.estep.steps}: reward {row['reward_mean']:+.3f}, think rate {row['think_rate']:.2f}")
    policy.eval()
    comments, gains, chosen = annotate(policy, model, tokenizer, docs, cfg, seed, dp)
    log_q = chosen_logprob(policy, tokenizer, docs, chosen, cfg, dp)
    del policy, optimizer
    thinks = sum(len(c) for c in comments)
    with_z, n_code = code_logprob(model, tokenizer, docs, comments, cfg, dp=dp)
    joint, _ = code_logprob(model, tokenizer, docs, comments, cfg, with_comments=True, dp=dp)
    without_z, _ = code_logprob(model, tokenizer, docs, [{} for _ in docs], cfg, dp=dp)
    comment_chars = [len(c.strip()) for doc_comments in comments for c in doc_comments.values()]
    row = {
        "elbo_per_token": temporal_elbo(with_z, thinks, cfg.estep.think_cost, n_code),
        "elbo_full_per_token": full_elbo(joint, log_q, n_code),
        "log_pz_per_token": (joint - with_z) / max(n_code, 1),  # the comments' tokens under the model (the prior)
        "log_qz_per_token": log_q / max(n_code, 1),  # their text under the proposal
        "ntp_logp_per_token": without_z / max(n_code, 1),
        "think_rate": thinks / max(len(all_positions), 1),
        "gain_mean": sum(gains) / len(gains) if gains else 0.0,
        "comment_chars_mean": sum(comment_chars) / len(comment_chars) if comment_chars else 0.0,
    }
    return {"comments": [{str(t): text for t, text in c.items()} for c in comments], "row": row}


def train_ntp(
    cfg: NTPConfig,
    out: str | Path,
    token_budget: int | None,
    resume: bool = False,
    log: Callable[[str], None] = print,
    report_to: str = "none",
) -> dict[str, Any]:
    """The NTP baseline: the same SFT, the same documents, no latents, ``token_budget`` trained tokens
    (default: ``iterations x mstep.epochs`` passes, recorded as ``sft_epochs`` in config.json). It
    checkpoints every ``checkpoint_every`` optimiser steps and a resume continues from there."""
    from sparring.hf.models import load_model_and_tokenizer

    dp = start_parallel(cfg)
    log = log if dp.is_main else _silent
    if dp.is_main:
        check_run(out, to_dict(cfg), resume, report_to=report_to)
    task_ids, docs = expert_documents(cfg)
    model, tokenizer, model_path = load_model_and_tokenizer(cfg.model, dp.device_for(resolve_device(cfg.device)))
    epochs = cfg.iterations * cfg.mstep.epochs
    facts = {"model_path": model_path, "token_budget": token_budget, "sft_epochs": None if token_budget else epochs}
    facts["train_task_ids"] = task_ids
    with start_run(out, to_dict(cfg), resume, facts=facts, report_to=report_to, is_main=dp.is_main) as writer:
        if writer.already_complete:
            return writer.dir.read_summary() or {}
        started_with = writer.dir.read_config().get("token_budget")
        if started_with != token_budget:
            raise UserError(f"--resume: {writer.path} was started with a token budget of {started_with} (--match / --tokens)")
        texts = [assemble(doc, {}) for doc in docs]
        masks = [code_char_mask(doc, {}, include_comments=False) for doc in docs]
        torch.manual_seed(cfg.seed)
        checkpoints = writer.dir.checkpoints("sft", enabled=dp.is_main)
        record = lambda row: writer.log({"phase": "sft", **row})  # noqa: E731 - one line, one job
        trained = sft(model, tokenizer, texts, masks, cfg, cfg.seed, epochs, token_budget, record, dp, checkpoints, writer)
        log(f"NTP: {trained} tokens trained" + (f" (budget {token_budget})" if token_budget else ""))
        return _finish(writer, model, tokenizer, {"algo": "ntp", "tokens_trained": trained, "token_budget": token_budget})


def ra3_token_budget(run_dir: str) -> int:
    """What ``ntp --match RUN`` trains for: the tokens a finished RA3 run trained on."""
    run = RunDir.open_existing(run_dir)
    summary = run.read_summary()
    if not summary or summary.get("algo") != "ra3":
        raise UserError(f"--match {run_dir}: not a finished ra3 run (no ra3 summary.json)")
    return int(summary["tokens_trained"])


def start_parallel(cfg: RA3Config | NTPConfig) -> DataParallel:
    """Join the data-parallel group, after checking that every rank has work in every step."""
    dp = DataParallel.start(resolve_device(cfg.device))
    per_step = [("mstep.batch_size", cfg.mstep.batch_size)]
    if isinstance(cfg, RA3Config):
        per_step.append(("estep.positions_per_step", cfg.estep.positions_per_step))
    for key, value in per_step:
        if value < dp.world:
            raise UserError(f"{key} = {value}: needs at least one per process ({dp.world} processes)")
    return dp


def _silent(_: str) -> None:
    """The log of a rank other than 0: rank 0 speaks for the run."""


def _finish(writer: RunWriter, model: Any, tokenizer: Any, summary: dict[str, Any]) -> dict[str, Any]:
    from sparring.code.plots import plot_ra3_curves

    if not writer.is_main:
        return {}  # rank 0 writes the run and reports it
    save_model(model, tokenizer, writer.path / "model")
    rows = writer.dir.read_metrics()
    plot_ra3_curves(rows, writer.dir.curves_path)
    last_em = [r for r in rows if r.get("phase") == "em"]
    keys = ("elbo_per_token", "elbo_full_per_token", "ntp_logp_per_token", "think_rate")
    summary = {**summary, **({k: last_em[-1][k] for k in keys if k in last_em[-1]} if last_em else {})}
    return writer.finish(summary)
