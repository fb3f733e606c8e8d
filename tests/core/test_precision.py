"""The ``precision`` setting: how auto resolves (the probe mocked both ways), bad values, fp32 runs
that execute no autocast at all, and bf16 runs of each line that train, resume exactly, repeat
with the same seed and evaluate in float32."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from code_fixtures import build_tiny_code_llm, write_tiny_mbpp
from conftest import TINY
from llm_fixtures import TINY as TINY_ALIGN
from llm_fixtures import build_tiny_llm
from sparring import precision as precision_module
from sparring.checkpoints import Checkpoints
from sparring.cli import main
from sparring.errors import UserError
from sparring.gans.models.cnn_discriminator import CNNDiscriminator
from sparring.precision import FP32, Precision, cpu_flags, full_precision, resolve_precision

FAST = {"device": "cpu", "bf16_units": True, "bf16_faster": True, "bf16_speedup": 2.5}
SLOW = {"device": "cpu", "bf16_units": True, "bf16_faster": False, "bf16_speedup": 1.0}


# ---- resolving --------------------------------------------------------------------------------


@pytest.mark.parametrize(("probe", "expected"), [(FAST, "bf16"), (SLOW, "fp32")])
def test_auto_is_bf16_only_where_the_probe_measured_bf16_faster(monkeypatch, probe, expected):
    monkeypatch.setattr(precision_module, "probe", lambda device="cpu": probe)
    resolved = resolve_precision("auto", "cpu")
    assert resolved.name == expected and resolved.requested == "auto"
    record = resolved.record("the discriminator")
    assert record["precision"] == expected and record["precision_probe"] == probe
    assert record["precision_scope"] == ("the discriminator" if expected == "bf16" else "everything in fp32")


def test_explicit_choices_win_and_fp32_never_probes(monkeypatch):
    def no_probe(device="cpu"):
        raise AssertionError("fp32 must not probe")

    monkeypatch.setattr(precision_module, "probe", no_probe)
    assert resolve_precision("fp32", "cpu").name == "fp32"
    monkeypatch.setattr(precision_module, "probe", lambda device="cpu": SLOW)
    assert resolve_precision("bf16", "cpu").name == "bf16"  # asked for: run it, even where it is slow


def test_bf16_on_a_gpu_without_it_is_one_line(monkeypatch):
    no_bf16 = {"device": "cuda", "bf16_units": False, "bf16_faster": False, "gpu": "OldGPU"}
    monkeypatch.setattr(precision_module, "probe", lambda device="cpu": no_bf16)
    with pytest.raises(UserError, match="OldGPU has no bf16"):
        resolve_precision("bf16", "cuda")
    assert resolve_precision("auto", "cuda").name == "fp32"
    assert resolve_precision("auto", "cuda:0").device_type == "cuda"


def test_a_cpu_without_bf16_flags_is_fp32_without_timing(monkeypatch):
    monkeypatch.setattr(precision_module, "cpu_flags", lambda: {"avx2", "fma"})
    monkeypatch.setattr(precision_module, "time_matmul", lambda *a, **k: pytest.fail("no bf16 flag: nothing to time"))
    found = precision_module.probe.__wrapped__("cpu")
    assert found["bf16_units"] is False and found["bf16_faster"] is False and found["cpu_bf16_flags"] == []


def test_the_probe_times_both_products_and_needs_a_clear_win(monkeypatch):
    monkeypatch.setattr(precision_module, "cpu_flags", lambda: {"avx512_bf16", "avx512f"})
    times = {torch.float32: 0.010, torch.bfloat16: 0.008}  # 1.25x: not enough
    monkeypatch.setattr(precision_module, "time_matmul", lambda dtype, *a, **k: times[dtype])
    found = precision_module.probe.__wrapped__("cpu")
    assert found["bf16_speedup"] == 1.25 and found["bf16_faster"] is False and found["cpu_bf16_flags"] == ["avx512_bf16"]
    times[torch.bfloat16] = 0.004  # 2.5x
    found = precision_module.probe.__wrapped__("cpu")
    assert found["bf16_faster"] is True and found["bf16_gflops"] == pytest.approx(found["fp32_gflops"] * 2.5, rel=0.01)


def test_cpu_flags_reads_the_flags_line(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512_bf16 amx_tile\n")
    assert {"avx512_bf16", "amx_tile", "sse2"} <= cpu_flags(info)
    assert cpu_flags(tmp_path / "missing") == set()


COMMANDS = [["train", "seqgan", "--preset", "smoke"], ["align", "--preset", "smoke"], ["ra3", "--preset", "smoke"], ["eval-code"]]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_bad_precision_is_one_line_exit_2_and_no_run(tmp_path, capsys, command):
    out = tmp_path / "run"
    assert main([*command, "--set", "precision=fp16", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'precision'" in err and "fp32" in err, err
    assert not out.exists()


# ---- regions ----------------------------------------------------------------------------------


def test_full_precision_turns_autocast_off_inside_a_bf16_region():
    a, b = torch.randn(8, 8), torch.randn(8, 8)
    with Precision("bf16", "bf16", "cpu").autocast():
        assert (a @ b).dtype == torch.bfloat16
        with full_precision():
            assert torch.equal(a @ b, a @ b) and (a @ b).dtype == torch.float32
    with FP32.autocast():
        assert (a @ b).dtype == torch.float32


def _paper_like_d() -> CNNDiscriminator:
    torch.manual_seed(0)
    return CNNDiscriminator(50, 16, (1, 2, 3, 5), (20, 30, 30, 20), 0.0)


def test_the_bf16_discriminator_returns_float32_logits_close_to_fp32_and_full_precision_is_exact():
    disc = _paper_like_d()
    tokens = torch.randint(0, 50, (12, 8))
    exact = disc(tokens)
    disc.precision = Precision("bf16", "bf16", "cpu")
    mixed = disc(tokens)
    assert mixed.dtype == torch.float32 and not torch.equal(mixed, exact)
    assert torch.allclose(mixed, exact, atol=0.05)
    with disc.full_precision():
        assert torch.equal(disc(tokens), exact)
    assert disc.bf16  # restored
    mixed.sum().backward()
    assert all(p.grad is None or p.grad.dtype == torch.float32 for p in disc.parameters())  # master weights stay fp32


def test_bf16_scoring_of_completions_agrees_with_scoring_them_whole():
    disc = _paper_like_d()
    disc.precision = Precision("bf16", "bf16", "cpu")
    seqs = torch.randint(0, 50, (3, 8))
    completions = seqs.expand(2, 4, 3, 8).clone()
    completions[0, :, :, 3:] = torch.randint(0, 50, (4, 3, 5))
    completions[1, :, :, 6:] = torch.randint(0, 50, (4, 3, 2))
    shared = disc.prob_real_completions(seqs, completions, [3, 6])
    whole = disc.prob_real(completions.reshape(-1, 8)).view(2, 4, 3)
    assert shared.dtype == torch.float32 and torch.allclose(shared, whole, atol=0.02)


# ---- whole runs -------------------------------------------------------------------------------


def _rows(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    timing = ("elapsed_s", "step_time", "d_seconds", "d_share")  # clocks, not results
    return [{k: v for k, v in r.items() if k not in timing} for r in rows]


def _gan(out: Path, precision: str, *extra: str) -> int:
    sets = sum((["--set", s] for s in [*TINY, f"precision={precision}"]), [])
    return main(["train", "seqgan", "--preset", "smoke", "--seed", "3", "--out", str(out), *sets, *extra])


def test_an_fp32_run_executes_no_autocast_region(tmp_path, monkeypatch):
    """fp32 is the code path of before this setting existed: nothing in it enters torch.autocast."""

    def refuse(*args, **kwargs):
        raise AssertionError("autocast entered in an fp32 run")

    monkeypatch.setattr(torch, "autocast", refuse)
    assert _gan(tmp_path / "fp32", "fp32") == 0
    summary = json.loads((tmp_path / "fp32" / "summary.json").read_text())
    assert summary["precision"] == "fp32" and summary["precision_requested"] == "fp32"


@pytest.fixture(scope="module")
def gan_bf16(tmp_path_factory):
    out = tmp_path_factory.mktemp("bf16") / "uninterrupted"
    assert _gan(out, "bf16") == 0
    return out


def test_a_bf16_gan_run_records_it_and_repeats_with_the_same_seed(gan_bf16, tmp_path):
    summary = json.loads((gan_bf16 / "summary.json").read_text())
    assert summary["precision"] == "bf16" and "discriminator" in summary["precision_scope"]
    assert _gan(tmp_path / "again", "bf16") == 0
    assert _rows(tmp_path / "again") == _rows(gan_bf16)


def test_a_bf16_gan_run_killed_in_d_pretraining_resumes_exactly(gan_bf16, tmp_path, monkeypatch):
    from sparring.gans.session import Session

    real_save, calls = Session.save, {"n": 0}

    def crashing_save(self):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("simulated crash")
        real_save(self)

    monkeypatch.setattr(Session, "save", crashing_save)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _gan(tmp_path / "crashed", "bf16")
    monkeypatch.setattr(Session, "save", real_save)
    assert _gan(tmp_path / "crashed", "bf16", "--resume") == 0
    assert _rows(tmp_path / "crashed") == _rows(gan_bf16)
    # the precision is a setting: resuming in another one is refused, as any other changed setting
    assert _gan(tmp_path / "crashed", "fp32", "--resume") == 2


def test_resuming_an_auto_run_where_auto_resolves_otherwise_is_refused(tmp_path, monkeypatch, capsys):
    out = tmp_path / "auto"
    monkeypatch.setattr(precision_module, "probe", lambda device="cpu": FAST)
    assert _gan(out, "auto") == 0
    config = json.loads((out / "config.json").read_text())
    assert config["precision"] == "auto" and config["precision_ran"] == "bf16"
    (out / "summary.json").unlink()  # as if it had been cut before the end
    monkeypatch.setattr(precision_module, "probe", lambda device="cpu": SLOW)  # another machine: auto is fp32 there
    capsys.readouterr()
    assert _gan(out, "auto", "--resume") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "ran precision=auto as bf16" in err and "resolves to fp32" in err, err


def test_a_bf16_align_run_trains_repeats_and_evaluates_in_fp32(tmp_path):
    model = build_tiny_llm(tmp_path / "tiny")
    args = ["align", "--model", str(model), "--task", "imitation", "--preset", "smoke", *TINY_ALIGN, "--set", "precision=bf16"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    assert _rows(tmp_path / "a") == _rows(tmp_path / "b")
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["precision"] == "bf16" and "evaluation in fp32" in summary["precision_scope"]
    for name in ("before", "after"):
        assert 0 <= summary["evaluation"][name]["c2st_acc"] <= 1


def test_after_trl_bf16_training_the_model_forward_is_float32_again():
    from accelerate import Accelerator

    from sparring.hf.grpo import full_precision_forward

    torch.manual_seed(0)
    model = torch.nn.Linear(8, 8)
    x = torch.randn(4, 8)
    exact = model(x)
    wrapped = Accelerator(cpu=True, mixed_precision="bf16").prepare(model)
    assert not torch.equal(wrapped(x), exact)  # accelerate's autocast wrapper is on
    full_precision_forward(wrapped)
    assert torch.equal(wrapped(x), exact)


def test_a_bf16_ra3_run_killed_mid_way_resumes_exactly_and_repeats(tmp_path, monkeypatch):
    model_dir, mbpp = build_tiny_code_llm(tmp_path / "model"), write_tiny_mbpp(tmp_path / "mbpp.json")
    args = ["ra3", "--preset", "smoke", "--model", str(model_dir), "--mbpp-file", str(mbpp), "--set", "checkpoint_every=1",
            "--set", "precision=bf16"]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    summary = json.loads((tmp_path / "whole" / "summary.json").read_text())
    assert summary["precision"] == "bf16" and "E-step" in summary["precision_scope"]

    real_save, calls = Checkpoints.save, [0]

    def crashing_save(self, *a, **k):
        calls[0] += 1
        if calls[0] == 2:  # inside the M-step
            raise KeyboardInterrupt
        return real_save(self, *a, **k)

    monkeypatch.setattr(Checkpoints, "save", crashing_save)
    assert main([*args, "--out", str(tmp_path / "cut")]) == 130
    monkeypatch.undo()
    assert main([*args, "--out", str(tmp_path / "cut"), "--resume"]) == 0
    assert _rows(tmp_path / "cut") == _rows(tmp_path / "whole")


def test_only_a_wide_discriminator_runs_in_bf16():
    """Measured (bench/speed.py): the paper's 1,720 filters gain in bf16, LeakGAN's 300 lose; below
    BF16_MIN_FILTERS the discriminator of a bf16 run stays fp32, and the summary says so."""
    from sparring.gans.engine import BF16_MIN_FILTERS, build_discriminator
    from sparring.kinds import build_config

    wide = build_discriminator(build_config("seqgan", "paper", overrides={"precision": "bf16"}), 50, torch.device("cpu"))
    narrow = build_discriminator(build_config("seqgan", "demo", overrides={"precision": "bf16"}), 50, torch.device("cpu"))
    assert wide.feature_dim >= BF16_MIN_FILTERS > narrow.feature_dim
    assert wide.bf16 and not narrow.bf16
    assert not build_discriminator(build_config("seqgan", "paper", overrides={"precision": "fp32"}), 50, torch.device("cpu")).bf16


def test_a_bf16_gan_run_whose_discriminator_stays_fp32_records_fp32(tmp_path):
    """The demo's D (300 filters) is under BF16_MIN_FILTERS: the run asked for bf16, ran fp32, and says both."""
    out = tmp_path / "run"
    narrow = ["--set", "discriminator.filter_sizes=2,3", "--set", "discriminator.num_filters=100,200"]
    assert main(["train", "seqgan", "--preset", "smoke", *narrow, "--set", "precision=bf16", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["precision"] == "fp32" and summary["precision_resolved"] == "bf16"
    assert summary["precision_requested"] == "bf16" and "stays fp32" in summary["precision_scope"]


def test_bf16_rlvr_trains_with_trls_switch_and_repeats(tmp_path):
    """RLVR's GRPO in bf16 (TRL's own switch) and its critic under autocast: a run, and the same run again."""
    model_dir, mbpp = build_tiny_code_llm(tmp_path / "model"), write_tiny_mbpp(tmp_path / "mbpp.json")
    args = ["rlvr", "--preset", "smoke", "--model", str(model_dir), "--mbpp-file", str(mbpp), "--set", "precision=bf16"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    assert _rows(tmp_path / "a") == _rows(tmp_path / "b")
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["precision"] == "bf16" and "GRPO" in summary["precision_scope"]


def test_eval_code_generates_in_bf16_and_records_it(tmp_path):
    model_dir, mbpp = build_tiny_code_llm(tmp_path / "model"), write_tiny_mbpp(tmp_path / "mbpp.json")
    argv = ["eval-code", "--model", str(model_dir), "--benchmark", "mbpp", "--mbpp-file", str(mbpp), "--n", "2", "--k", "1,2",
            "--max-new-tokens", "8", "--temperature", "0.8"]  # fmt: skip
    results = {}
    for precision in ("fp32", "bf16", "bf16"):
        out = tmp_path / f"{precision}-{len(results)}"
        assert main([*argv, "--set", f"precision={precision}", "--out", str(out)]) == 0
        results[out.name] = [json.loads(line)["completion"] for line in (out / "results.jsonl").read_text().splitlines()]
        assert json.loads((out / "summary.json").read_text())["precision"] == precision
    assert results["bf16-1"] == results["bf16-2"]  # same seed, same precision: the same completions
