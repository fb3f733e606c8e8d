"""Time each line's hot paths in fp32 and in bf16 in one run, next to the machine's matrix-product peaks.

Writes bench/results/speed.json and speed.md. Top-level keys (rollout_s, mc_search_s, sample_10k_s,
mle_epoch_s, d_epoch_s, ...) are the fp32 medians, as before the precision setting existed;
``bf16`` holds the same measures in bf16 and ``ratio`` fp32 / bf16. Results are written after
every measure, so a cut run keeps what it measured.

GAN line: ``rollout_s`` is the generation of every Monte Carlo completion (16 rollouts x 64
sequences x 19 prefixes at length 20); ``mc_search_s`` adds scoring all 19,456 completions with the
paper's discriminator, which is what one full Q computation costs. The generators' LSTMs are fp32
in both precisions (their products are too small for the bf16 units: the ``matmul`` rows show it),
so their rows measure the same code twice; the discriminator rows are where bf16 acts.
The newer family's rows (``textgan_g_step_s`` ... ``maskgan_g_step_s``) are one generator update of
each at its demo settings (``family_jobs``); DGSAN's is one of the batches of its step.

LLM and code lines (SmolLM2-135M-Instruct, full weights): an SFT step (16 x 112 tokens, forward and
backward, ``sparring.hf.sft.sft_step``), the same with a LoRA adapter (what align's demo trains),
scoring (the E-step's and the evaluation's forward-only log-probabilities) and sampling 16 x 48
tokens (eval-code's and the E-step's generation, ``sparring.hf.generation.generate``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, median_time, write_results  # noqa: E402
from sparring.precision import FP32, Precision, probe, time_matmul  # noqa: E402

# Targets from the foundation issue and TextGAN-PyTorch measured on the same 2-core CPU (fp32).
TARGETS = {"rollout_s": 4.0, "sample_10k_s": 4.0, "mle_epoch_s": 3.0, "d_epoch_s": 14.0}
TEXTGAN = {"rollout_s": 32.0, "sample_10k_s": 22.0, "mle_epoch_s": 4.4, "d_epoch_s": 21.0, "leakgan_adv_epoch_s": 32 * 60.0}
# bf16 / fp32 ratio targets of the precision issue
RATIO_TARGETS = {"d_epoch_s": 3.0, "sft_step_s": 2.0, "lora_step_s": 2.0, "generate_16x48_s": 1.5}
# (m, k, n) products: the probe's, a large one, the paper D's widest windows, and the LSTM generator's per-step products
MATMULS = {"1024x1024x1024": (1024, 1024, 1024), "4096x1024x1024": (4096, 1024, 1024), "paper_d_1280x1280x1720": (1280, 1280, 1720),
           "lstm_output_64x32x5000": (64, 32, 5000), "lstm_gates_64x32x128": (64, 32, 128)}  # fmt: skip
BF16 = Precision("bf16", "bf16", "cpu")


def gan_jobs(device: torch.device) -> tuple[dict, dict]:
    """(jobs, switch): each job runs one measure; ``switch(precision)`` sets the discriminators' precision."""
    from sparring.gans import leakgan
    from sparring.gans.corpus import Corpus
    from sparring.gans.engine import adam, build_discriminator, build_generator, discriminator_round, mle_epoch, sample
    from sparring.gans.rollout import monte_carlo_q, rollout_completions
    from sparring.kinds import build_config

    torch.manual_seed(0)
    cfg = build_config("seqgan", "paper", overrides={"precision": "fp32"})
    gen, disc = build_generator(cfg, 5000, device), build_discriminator(cfg, 5000, device)
    shape = Corpus(torch.zeros(1, 20, dtype=torch.long), torch.zeros(1, 20, dtype=torch.long), torch.zeros(1, 20, dtype=torch.long), 5000)
    seqs = sample(gen, 64, shape)
    real, fake = sample(gen, 10_000, shape), sample(gen, 10_000, shape)
    corpus = Corpus(real, real[:1000], real[1000:2000], 5000)
    g_opt, d_opt = adam(gen.parameters(), 1e-2), adam(disc.parameters(), 1e-4)
    # LeakGAN's paper configuration: adversarial step = one generator update with its rollouts, then D rounds.
    lk_cfg = build_config("leakgan", "paper", overrides={"precision": "fp32"})
    lk = leakgan.build_models(lk_cfg, 5000, device)
    lk_gen, lk_disc = lk["generator"], lk["discriminator"]
    lk_g_opt, lk_d_opt = adam(lk_gen.parameters(), 1e-3), adam(lk_disc.parameters(), 1e-4)
    lk_adv = lk_cfg.adversarial

    def leakgan_d_round():
        negatives = sample(lk_gen, lk_adv.n_negatives, corpus)
        discriminator_round(lk_disc, lk_d_opt, real, negatives, lk_adv.d_epochs, 64, 0.2)

    def switch(precision: Precision) -> None:
        disc.precision = lk_disc.precision = precision

    jobs = {
        **family_jobs(corpus, device),
        "rollout_s": lambda: rollout_completions(gen.params(), seqs, 16),
        "mc_search_s": lambda: monte_carlo_q(gen.params(), seqs, 16, disc.prob_real, score_completions=disc.prob_real_completions),
        "sample_10k_s": lambda: sample(gen, 10_000, shape),
        "mle_epoch_s": lambda: mle_epoch(gen, g_opt, corpus, 64, 5.0),
        "d_epoch_s": lambda: discriminator_round(disc, d_opt, real, fake, 1, 64, 0.2),
        "leakgan_g_step_s": lambda: leakgan.generator_update(lk_gen, lk_disc, corpus, lk_g_opt, lk_cfg),
        "leakgan_d_round_s": leakgan_d_round,
    }
    return jobs, {"switch": switch, "d_rounds": lk_adv.d_rounds, "d_epochs": lk_adv.d_epochs}


