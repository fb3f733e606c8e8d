"""RA3 and its NTP baseline: the latent bookkeeping and reward by hand, E/M smoke runs on a tiny model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers")

from code_fixtures import build_tiny_code_llm, write_tiny_mbpp  # noqa: E402
from sparring.checkpoints import Checkpoints  # noqa: E402
from sparring.cli import main  # noqa: E402
from sparring.code import estep, midtraining  # noqa: E402
from sparring.code.latents import (  # noqa: E402
    Document,
    assemble,
    choose_latent,
    code_char_mask,
    comment_line,
    full_elbo,
    latent_positions,
    temporal_elbo,
    think_reward,
)
from sparring.hf.generation import encode_with_char_mask, token_logprobs  # noqa: E402
from sparring.hf.models import load_model_and_tokenizer  # noqa: E402
from sparring.kinds import build_config  # noqa: E402
from sparring.rl.advantages import group_advantages  # noqa: E402

DOC = Document.from_code('"""\nsum evens\n"""\n', "def f(xs):\n    total = 0\n\n    for x in xs:\n        total += x\n    return total")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("ra3")
    return build_tiny_code_llm(root / "model"), write_tiny_mbpp(root / "mbpp.json")


def test_positions_comments_and_masks() -> None:
    assert latent_positions(DOC) == [0, 1, 3, 4, 5]  # the blank line gets no thought
    comment = comment_line(DOC, 4, " add it\njunk")
    assert comment == "        # add it"
    text = assemble(DOC, {4: comment})
    assert text.endswith("    for x in xs:\n        # add it\n        total += x\n    return total\n")
    mask = code_char_mask(DOC, {4: comment}, include_comments=False)
    assert len(mask) == len(text)
    assert "".join(c for c, m in zip(text, mask, strict=True) if m) == assemble(DOC, {})[len(DOC.header) :]
    with_comments = code_char_mask(DOC, {4: comment}, include_comments=True)
    assert "".join(c for c, m in zip(text, with_comments, strict=True) if m) == text[len(DOC.header) :]


def test_reward_advantages_choice_and_elbo_by_hand() -> None:
    assert think_reward(-3.0, -5.0, 0.05) == pytest.approx(1.95)
    adv = group_advantages(torch.tensor([[1.0, 3.0], [2.0, 2.0]]))
    assert adv[0].tolist() == pytest.approx([-1 / (1 + 1e-4), 1 / (1 + 1e-4)]) and adv[1].tolist() == [0.0, 0.0]
    assert choose_latent([-0.2, 0.4, 0.1]) == 1 and choose_latent([-0.2, -0.01]) is None
    assert temporal_elbo(-20.0, 2, 0.5, 10) == pytest.approx(-2.1)
    assert temporal_elbo(-20.0, 0, 0.5, 10) == pytest.approx(-2.0)  # no thoughts: the NTP log-likelihood


def test_shuffled_batches_cover_each_epoch_once() -> None:
    import random

    stream = midtraining.shuffled_batches(5, 2, random.Random(0))
    epoch = [next(stream) for _ in range(3)]
    assert sorted(i for batch, _ in epoch for i in batch) == [0, 1, 2, 3, 4]
    assert [last for _, last in epoch] == [False, False, True]


def _full_logits_logprob(model, tokenizer, text: str, start: int) -> float:
    """Sum of log p over the tokens starting at or after ``start``, one token at a time from full logits."""
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = torch.tensor([enc["input_ids"]])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0]
    total = 0.0
    for i in range(1, ids.shape[1]):
        if enc["offset_mapping"][i][0] >= start:
            total += float(torch.log_softmax(logits[i - 1].double(), dim=-1)[ids[0, i]])
    return total


def test_ra3_reward_equals_hand_computed_gain_minus_cost(tiny: tuple[Path, Path]) -> None:
    model, tokenizer, _ = load_model_and_tokenizer(str(tiny[0]))
    model.eval()
    cfg = build_config("ra3", "smoke", None, ["estep.horizon=2", "estep.think_cost=0.05"])
    docs, t = [DOC], 3
    continuations = [[" loop over the numbers", ""]]
    rewards = estep.think_rewards(model, tokenizer, docs, [(0, t)], continuations, cfg)
    prefix = assemble(DOC, {}, upto=t)
    target = "    for x in xs:\n        total += x\n"
    without = _full_logits_logprob(model, tokenizer, prefix + target, len(prefix))
    for j, continuation in enumerate(continuations[0]):
        context = prefix + "    #" + continuation + "\n"
        with_comment = _full_logits_logprob(model, tokenizer, context + target, len(context))
        assert float(rewards[0, j]) == pytest.approx(with_comment - without - 0.05, abs=1e-4)


def test_full_elbo_terms_equal_hand_computed_logprobs(tiny: tuple[Path, Path]) -> None:
    """log p(x, z) of the annotated document and log q(z | x) of the chosen comment, token by token."""
    model, tokenizer, _ = load_model_and_tokenizer(str(tiny[0]))
    model.eval()
    cfg = build_config("ra3", "smoke")
    comment = comment_line(DOC, 3, " loop over the numbers")
    joint, _ = estep.code_logprob(model, tokenizer, [DOC], [{3: comment}], cfg, with_comments=True)
    text = assemble(DOC, {3: comment})
    assert joint == pytest.approx(_full_logits_logprob(model, tokenizer, text, len(DOC.header)), abs=1e-4)
    log_q = estep.chosen_logprob(model, tokenizer, [DOC], [((0, 3), " loop over the numbers")], cfg)
    prompt = estep.proposal_prompt(DOC, 3)
    assert prompt.endswith("    #")
    assert log_q == pytest.approx(_full_logits_logprob(model, tokenizer, prompt + " loop over the numbers\n", len(prompt)), abs=1e-4)
    _, n_code = estep.code_logprob(model, tokenizer, [DOC], [{3: comment}], cfg)
    assert full_elbo(joint, log_q, n_code) == pytest.approx((joint - log_q) / n_code)
    plain, _ = estep.code_logprob(model, tokenizer, [DOC], [{}], cfg, with_comments=True)
    assert full_elbo(plain, 0.0, n_code) == pytest.approx(plain / n_code)  # no thoughts: the NTP log-likelihood


def test_head_only_logprobs_match_full_logits(tiny: tuple[Path, Path]) -> None:
    model, tokenizer, _ = load_model_and_tokenizer(str(tiny[0]))
    texts = ["def add(a, b):\n    return a + b\n", "x = 1\n"]
    masks = [[i >= 4 for i in range(len(t))] for t in texts]
    batch = encode_with_char_mask(tokenizer, texts, masks, 64)
    with torch.no_grad():
        fast, mask = token_logprobs(model, batch)
    for row, text in enumerate(texts):
        assert float(fast[row].sum()) == pytest.approx(_full_logits_logprob(model, tokenizer, text, 4), abs=1e-4)
    assert mask.shape == fast.shape


def test_ra3_smoke_then_ntp_at_the_same_token_budget(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    model_dir, mbpp = tiny
    common = ["--preset", "smoke", "--model", str(model_dir), "--mbpp-file", str(mbpp)]
    assert main(["ra3", *common, "--out", str(tmp_path / "ra3")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "ra3" / "metrics.jsonl").read_text().splitlines()]
    estep = [r for r in rows if r["phase"] == "estep"]
    em = [r for r in rows if r["phase"] == "em"]
    assert len(estep) == 1 and len(em) == 1
    assert all(math.isfinite(estep[0][k]) for k in ("reward_mean", "gain_mean", "think_rate", "kl", "loss"))
    for key in ("elbo_per_token", "ntp_logp_per_token", "think_rate", "gain_mean", "comment_chars_mean"):
        assert math.isfinite(em[0][key])
    annotated = [json.loads(line) for line in (tmp_path / "ra3" / "annotated" / "iter-1.jsonl").read_text().splitlines()]
    assert [a["task_id"] for a in annotated] == ["Mbpp/601", "Mbpp/602", "Mbpp/603"]  # the training ids only
    summary = json.loads((tmp_path / "ra3" / "summary.json").read_text())
    assert summary["tokens_trained"] == em[0]["tokens_trained"] > 0
    cfg = build_config("ra3", "smoke", None, [f"data.mbpp_file={mbpp}"])
    _, docs = midtraining.expert_documents(cfg)
    _, tokenizer, _ = load_model_and_tokenizer(str(model_dir))
    plain = encode_with_char_mask(tokenizer, [assemble(d, {}) for d in docs], [code_char_mask(d, {}, False) for d in docs], 256)
    assert em[0]["mstep_tokens"] >= int(plain["target_mask"][:, 1:].sum())  # every document once (and its comments)
    assert (tmp_path / "ra3" / "curves.png").stat().st_size > 0
    before, _, _ = load_model_and_tokenizer(str(model_dir))
    after, _, _ = load_model_and_tokenizer(str(tmp_path / "ra3"))  # a run directory is a --model
    assert any(not torch.equal(a, b) for a, b in zip(before.state_dict().values(), after.state_dict().values(), strict=True))

    assert main(["ntp", *common, "--match", str(tmp_path / "ra3"), "--out", str(tmp_path / "ntp")]) == 0
    ntp = json.loads((tmp_path / "ntp" / "summary.json").read_text())
    assert ntp["token_budget"] == summary["tokens_trained"] <= ntp["tokens_trained"]
    assert ntp["tokens_trained"] - summary["tokens_trained"] < 2 * 256  # overshoots by less than one batch


def _rows(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in rows]


def _crash_at_save(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """The n-th checkpoint write of the run raises KeyboardInterrupt instead (a kill at that phase boundary)."""
    real_save, calls = Checkpoints.save, [0]

    def crashing_save(self, *a, **k):  # noqa: ANN001, ANN002, ANN003
        calls[0] += 1
        if calls[0] == n:
            raise KeyboardInterrupt
        return real_save(self, *a, **k)

    monkeypatch.setattr(Checkpoints, "save", crashing_save)


@pytest.fixture(scope="module")
def uninterrupted(tiny: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    model_dir, mbpp = tiny
    root = tmp_path_factory.mktemp("uninterrupted")
    common = ["--preset", "smoke", "--model", str(model_dir), "--mbpp-file", str(mbpp), "--set", "checkpoint_every=1"]
    assert main(["ra3", *common, "--set", "iterations=2", "--out", str(root / "ra3")]) == 0
    assert main(["ntp", *common, "--set", "iterations=2", "--out", str(root / "ntp")]) == 0
    return {"ra3": root / "ra3", "ntp": root / "ntp"}


# The checkpoint writes of a two-iteration smoke run: 1 E-step (1), M-step SFT steps (2, 3), EM (4),
# then the same for iteration 2 (5-8). A kill before each is a kill at that phase boundary.
@pytest.mark.parametrize("crash_at", [1, 3, 4, 5, 6, 8], ids=lambda n: f"save-{n}")
def test_ra3_killed_at_a_phase_boundary_resumes_to_the_same_run(
    tiny: tuple[Path, Path], uninterrupted: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash_at: int
) -> None:
    model_dir, mbpp = tiny
    args = ["ra3", "--preset", "smoke", "--model", str(model_dir), "--mbpp-file", str(mbpp), "--set", "iterations=2",
            "--set", "checkpoint_every=1", "--out", str(tmp_path / "r")]
    _crash_at_save(monkeypatch, crash_at)
    assert main(args) == 130  # interrupted
    monkeypatch.undo()
    assert not (tmp_path / "r" / "summary.json").exists()
    assert main([*args, "--resume"]) == 0
    assert _rows(tmp_path / "r") == _rows(uninterrupted["ra3"])
    done = json.loads((tmp_path / "r" / "summary.json").read_text())
    expected = json.loads((uninterrupted["ra3"] / "summary.json").read_text())
    assert {k: v for k, v in done.items() if "time" not in k} == {k: v for k, v in expected.items() if "time" not in k}


def test_a_changed_setting_is_refused_on_resume_and_a_finished_run_is_left_alone(
    tiny: tuple[Path, Path], uninterrupted: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    model_dir, mbpp = tiny
    args = ["ra3", "--preset", "smoke", "--model", str(model_dir), "--mbpp-file", str(mbpp), "--set", "iterations=2",
            "--set", "checkpoint_every=1", "--resume", "--out", str(uninterrupted["ra3"])]
    capsys.readouterr()
    assert main([*args, "--think-cost", "0.2"]) == 2  # a changed flag is refused
    err = capsys.readouterr().err
    assert "estep.think_cost" in err and len(err.strip().splitlines()) == 1, err
    before = (uninterrupted["ra3"] / "metrics.jsonl").read_text()
    assert main(args) == 0
    assert "already complete" in capsys.readouterr().err
    assert (uninterrupted["ra3"] / "metrics.jsonl").read_text() == before


def test_ntp_killed_mid_way_continues_from_its_checkpoint(
    tiny: tuple[Path, Path], uninterrupted: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_dir, mbpp = tiny
    args = ["ntp", "--preset", "smoke", "--model", str(model_dir), "--mbpp-file", str(mbpp), "--set", "iterations=2",
            "--set", "checkpoint_every=1", "--out", str(tmp_path / "n")]
    _crash_at_save(monkeypatch, 3)  # after two optimiser steps of four
    assert main(args) == 130
    monkeypatch.undo()
    trained_before = [r["sft_step"] for r in _rows(tmp_path / "n")]
    assert trained_before == [1, 2, 3]  # step 3 was logged, its checkpoint never written
    assert main([*args, "--resume"]) == 0
    assert _rows(tmp_path / "n") == _rows(uninterrupted["ntp"])
    assert json.loads((tmp_path / "n" / "config.json").read_text())["sft_epochs"] == 2  # what ran: iterations x mstep.epochs


def test_a_torn_newest_checkpoint_resumes_from_the_previous_one(
    tiny: tuple[Path, Path], uninterrupted: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model_dir, mbpp = tiny
    args = ["ntp", "--preset", "smoke", "--model", str(model_dir), "--mbpp-file", str(mbpp), "--set", "iterations=2",
            "--set", "checkpoint_every=1", "--out", str(tmp_path / "n")]
    _crash_at_save(monkeypatch, 4)
    assert main(args) == 130
    monkeypatch.undo()
    newest = tmp_path / "n" / "checkpoints" / "sft" / "step-3" / "optimizer.pt"
    newest.write_bytes(newest.read_bytes()[:100])  # truncated
    capsys.readouterr()
    assert main([*args, "--resume"]) == 0
    err = capsys.readouterr().err
    assert "skipping torn checkpoint" in err and "step-3" in err and "continuing from" in err and "step-2" in err
    assert _rows(tmp_path / "n") == _rows(uninterrupted["ntp"])


def test_bad_inputs_fail_in_one_line(tiny: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model_dir, mbpp = tiny
    broken = tmp_path / "broken.json"
    broken.write_text('[{"task_id": 601, "prompt": "x"')
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps([{"task_id": 601, "prompt": "x", "test_list": ["assert True"]}]))
    cases = [
        (["ra3", "--mbpp-file", str(broken)], "broken.json: not valid JSON"),
        (["ra3", "--mbpp-file", str(missing)], "missing field 'code'"),
        (["ra3", "--mbpp-file", str(mbpp), "--set", "estep.group=1"], "estep.group"),
        (["ra3", "--mbpp-file", str(mbpp), "--preset", "huge"], "unknown preset"),
        (["ntp", "--mbpp-file", str(mbpp), "--match", str(tmp_path / "nothing")], "not a sparring run directory"),
    ]
    for argv, expected in cases:
        capsys.readouterr()
        assert main([*argv, "--model", str(model_dir), "--out", str(tmp_path / "never")]) == 2
        err = capsys.readouterr().err.strip()
        assert expected in err and err.count("\n") == 0, err
    assert not (tmp_path / "never").exists()


@pytest.mark.slow
def test_accelerate_two_process_cpu_ra3_and_ntp(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    """accelerate launch -m sparring ra3 / ntp: 2 CPU processes (gloo), one run directory written by rank 0."""
    from parallel_fixtures import accelerate_launch

    model_dir, mbpp = tiny
    common = ["--preset", "smoke", "--model", str(model_dir), "--mbpp-file", str(mbpp)]
    done = accelerate_launch(["ra3", *common, "--out", str(tmp_path / "ra3")])
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line) for line in (tmp_path / "ra3" / "metrics.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in rows].count("em") == 1 and (tmp_path / "ra3" / "model" / "config.json").is_file()
    annotated = (tmp_path / "ra3" / "annotated" / "iter-1.jsonl").read_text().splitlines()
    assert len(annotated) == 3  # every program, gathered from both ranks
    done = accelerate_launch(["ntp", *common, "--match", str(tmp_path / "ra3"), "--out", str(tmp_path / "ntp")])
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((tmp_path / "ntp" / "summary.json").read_text())["tokens_trained"] >= rows[-1]["tokens_trained"]
