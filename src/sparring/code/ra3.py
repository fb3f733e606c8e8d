"""``sparring ra3`` and ``sparring ntp``: mid-training on expert code, with and without latent thoughts.

RA3 (Zhang et al., arXiv 2509.25810) is an EM loop on a temporal ELBO. Our reading, with every
choice the paper leaves open (all in docs/code.md):

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from sparring.checkpoints import restore_rng, rng_state
from sparring.code.config import RA3Config
from sparring.code.estep import Position, annotate, chosen_logprob, code_logprob, estep_update
from sparring.code.latents import (
    Document,
    assemble,
    code_char_mask,
    full_elbo,
    latent_positions,
    temporal_elbo,
)
from sparring.code.midtraining import MIDTRAINING_BF16, expert_documents, finish, sft, silent, start_parallel
from sparring.config import to_dict
from sparring.devices import resolve_device
from sparring.files import atomic_write_text
from sparring.hf.models import save_model
from sparring.parallel import ONE_PROCESS, DataParallel
from sparring.precision import model_precision
from sparring.runs import RunDir, RunWriter, check_run, start_run

EM, ESTEP, MSTEP = "em", "estep", "mstep"  # RUN_DIR/checkpoints/<phase>/step-N (N: the EM iteration, or the M-step's SFT step)


def train_ra3(
    cfg: RA3Config, out: str | Path, resume: bool = False, log: Callable[[str], None] = print, report_to: str = "none"
) -> dict[str, Any]:
    """The EM loop. Each iteration ends with a checkpoint of the model (``checkpoints/em``); within
    one, the E-step's outcome (``checkpoints/estep``) and the M-step's SFT (``checkpoints/mstep-N``)
    are checkpointed too, so a resume continues at the phase it was in."""
    from sparring.hf.models import load_model_and_tokenizer

    dp = start_parallel(cfg)
    log = log if dp.is_main else silent
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
        summary.update(model_precision(cfg.precision, model).record(MIDTRAINING_BF16))
        return finish(writer, model, tokenizer, summary)


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
    chooses for every program, and the ELBO terms of those (JSON, so a checkpoint can hold it).
    In bf16 the proposal's updates and the annotation run under autocast; the ELBO terms, which
    are the run's metrics, are computed in float32."""
    precision = model_precision(cfg.precision, model)
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
        with precision.autocast():
            row = estep_update(policy, model, tokenizer, optimizer, docs, positions, cfg, seed * 100 + step, dp)
        row = {"phase": "estep", "iteration": iteration, "step": step, **row}
        writer.log(row, guard=("loss",), where=f"iteration {iteration} E-step {step}")
        log(f"iter {iteration} E-step {step}/{cfg.estep.steps}: reward {row['reward_mean']:+.3f}, think rate {row['think_rate']:.2f}")
    policy.eval()
    with precision.autocast():
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
