"""Where a GRPO step's time goes: the demo presets of ``align`` and ``rlvr`` split into their parts,
each beside its arithmetic floor.

A real run of each (``--steps`` generator steps, the preset's batch: 4 prompts x 4 completions) with
timers around TRL's and sparring's own functions:

- ``sampling``: ``GRPOTrainer._generate_single_turn`` (the completions, prefill included);
- ``reward``: ``GRPOTrainer._calculate_rewards`` (D's scoring on align, the sandbox on rlvr);
- ``reference_forward``: ``_get_per_token_logps_and_entropies`` outside the loss (the KL's reference);
- ``policy_forward``: the same inside ``compute_loss``; ``policy_backward``: ``Accelerator.backward``;
- ``d_update``: ``DiscriminatorReward.update`` (D's own step of the game, align only);
- ``optimizer``: the policy's optimiser step; ``other``: the rest of the step (tokenisation, TRL's
  bookkeeping, logging).

The floor of each part is its FLOPs at the CPU's measured fp32 matrix-product rate (a 1024 x 576 x
1536 product, the shape of SmolLM2's MLP on a batch of tokens): 2 FLOPs per weight of every linear
layer (the output layer included) per token for a forward pass, as much again for a LoRA backward
(the frozen weights' own gradients are not computed), twice that for a full one. Sampling's floor
counts each completion's prefill and one token per step; a step at batch 16 is far from the large
product's rate, which the ratio shows. Steps after the first are averaged (the first pays for warm-up).

    python bench/step_split.py --steps 4           # writes bench/results/step-split.{json,md}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_results  # noqa: E402

HERE = Path(__file__).resolve().parent
MBPP = HERE.parents[1] / "shared" / "data" / "mbpp" / "sanitized-mbpp.json"
PARTS = ("sampling", "reward", "reference_forward", "policy_forward", "policy_backward", "d_update", "optimizer")
TOTALS: dict[str, float] = defaultdict(float)
SNAPSHOTS: list[dict[str, float]] = []
PROMPT_LENGTHS: list[int] = []
FLAGS = {"in_loss": False, "in_d": False}


def _timed(owner: Any, name: str, key: Any) -> None:
    """Wrap ``owner.name`` so its time adds to TOTALS[key(...)] (key: a part name, or a function of FLAGS)."""
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        part = key() if callable(key) else key
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            if part is not None:
                TOTALS[part] += time.perf_counter() - started

    setattr(owner, name, wrapper)


def _flagged(owner: Any, name: str, flag: str) -> None:
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        FLAGS[flag] = True
        try:
            return original(*args, **kwargs)
        finally:
            FLAGS[flag] = False

    setattr(owner, name, wrapper)


def instrument() -> None:
    import torch
    from accelerate import Accelerator
    from trl import GRPOTrainer

    from sparring.critics.reward import DiscriminatorReward
    from sparring.hf.grpo import RunLogCallback

    _timed(GRPOTrainer, "_generate_single_turn", "sampling")
    sampling = GRPOTrainer._generate_single_turn

    def counting(self: Any, prompt_ids: Any, *args: Any, **kwargs: Any) -> Any:
        PROMPT_LENGTHS.extend(len(ids) for ids in prompt_ids)  # the prompt tokens each completion is prefilled with
        return sampling(self, prompt_ids, *args, **kwargs)

    GRPOTrainer._generate_single_turn = counting
    _timed(GRPOTrainer, "_calculate_rewards", "reward")
    _timed(GRPOTrainer, "_get_per_token_logps_and_entropies", lambda: "policy_forward" if FLAGS["in_loss"] else "reference_forward")
    _flagged(GRPOTrainer, "compute_loss", "in_loss")
    _timed(Accelerator, "backward", "policy_backward")
    _timed(DiscriminatorReward, "update", "d_update")
    _flagged(DiscriminatorReward, "update", "in_d")
    _timed(torch.optim.AdamW, "step", lambda: None if FLAGS["in_d"] else "optimizer")
    original = RunLogCallback.on_step_end

    def on_step_end(self: Any, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        out = original(self, args, state, control, **kwargs)
        SNAPSHOTS.append({**TOTALS, "step_time": self._step_seconds[-1] if self._step_seconds else None})
        return out

    RunLogCallback.on_step_end = on_step_end


def linear_weights(model: Any) -> int:
    import torch

    return sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))


def floors(rate: float, n_lin: int, prompt_tokens: float, completion_tokens: float, completions: int, lora: bool,
           d_params: int, d_tokens: float, d_steps: int) -> dict[str, float]:  # fmt: skip
    """Seconds of arithmetic per part of one step at ``rate`` FLOP/s."""
    total_tokens = (prompt_tokens + completion_tokens) * completions
    forward = 2 * n_lin * total_tokens
    out = {
        "sampling": 2 * n_lin * (prompt_tokens + completion_tokens) * completions / rate,
        "reference_forward": forward / rate,
        "policy_forward": forward / rate,
        "policy_backward": (1 if lora else 2) * forward / rate,
    }
    if d_params:
        out["reward"] = 2 * d_params * d_tokens * completions / rate
        out["d_update"] = d_steps * 6 * d_params * d_tokens * 2 * completions / rate
    return out


def step_means() -> dict[str, float]:
    """Mean seconds per part over the steps after the first."""
    deltas = []
    for before, after in zip(SNAPSHOTS, SNAPSHOTS[1:], strict=False):
        deltas.append({k: after.get(k, 0.0) - before.get(k, 0.0) for k in PARTS} | {"step_time": after["step_time"]})
    means = {k: sum(d[k] for d in deltas) / len(deltas) for k in (*PARTS, "step_time")}
    means["other"] = means["step_time"] - sum(means[k] for k in PARTS)
    return means


def run_line(line: str, steps: int, root: Path) -> dict[str, Any]:
    import torch

    from sparring.kinds import build_config
    from sparring.precision import time_matmul

    TOTALS.clear()
    SNAPSHOTS.clear()
    PROMPT_LENGTHS.clear()
    if line == "align":
        from sparring.llm.align import align

        overrides = {"train.steps": steps, "disc.pretrain_steps": 1, "eval.n_prompts": 4, "eval.responses_per_prompt": 1,
                     "eval.folds": 2, "precision": "fp32"}  # fmt: skip
        cfg = build_config("align", "demo", overrides=overrides)
        align(cfg, root / "align")
        batch = cfg.train.prompts_per_step * cfg.train.num_generations
        lora, cap = cfg.model.lora, cfg.generation.max_new_tokens
    else:
        from sparring.code.rlvr import train_rlvr

        cfg = build_config("rlvr", "demo", overrides={"steps": steps, "data.mbpp_file": str(MBPP), "precision": "fp32"})
        train_rlvr(cfg, root / "rlvr")
        batch, lora, cap = cfg.prompts_per_step * cfg.num_generations, False, cfg.max_new_tokens
    rows = [json.loads(line) for line in (root / line / "metrics.jsonl").read_text().splitlines()]
    trained = [r for r in rows if r.get("phase") in ("adversarial", "rl") and r.get("completion_length") is not None]
    completion = sum(r["completion_length"] for r in trained[1:] or trained) / max(len(trained[1:] or trained), 1)
    means = step_means()
    from sparring.hf.models import load_causal_lm, resolve_model

    model_path = resolve_model("smollm2")
    policy = load_causal_lm(model_path, "cpu")
    n_lin = linear_weights(policy)
    prompt_tokens = sum(PROMPT_LENGTHS) / max(len(PROMPT_LENGTHS), 1)
    d_params, d_tokens, d_steps = 0, 0.0, 0
    if line == "align":  # D (MiniLM) reads instruction + response: about the prompt's words and the completion
        from sparring.critics.discriminators import EncoderDiscriminator, resolve_encoder

        d_params, d_tokens, d_steps = linear_weights(EncoderDiscriminator(resolve_encoder("minilm"), 256)), completion + 16, 1
    m, k, n = 1024, 576, 1536
    rate = 2.0 * m * k * n / time_matmul(torch.float32, (m, k, n), 7)
    floor = floors(rate, n_lin, prompt_tokens, completion, batch, lora, d_params, d_tokens, d_steps)
    return {"means": means, "floors": floor, "rate_gflops": round(rate / 1e9, 1), "completion_tokens": round(completion, 1),
            "prompt_tokens": round(prompt_tokens, 1), "completions": batch, "linear_weights": n_lin, "lora": lora, "cap": cap,
            "steps": steps}  # fmt: skip


def report(data: dict[str, Any]) -> None:
    rows = []
    for line in ("align", "rlvr"):
        if line not in data:
            continue
        d = data[line]
        for part in (*PARTS, "other", "step_time"):
            seconds = d["means"].get(part)
            if seconds is None or (part == "d_update" and line == "rlvr"):
                continue
            floor = d["floors"].get(part)
            if seconds < 1e-3 and part != "optimizer":  # not done at all (rlvr's demo has beta 0: no reference model)
                rows.append([line, part, "0", "0%", "-", "not run"])
                continue
            ratio = f"{seconds / floor:.1f}x" if floor else "-"
            share = f"{seconds / d['means']['step_time']:.0%}" if part != "step_time" else "100%"
            rows.append([line, part, f"{seconds:.2f}", share, f"{floor:.2f}" if floor else "-", ratio])
    notes = [
        "Each line's demo preset (fp32), a real run of a few steps; seconds per step averaged over the steps after the first.",
        "Floor: the part's FLOPs at the measured fp32 rate of a 1024 x 576 x 1536 product "
        + ", ".join(
            f"({line}: {data[line]['rate_gflops']} GFLOP/s; prompts {data[line]['prompt_tokens']} tokens, completions "
            f"{data[line]['completion_tokens']} of a cap of {data[line]['cap']}, {data[line]['completions']} per step)"
            for line in ("align", "rlvr")
            if line in data
        )
        + ".",  # fmt: skip
        "'other' is the step's time outside the timed parts (tokenisation, TRL's bookkeeping, logging).",
        f"Machine: {machine()}",
    ]
    write_results("step-split", data, ["line", "part", "seconds", "share of the step", "floor (s)", "over the floor"], rows, notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--lines", default="align,rlvr")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    instrument()
    data: dict[str, Any] = {"machine": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        for line in args.lines.split(","):
            if line == "rlvr" and not MBPP.is_file():
                print(f"rlvr skipped: {MBPP} not found")
                continue
            data[line] = run_line(line, args.steps, Path(tmp))
            report(data)
    print((HERE / "results" / "step-split.md").read_text())


if __name__ == "__main__":
    main()
