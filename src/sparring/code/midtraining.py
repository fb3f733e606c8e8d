"""What RA3 and its NTP baseline share: the expert documents, the SFT loop on them (checkpointed and
resumable), the data-parallel group and the end of a run."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from rich.progress import Progress

from sparring.checkpoints import Checkpoints, restore_rng, rng_state
from sparring.code.benchmarks import load_benchmark
from sparring.code.config import NTPConfig, RA3Config
from sparring.code.latents import (
    Document,
)
from sparring.devices import resolve_device
from sparring.errors import UserError
from sparring.hf.generation import encode_with_char_mask
from sparring.hf.models import save_model
from sparring.hf.sft import sft_step, target_tokens
from sparring.parallel import ONE_PROCESS, DataParallel
from sparring.precision import model_precision
from sparring.runs import RunWriter

# What a mid-training run (RA3, NTP) computes in bf16 when its precision is bf16.
MIDTRAINING_BF16 = "SFT forward passes; RA3's E-step (proposal updates, scoring, annotation); log-probabilities and the ELBO terms in fp32"


def expert_documents(cfg: RA3Config | NTPConfig) -> tuple[list[str], list[Document]]:
    """Task ids and documents of MBPP's training split (first ``data.train_limit``)."""
    bench = load_benchmark("mbpp", cfg.data.mbpp_file)
    ids = bench.ids_in_split("train")
    ids = ids[: cfg.data.train_limit] if cfg.data.train_limit else ids
    if not ids:
        raise UserError(f"{cfg.data.mbpp_file}: no training tasks (MBPP ids 511-1000)")
    return ids, [Document.from_code(bench.tasks[t].prompt, bench.tasks[t].reference) for t in ids]


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
    precision = model_precision(cfg.precision, model)
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
            local_loss, _ = sft_step(model, optimizer, params, batches, tokens, dp, precision=precision)
            trained, step, epochs_done = trained + tokens, step + 1, epochs_done + ends_epoch
            log({"sft_step": step, "sft_loss": dp.sum(local_loss), "tokens_trained": trained})
            bar.advance(task, tokens if token_budget else 1)
            if checkpoints is not None and writer is not None and step % cfg.checkpoint_every == 0:
                state = {"trained": trained, "epochs_done": epochs_done, "log": writer.rows()}
                checkpoints.save(step, {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "rng": rng_state()}, state)
    model.eval()
    return trained


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


def silent(_: str) -> None:
    """The log of a rank other than 0: rank 0 speaks for the run."""


def finish(writer: RunWriter, model: Any, tokenizer: Any, summary: dict[str, Any]) -> dict[str, Any]:
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
