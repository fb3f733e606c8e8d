"""sparring train / sample / report / evaluate on text-GAN runs: the run contract, exact resume after a crash, bad input."""

import json
import math
import shutil
import subprocess
import sys

import pytest

from conftest import TINY
from sparring.cli import main
from sparring.config import to_dict
from sparring.gans.session import Session
from sparring.kinds import build_config

CONTRACT = ["config.json", "metrics.jsonl", "summary.json", "samples.txt", "checkpoints/train", "checkpoints/last.pt", "curves.png"]
ROW_KEYS = {"phase", "step", "nll_oracle", "nll_test", "d_loss", "d_accuracy", "reward_mean", "elapsed_s"}


def test_smoke_run_writes_the_whole_contract(smoke_run):
    for name in CONTRACT:
        assert (smoke_run / name).stat().st_size > 0, name
    recorded = json.loads((smoke_run / "config.json").read_text())
    assert recorded.pop("precision_ran") in ("fp32", "bf16")  # a run fact: what precision=auto resolved to
    assert recorded == to_dict(build_config("seqgan", "smoke", overrides={"seed": 1}))
    rows = [json.loads(line) for line in (smoke_run / "metrics.jsonl").read_text().splitlines()]
    assert {r["phase"] for r in rows} == {"mle", "d_pretrain", "adversarial"}
    for r in rows:
        assert ROW_KEYS <= set(r), r
    evaluated = [r for r in rows if r["phase"] in ("mle", "adversarial")]
    assert all(math.isfinite(r["nll_oracle"]) and math.isfinite(r["nll_test"]) for r in evaluated)
    assert all(r["d_accuracy"] is not None for r in rows if r["phase"] == "d_pretrain")
    assert [r["step"] for r in rows if r["phase"] == "adversarial"] == [0, 2, 4]
    summary = json.loads((smoke_run / "summary.json").read_text())
    assert summary["final"]["nll_oracle"] == rows[-1]["nll_oracle"]
    assert set(summary["phases"]) == {"mle", "d_pretrain", "adversarial"}
    assert summary["seed"] == 1 and "torch" in summary["versions"]
    assert 0 < summary["entropy_floor"] < summary["final"]["nll_oracle"]
    lines = (smoke_run / "samples.txt").read_text().splitlines()
    assert len(lines) == 100 and all(len(line.split()) == 20 for line in lines)


