"""Every model of the family runs end to end, on the oracle and on a small text file, with the run contract."""

import json

import pytest

from conftest import tiny_args
from sparring.cli import main
from sparring.gans.api import load_run
from sparring.gans.registry import METHODS

CONTRACT = ["config.json", "metrics.jsonl", "summary.json", "samples.txt", "checkpoints/train", "checkpoints/last.pt", "curves.png"]
ALGOS = sorted(METHODS)  # every registered method, so a new one is tested without editing this file
WORDS = "a man dog cat rides sits on the with red blue small big bike horse table park street near".split()


@pytest.fixture(scope="module")
def text_files(tmp_path_factory):
    import random

    rng = random.Random(0)
    root = tmp_path_factory.mktemp("text")
    for name, n in (("train.txt", 300), ("test.txt", 100)):
        lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 10))) + " ." for _ in range(n)]
        (root / name).write_text("\n".join(lines) + "\n")
    return root


@pytest.mark.parametrize("algo", ALGOS)
def test_smoke_on_the_oracle(algo, tmp_path):
    out = tmp_path / algo
    assert main(["train", algo, "--preset", "smoke", "--seed", "1", "--out", str(out), *tiny_args(algo)]) == 0
    for name in CONTRACT:
        assert (out / name).stat().st_size > 0, name
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    evaluated = [r for r in rows if r.get("nll_oracle") is not None]
    assert evaluated and all(r["temperature"] == 1.0 for r in evaluated)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["algo"] == algo and summary["final"]["nll_oracle"] > summary["entropy_floor"] - 0.5
    assert load_run(out).sample(n=3).shape == (3, 20)


@pytest.mark.parametrize("algo", ALGOS)
def test_smoke_on_a_text_file(algo, tmp_path, text_files):
    out = tmp_path / algo
    argv = [
        "train",
        algo,
        "--data",
        str(text_files / "train.txt"),
        "--test",
        str(text_files / "test.txt"),
        "--preset",
        "smoke",
        "--seed",
        "1",
        "--out",
        str(out),
        *tiny_args(algo),
    ]
    assert main(argv) == 0
    for name in CONTRACT:
        assert (out / name).stat().st_size > 0, name
    final = json.loads((out / "summary.json").read_text())["final"]
    for key in ("nll_test", "bleu_2", "bleu_5", "self_bleu_2", "self_bleu_5", "distinct_1", "distinct_2"):
        assert final[key] is not None and final[key] >= 0, key
    assert final["n_samples"] == 100 and final["temperature"] == 1.0
    samples = (out / "samples.txt").read_text().split()
    assert set(samples) <= set(WORDS) | {".", "<unk>"}, "samples.txt must hold words"
    assert (out / "vocab.json").exists()
    assert all(set(line.split()) <= set(WORDS) | {".", "<unk>"} for line in load_run(out).sample_text(n=5))


def _rows(run):
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in rows]


@pytest.mark.parametrize("algo", [a for a in ALGOS if a not in ("mle", "seqgan")])  # SeqGAN: test_train_cli.py; MLE has one phase
def test_resume_after_a_crash_matches_an_uninterrupted_run(algo, tmp_path, text_files, monkeypatch):
    from sparring.gans.session import Session

    def args(out):
        return [
            "train",
            algo,
            "--data",
            str(text_files / "train.txt"),
            "--test",
            str(text_files / "test.txt"),
            "--preset",
            "smoke",
            "--seed",
            "2",
            "--out",
            str(out),
            *tiny_args(algo),
        ]

    assert main(args(tmp_path / "full")) == 0
    real_save, calls = Session.save, {"n": 0}

    def crashing_save(self):
        calls["n"] += 1
        if calls["n"] == 3:  # after pre-training has started, before the run ends
            raise RuntimeError("simulated crash")
        real_save(self)

    monkeypatch.setattr(Session, "save", crashing_save)
    with pytest.raises(RuntimeError, match="simulated crash"):
        main(args(tmp_path / "crashed"))
    monkeypatch.setattr(Session, "save", real_save)
    assert main([*args(tmp_path / "crashed"), "--resume"]) == 0
    assert _rows(tmp_path / "crashed") == _rows(tmp_path / "full")


def test_a_diverging_run_stops_with_one_line_and_stays_incomplete(tmp_path, capsys):
    out = tmp_path / "diverged"
    code = main(["train", "mle", "--preset", "smoke", "--out", str(out), *tiny_args("mle"), "--set", "mle.lr=1e38"])
    last = capsys.readouterr().err.strip().splitlines()[-1]  # earlier lines are progress output
    assert code == 2 and last.startswith("sparring train: error: training diverged: train_nll is nan"), last
    assert not (out / "summary.json").exists()


@pytest.mark.parametrize("algo", ALGOS)
def test_bad_input_is_one_line_and_exit_2(algo, tmp_path, capsys):
    """A setting out of range, and a data file that is not there: one line naming it, exit 2, no run directory."""
    out = tmp_path / "bad"
    bad = "adversarial.eval_every=0" if algo != "mle" else "mle.eval_every=0"
    assert main(["train", algo, "--preset", "smoke", "--out", str(out), "--set", bad]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "eval_every" in err[0] and not out.exists(), err
    assert main(["train", algo, "--data", str(tmp_path / "missing.txt"), "--preset", "smoke", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.txt" in err[0] and not out.exists(), err