def family_jobs(corpus, device: torch.device) -> dict:
    """One generator update of each newer model at its demo settings (batch 64, length 20, 5,000 words),
    on the oracle's shape: the step each adversarial phase repeats (fp32: their networks are small)."""
    import torch.nn.functional as F

    from sparring.gans import cot, dpgan, gsgan, maskgan
    from sparring.gans.engine import adam, sample, sequence_logprob
    from sparring.gans.losses import (
        cot_generator_loss,
        dgsan_loss,
        gaussian_mmd2,
        jsd_weights,
        maskgan_actor_critic,
        novelty_returns,
        policy_gradient_loss,
    )
    from sparring.kinds import build_config

    def config(algo):
        return build_config(algo, "demo", overrides={"precision": "fp32"})

    def update(opt, loss):
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    relaxed = gsgan.build_models(config("gsgan"), 5000, device)
    r_gen, r_disc = relaxed["generator"], relaxed["discriminator"]
    r_opt = adam(r_gen.parameters(), 1e-3)
    real_one_hots = F.one_hot(corpus.train[:64], 5000).float()

    def textgan_step():
        _, fake = r_gen.relaxed_generate(64, 20, 100.0)
        real = r_disc.relaxed_features(real_one_hots).detach()
        update(r_opt, gaussian_mmd2(real, r_disc.relaxed_features(fake), (1.0, 2.0, 4.0, 8.0, 16.0)))

    def gsgan_step():
        _, fake = r_gen.relaxed_generate(64, 20, 10.0)
        update(r_opt, F.softplus(-gsgan.real_logit(r_disc, fake)).mean())

    c = cot.build_models(config("cot"), 5000, device)
    c_gen, mediator = c["generator"], c["mediator"]
    c_opt = adam(c_gen.parameters(), 1e-2)

    def cot_step():
        seqs = sample(c_gen, 64, corpus)
        with torch.no_grad():
            m_logits = mediator(seqs)
        update(c_opt, cot_generator_loss(c_gen(seqs), m_logits))

    d = dpgan.build_models(config("dpgan"), 5000, device)
    d_gen, lm = d["generator"], d["lm_discriminator"]
    d_opt = adam(d_gen.parameters(), 1e-2)

    def dpgan_step():
        seqs = sample(d_gen, 64, corpus)
        with torch.no_grad():
            q = novelty_returns(dpgan.token_nll(lm, seqs), None, 1.0)
        update(d_opt, policy_gradient_loss(d_gen(seqs), seqs, q))

    def jsdgan_step():
        logp = sequence_logprob(c_gen, corpus.train[:64], corpus)
        update(c_opt, (jsd_weights(logp) * logp).sum())

    def dgsan_batch():
        real, fake = corpus.train[:64], sample(mediator, 64, corpus)
        with torch.no_grad():
            old_real, old_fake = sequence_logprob(mediator, real, corpus), sequence_logprob(mediator, fake, corpus)
        update(c_opt, dgsan_loss(sequence_logprob(c_gen, real, corpus), old_real, sequence_logprob(c_gen, fake, corpus), old_fake))

    mg_cfg = config("maskgan")
    mg = maskgan.build_models(mg_cfg, 5000, device)
    mg_gen, mg_disc = mg["generator"], mg["discriminator"]
    mg_opt = adam(mg_gen.parameters(), 5e-4)

    def maskgan_step():
        mask, filled = maskgan.masked_batch(mg_gen, corpus.train[:64], mg_cfg.maskgan.mask_rate, None)
        d_logits, values = mg_disc(filled, mask)
        advantages, _, _ = maskgan_actor_critic(d_logits, values, mask, 0.89)
        update(mg_opt, -(advantages * mg_gen.token_logprobs(filled, mask)).sum() / mask.sum())

    return {"textgan_g_step_s": textgan_step, "gsgan_g_step_s": gsgan_step, "cot_g_step_s": cot_step, "dpgan_g_step_s": dpgan_step,
            "jsdgan_g_step_s": jsdgan_step, "dgsan_batch_s": dgsan_batch, "maskgan_g_step_s": maskgan_step}  # fmt: skip


