"""The validation split and model selection on it: disjoint and deterministic splits, the best
checkpoint, early stopping, and GANs starting from the best MLE weights."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import torch

from conftest import tiny_args
from sparring.cli import main
from sparring.gans import engine
from sparring.gans.api import _pretrained_generator, load_run
from sparring.gans.config import OracleConfig, TextConfig
from sparring.gans.corpus import load_text_corpus
from sparring.gans.oracle import load_oracle_data
from sparring.kinds import build_config


def _rows(t: torch.Tensor) -> set[tuple[int, ...]]:
    return {tuple(r) for r in t.tolist()}


def test_oracle_validation_is_a_third_sample_disjoint_and_deterministic():
    cfg = OracleConfig(n_train=400, n_test=300, n_valid=200)
    data = load_oracle_data(cfg)
    assert data.valid.shape == (200, cfg.seq_len)
    assert not _rows(data.valid) & _rows(data.train) and not _rows(data.valid) & _rows(data.test)
    again = load_oracle_data(cfg)
    assert torch.equal(again.valid, data.valid) and torch.equal(again.test, data.test)


def test_text_validation_is_held_out_of_training_and_never_touches_test(tmp_path: Path):
    lines = [" ".join(words) for words in itertools.islice(itertools.permutations("abcdef"), 200)]  # 200 distinct, one vocabulary
    source = tmp_path / "t.txt"
    source.write_text("\n".join(lines) + "\n")
    corpus = load_text_corpus(str(source), "", TextConfig(test_fraction=0.1, valid_fraction=0.05))
    train, test, valid = (_rows(corpus.train), _rows(corpus.test), _rows(corpus.valid))
    assert len(test) == 20 and len(valid) == 9 and len(train) == 171  # 5% of the 180 left after test
    assert not train & test and not train & valid and not test & valid
    without_valid = load_text_corpus(str(source), "", TextConfig(test_fraction=0.1, valid_fraction=0.2))
    assert _rows(without_valid.test) == test  # the validation share never changes which sentences are test
    assert corpus.stats["valid_sentences"] == 9 and corpus.stats["test_mean_words"] == 6.0


def _scripted_validation(monkeypatch: pytest.MonkeyPatch, curve: list[float]) -> None:
    """evaluate_generator with a hand-made NLL-valid curve (one value per evaluation, epoch 0 first)."""
    real, calls = engine.evaluate_generator, [0]

    def scripted(gen, corpus, eval_cfg, temperature=None):  # noqa: ANN001
        metrics = real(gen, corpus, eval_cfg, temperature)
        metrics["nll_valid"] = curve[min(calls[0], len(curve) - 1)]
        calls[0] += 1
        return metrics

    monkeypatch.setattr(engine, "evaluate_generator", scripted)


def test_mle_keeps_its_best_validation_checkpoint_and_stops_early(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _scripted_validation(monkeypatch, [9.0, 8.0, 7.0, 7.5, 7.6, 7.7, 7.8, 7.9, 8.0])  # best at epoch 2
    out = tmp_path / "mle"
    sets = ["--set", "mle.epochs=8", "--set", "mle.eval_every=1", "--set", "mle.patience=2"]
    assert main(["train", "mle", "--preset", "smoke", *tiny_args("mle"), *sets, "--out", str(out)]) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2, 3, 4]  # two evaluations without a better NLL-valid, then stop
    best = torch.load(out / "checkpoints" / "best.pt", weights_only=True)
    assert best["epoch"] == 2
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mle_best"]["epoch"] == 2 and summary["mle_best"]["nll_valid"] == 7.0
    assert summary["best"]["step"] == 2 and summary["final"]["step"] == 4
    assert summary["mle_best"]["nll_test"] == rows[2]["nll_test"]  # test metrics reported at the chosen epoch, not chosen on
    # a GAN started from this run starts from the best-validation weights, not the last ones
    cfg = build_config("seqgan", "smoke", None, [*tiny_args("mle")[1::2], f"pretrained={out}"])
    start = _pretrained_generator(cfg)
    assert all(torch.equal(start[k], v) for k, v in best["generator"].items())
    last = load_run(out).last_checkpoint()["models"]["generator"]
    assert any(not torch.equal(start[k], v) for k, v in last.items())
    # a resume of the early-stopped run does not train it further
    assert main(["train", "mle", "--preset", "smoke", *tiny_args("mle"), *sets, "--out", str(out), "--resume"]) == 0
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 5


def test_a_gans_own_mle_phase_ends_on_its_best_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _scripted_validation(monkeypatch, [9.0, 7.0, 8.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0])  # best at epoch 1 of 2
    out = tmp_path / "seqgan"
    assert main(["train", "seqgan", "--preset", "smoke", *tiny_args("seqgan"), "--set", "mle.eval_every=1", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    mle = {r["step"]: r for r in rows if r["phase"] == "mle"}
    start = next(r for r in rows if r["phase"] == "adversarial" and r["step"] == 0)
    assert set(mle) == {0, 1, 2} and start["nll_test"] == pytest.approx(mle[1]["nll_test"], abs=1e-6)