def test_report_reads_the_run_and_writes_curves(smoke_run, tmp_path, capsys):
    plot = tmp_path / "curves.png"
    assert main(["report", str(smoke_run), str(smoke_run), "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "NLL-oracle" in out and "smoke" in out and "complete" in out
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_sample_prints_token_ids(smoke_run, capsys):
    assert main(["sample", str(smoke_run), "--n", "4", "--temperature", "0.7"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and all(all(0 <= int(t) < 5000 for t in line.split()) for line in lines)
    assert main(["sample", str(smoke_run), "--n", "4", "--temperature", "0.7"]) == 0
    assert capsys.readouterr().out.splitlines() == lines  # seeded


def _rows_without_time(run):
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in rows]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("resume") / "uninterrupted"
    assert main(["train", "seqgan", "--preset", "smoke", "--seed", "3", "--out", str(out), *sum((["--set", s] for s in TINY), [])]) == 0
    return out


@pytest.mark.parametrize("crash_at_save", [1, 3, 6])  # during MLE, D pre-training, adversarial training
def test_resume_after_a_crash_ends_where_an_uninterrupted_run_ends(uninterrupted, tmp_path, monkeypatch, crash_at_save):
    out = tmp_path / "crashed"
    args = ["train", "seqgan", "--preset", "smoke", "--seed", "3", "--out", str(out), *sum((["--set", s] for s in TINY), [])]
    real_save, calls = Session.save, {"n": 0}

    def crashing_save(self):
        calls["n"] += 1
        if calls["n"] == crash_at_save:
            raise RuntimeError("simulated crash")
        real_save(self)

    monkeypatch.setattr(Session, "save", crashing_save)
    with pytest.raises(RuntimeError, match="simulated crash"):
        main(args)
    monkeypatch.setattr(Session, "save", real_save)
    assert not (out / "summary.json").exists(), "a crashed run must not look complete"
    assert main([*args, "--resume"]) == 0
    assert _rows_without_time(out) == _rows_without_time(uninterrupted)
    assert json.loads((out / "summary.json").read_text())["final"] == json.loads((uninterrupted / "summary.json").read_text())["final"]


def test_same_seed_gives_the_same_run(uninterrupted, tmp_path):
    out = tmp_path / "again"
    assert main(["train", "seqgan", "--preset", "smoke", "--seed", "3", "--out", str(out), *sum((["--set", s] for s in TINY), [])]) == 0
    assert _rows_without_time(out) == _rows_without_time(uninterrupted)


def test_resume_of_a_complete_run_changes_nothing(uninterrupted, capsys):
    before = (uninterrupted / "metrics.jsonl").read_text()
    assert main(["train", "seqgan", "--preset", "smoke", "--seed", "3", "--out", str(uninterrupted), "--resume",
                 *sum((["--set", s] for s in TINY), [])]) == 0
    assert (uninterrupted / "metrics.jsonl").read_text() == before


def _bad(capsys, argv):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    err = capsys.readouterr().err.strip()
    return code, err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "nosuchgan", "--data", "oracle", "--preset", "smoke", "--out", "{tmp}/r"], "unknown algorithm"),
        (["train", "seqgan", "--data", "oracle", "--preset", "nosuch", "--out", "{tmp}/r"], "unknown preset"),
        (["train", "seqgan", "--preset", "smoke", "--set", "no.such.key=1", "--out", "{tmp}/r"], "unknown config key"),
        (["train", "seqgan", "--preset", "smoke", "--set", "seed=abc", "--out", "{tmp}/r"], "expects an integer"),
        (["train", "seqgan", "--preset", "smoke", "--set", "seed", "--out", "{tmp}/r"], "key=value"),
        (["train", "seqgan", "--preset", "smoke", "--data", "corpus.txt", "--out", "{tmp}/r"], "data file not found"),
        (["train", "seqgan", "--preset", "smoke", "--config", "{tmp}/none.toml", "--out", "{tmp}/r"], "not found"),
        (["train", "seqgan", "--preset", "smoke", "--set", "pretrained={tmp}/none", "--out", "{tmp}/r"], "not a sparring run"),
        (["train", "seqgan", "--preset", "smoke", "--out", "/proc/nope/run"], "cannot create run directory"),
        (["train", "seqgan", "--preset", "smoke"], "--out"),
        (["report", "{tmp}/notrun"], "not a sparring run directory"),
        (["sample", "{tmp}/notrun"], "not a sparring run directory"),
        (["report", "{tmp}/missing"], "no such directory"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_partial_run(tmp_path, capsys, argv, message):
    (tmp_path / "notrun").mkdir()
    code, err = _bad(capsys, [a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert code == 2 and message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


def test_existing_out_needs_resume_and_the_same_config(smoke_run, tmp_path, capsys):
    code, err = _bad(capsys, ["train", "seqgan", "--preset", "smoke", "--seed", "1", "--out", str(smoke_run)])
    assert code == 2 and "--resume" in err
    code, err = _bad(capsys, ["train", "seqgan", "--preset", "smoke", "--seed", "2", "--out", str(smoke_run), "--resume"])
    assert code == 2 and "different config" in err and "seed" in err


def test_a_torn_newest_checkpoint_falls_back_to_the_previous_one_and_says_so(smoke_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(smoke_run, run)
    steps = sorted((run / "checkpoints" / "train").glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    assert len(steps) == 2  # the newest two complete steps are kept
    last = smoke_run / "checkpoints" / "last.pt"  # the contract's stable name: the newest step's models
    newest = max((smoke_run / "checkpoints" / "train").glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    assert last.is_symlink() and last.resolve() == (newest / "models.pt").resolve()
    models = steps[-1] / "models.pt"
    models.write_bytes(models.read_bytes()[: models.stat().st_size // 2])  # a disk that lost the file's tail
    assert main(["sample", str(run), "--n", "2"]) == 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "torn checkpoint" in err and steps[-2].name in err
    for step in steps:
        (step / "models.pt").write_bytes(b"not a checkpoint")
    (run / "summary.json").unlink()
    code, err = _bad(capsys, ["sample", str(run)])
    assert code == 2 and "corrupt checkpoint" in err and len(err.splitlines()) == 1


def test_console_script_reports_bad_input_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sparring.cli", "report", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_evaluate_sweeps_the_mle_model_that_selection_chose(tmp_path):
    """An MLE run stopped by patience ends past its best epoch; ``evaluate`` sweeps best.pt (what
    ``report`` and every GAN's start use), labelled, so its T=1 row is the summary's best row."""
    out = tmp_path / "mle"
    overfit = ["oracle.n_train=200", "oracle.n_valid=300", "oracle.n_test=300", "eval.n_samples=200", "mle.epochs=8",
               "mle.lr=0.05", "mle.batch_size=16", "mle.patience=2"]  # fmt: skip
    assert main(["train", "mle", "--preset", "smoke", "--out", str(out), *sum((["--set", s] for s in overfit), [])]) == 0
    summary = json.loads((out / "summary.json").read_text())
    best_epoch, last_epoch = summary["mle_best"]["epoch"], summary["final"]["step"]
    assert best_epoch < last_epoch, "the run must end past its best epoch for this test to tell the two apart"
    assert main(["evaluate", str(out), "--temperature", "1.0"]) == 0
    (row,) = json.loads((out / "evaluation" / "temperatures.json").read_text())
    assert row["checkpoint"] == f"best validation (epoch {best_epoch})"
    assert row["nll_test"] == pytest.approx(summary["best"]["nll_test"], rel=1e-6)
    assert row["nll_test"] != pytest.approx(summary["final"]["nll_test"], rel=1e-6)