def llm_jobs() -> tuple[dict, dict]:
    """SmolLM2's SFT step (full and LoRA), scoring and sampling; the precision is applied per call."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from peft import get_peft_model

    from sparring.hf.generation import generate, token_logprobs
    from sparring.hf.models import load_model_and_tokenizer, lora_config
    from sparring.hf.sft import sft_step

    model, tokenizer, _ = load_model_and_tokenizer("smollm2")
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 49_000, (16, 112), generator=gen)
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "target_mask": torch.ones_like(ids)}
    params = list(model.parameters())
    optimizer = torch.optim.AdamW(params, lr=0.0)  # lr 0: the weights stay the same from call to call
    lora = get_peft_model(load_model_and_tokenizer("smollm2")[0], lora_config(8, 16, 0.0, ("q_proj", "v_proj")))
    lora_params = [p for p in lora.parameters() if p.requires_grad]
    lora_opt = torch.optim.AdamW(lora_params, lr=0.0)
    prompts = [f"Write a Python function number {i} that adds two numbers." for i in range(16)]
    state = {"precision": FP32}

    def score():
        with torch.no_grad(), state["precision"].autocast():
            token_logprobs(model, batch)

    def sample_16x48():
        with state["precision"].autocast():
            generate(model, tokenizer, prompts, 48, 1.0, 1.0, 16, 0, raw=True)

    jobs = {
        "sft_step_s": lambda: sft_step(model, optimizer, params, [batch], 16 * 111, precision=state["precision"]),
        "lora_step_s": lambda: sft_step(lora, lora_opt, lora_params, [batch], 16 * 111, precision=state["precision"]),
        "score_16x112_s": score,
        "generate_16x48_s": sample_16x48,
    }
    return jobs, {"switch": lambda p: state.update(precision=p)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--lines", default="gans,llm", help="which lines' hot paths: gans, llm (comma-separated)")
    parser.add_argument("--only", default="", help="comma-separated measures to rerun (others are kept from speed.json)")
    parser.add_argument("--report", action="store_true", help="only rewrite speed.md (and the estimate) from speed.json")
    args = parser.parse_args()
    if args.report:
        data = json.loads((RESULTS / "speed.json").read_text())
        write(data, {"d_rounds": data.get("d_rounds", 5)})
        print((RESULTS / "speed.md").read_text())
        return
    device = torch.device(args.device)
    only = set(args.only.split(",")) if args.only else None
    partial = bool(args.only) or args.lines != "gans,llm"
    previous = json.loads((RESULTS / "speed.json").read_text()) if partial and (RESULTS / "speed.json").exists() else {}
    data: dict = {**previous, "repeats": args.repeats, "device": str(device), "machine": machine()}
    data.setdefault("bf16", {})
    data.setdefault("ratio", {})
    data.setdefault("runs", {})
    data["probe"] = probe(str(device))

    peaks = {}
    for name, (m, k, n) in MATMULS.items():
        fp32_s, bf16_s = time_matmul(torch.float32, (m, k, n), 7), time_matmul(torch.bfloat16, (m, k, n), 7)
        flops = 2.0 * m * k * n
        peak = {"fp32_gflops": round(flops / fp32_s / 1e9, 1), "bf16_gflops": round(flops / bf16_s / 1e9, 1)}
        peak["ratio"] = round(fp32_s / bf16_s, 2)
        peaks[name] = peak
        print(f"matmul {name:26s} fp32 {peak['fp32_gflops']:7.1f} GFLOP/s  bf16 {peak['bf16_gflops']:7.1f}  x{peak['ratio']}", flush=True)
    data["matmul"] = peaks

    groups = []
    lines = args.lines.split(",")
    if "gans" in lines:
        groups.append(gan_jobs(device))
    if "llm" in lines:
        groups.append(llm_jobs())
    for jobs, extra in groups:
        for key, job in jobs.items():
            if only is not None and key not in only:
                continue
            repeats = args.repeats if not key.startswith("leakgan_d") else max(1, args.repeats // 2)
            times = {}
            for name, precision in (("fp32", FP32), ("bf16", BF16)):
                extra["switch"](precision)
                times[name], runs = median_time(job, repeats)
                data["runs"][f"{key}:{name}"] = runs
            data[key], data["bf16"][key] = times["fp32"], times["bf16"]
            data["ratio"][key] = round(times["fp32"] / times["bf16"], 2)
            data.setdefault("measured_on", {})[key] = time.strftime("%Y-%m-%d")
            print(f"{key:18s} fp32 {times['fp32']:8.3f} s  bf16 {times['bf16']:8.3f} s  x{data['ratio'][key]:.2f}", flush=True)
            write(data, extra)
        extra["switch"](FP32)
    write(data, {})
    print(f"wrote {RESULTS / 'speed.md'} and {RESULTS / 'speed.json'}")


def paper_schedule_hours(times: dict) -> float | None:
    """SeqGAN's ``paper`` schedule on the length-20 oracle from measured step times, in hours:
    120 MLE epochs; 50 D pre-training rounds of 10,000 fresh samples and 3 D epochs; 200
    adversarial steps of one Monte Carlo search (16 rollouts) and 5 D rounds of 3 epochs each.
    (Evaluations every 5 MLE epochs and 10 adversarial steps add a few minutes, not counted.)"""
    needed = ("mle_epoch_s", "sample_10k_s", "d_epoch_s", "mc_search_s")
    if not all(k in times for k in needed):
        return None
    d_round = times["sample_10k_s"] + 3 * times["d_epoch_s"]
    seconds = 120 * times["mle_epoch_s"] + 50 * d_round + 200 * (times["mc_search_s"] + 5 * d_round)
    return round(seconds / 3600, 1)


def write(data: dict, extra: dict) -> None:
    """speed.json and speed.md from what is measured so far."""
    data["paper_schedule_hours"] = {"fp32": paper_schedule_hours(data), "bf16": paper_schedule_hours({**data, **data["bf16"]})}
    if "leakgan_g_step_s" in data and "leakgan_d_round_s" in data and "d_rounds" in extra:
        # one adversarial epoch as TextGAN-PyTorch counts it: a generator step, then d_rounds D rounds
        data["d_rounds"] = extra["d_rounds"]
        for target in (data, data["bf16"]):
            if "leakgan_d_round_s" in target:
                target["leakgan_adv_epoch_s"] = target["leakgan_g_step_s"] + extra["d_rounds"] * target["leakgan_d_round_s"]
        data["ratio"]["leakgan_adv_epoch_s"] = round(data["leakgan_adv_epoch_s"] / data["bf16"]["leakgan_adv_epoch_s"], 2)
    rows = []
    for key, ratio in data["ratio"].items():
        target, ratio_target = TARGETS.get(key), RATIO_TARGETS.get(key)
        rows.append([
            key, f"{data[key]:.2f}", f"{data['bf16'][key]:.2f}", f"{ratio:.2f}",
            f"{ratio_target:.1f}x ({'met' if ratio >= ratio_target else 'not met'})" if ratio_target else "-",
            f"{target:.0f}" if target else "-", f"{TEXTGAN[key]:.1f}" if key in TEXTGAN else "-",
        ])  # fmt: skip
    peaks = [
        f"{name}: fp32 {p['fp32_gflops']} GFLOP/s, bf16 {p['bf16_gflops']} GFLOP/s ({p['ratio']}x)"
        for name, p in data.get("matmul", {}).items()
    ]
    dates: dict[str, list[str]] = {}
    for key, day in data.get("measured_on", {}).items():
        dates.setdefault(day, []).append(key)
    when = [f"Measured on {day}: {', '.join(keys)}." for day, keys in sorted(dates.items())] if len(dates) > 1 else []
    write_results(
        "speed",
        data,
        ["measure", "fp32 (s, median)", "bf16 (s, median)", "fp32 / bf16", "bf16 target", "fp32 target (s)", "TextGAN-PyTorch (s)"],
        rows,
        [
            f"Machine: {data['machine']}; device {data['device']}; median of {data['repeats']} runs after one warm-up,",
            "both precisions in one run.",
            f"Probe (what precision=auto reads): {data.get('probe')}.",
            "Matrix products on this machine (best of 7), the floor each figure is read against:",
            *[f"- {line}" for line in peaks],
            "GAN rows: rollout_s, sample_10k_s and mle_epoch_s run the fp32 LSTM generator in both columns (the same code: its",
            "products, 64x32x128 and 64x32x5000 per step, are too small for the bf16 units, see the matmul rows); mc_search_s,",
            "d_epoch_s are where the bf16 discriminator acts. d_epoch_s: 20,000 sequences, batch 64, the paper discriminator",
            "(1,720 filters, widths 1-20, highway). The LeakGAN rows put LeakGAN's 300-filter D in bf16 by hand, to show why a",
            "run keeps a discriminator under 1,000 filters in fp32. leakgan_adv_epoch_s = g step + d_rounds D rounds.",
            "LLM rows (SmolLM2-135M-Instruct): sft_step_s 16 x 112 tokens forward and backward with AdamW (full weights);",
            "lora_step_s the same with a rank-8 q,v adapter (align's demo); score_16x112_s forward-only log-probabilities",
            "(E-step scoring); generate_16x48_s sampling 48 tokens for 16 prompts (eval-code, E-step). Log-probabilities are",
            "float32 in both columns (the output layer runs in fp32 under bf16).",
            "The newer family's rows (textgan_g_step_s ... maskgan_g_step_s) are one generator update of each at its demo",
            "settings; their networks are fp32 in both columns (below 1,000 filters, or LSTMs), so their ratio is the noise.",
            *when,
            "SeqGAN's paper schedule on the length-20 oracle, estimated from these rows (120 MLE epochs, 50 D pre-training rounds,",
            f"200 adversarial steps with 5 D rounds of 3 epochs): {data['paper_schedule_hours']['fp32']} h in fp32, "
            f"{data['paper_schedule_hours']['bf16']} h in bf16 on this machine.",
        ],
    )


if __name__ == "__main__":
    main()
