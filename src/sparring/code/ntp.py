"""``sparring ntp``: the NTP baseline of RA3, the same SFT on the same documents without latents,
for as many trained tokens as an RA3 run (``--match RUN``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from sparring.code.config import NTPConfig
from sparring.code.latents import (
    assemble,
    code_char_mask,
)
from sparring.code.midtraining import MIDTRAINING_BF16, expert_documents, finish, sft, silent, start_parallel
from sparring.config import to_dict
from sparring.devices import resolve_device
from sparring.errors import UserError
from sparring.precision import model_precision
from sparring.runs import RunDir, check_run, start_run


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
    log = log if dp.is_main else silent
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
        summary = {"algo": "ntp", "tokens_trained": trained, "token_budget": token_budget}
        summary.update(model_precision(cfg.precision, model).record(MIDTRAINING_BF16))
        return finish(writer, model, tokenizer, summary)


def ra3_token_budget(run_dir: str) -> int:
    """What ``ntp --match RUN`` trains for: the tokens a finished RA3 run trained on."""
    run = RunDir.open_existing(run_dir)
    summary = run.read_summary()
    if not summary or summary.get("algo") != "ra3":
        raise UserError(f"--match {run_dir}: not a finished ra3 run (no ra3 summary.json)")
    return int(summary["tokens_trained"])
