import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Fast settings on top of the smoke preset for tests that only need a complete, real run.
TINY = [
    "oracle.n_train=600",
    "oracle.n_test=300",
    "oracle.n_valid=300",
    "mle.epochs=2",
    "eval.n_samples=300",
    "eval.n_d_eval=100",
    "eval.n_write_samples=20",
    "pretrain_d.n_negatives=200",
    "adversarial.steps=3",
    "adversarial.rollouts=2",
    "adversarial.n_negatives=100",
    "adversarial.eval_every=1",
]


_TINY_COMMON = [
    "oracle.n_train=600",
    "oracle.n_test=300",
    "oracle.n_valid=300",
    "eval.n_samples=300",
    "eval.n_d_eval=100",
    "eval.n_write_samples=20",
    "eval.n_bleu=100",
    "text.max_len=12",
]
_TINY_SMALL_D = ["discriminator.filter_sizes=2,3", "discriminator.num_filters=20,20"]
TINY_BY_ALGO = {
    "mle": [*_TINY_COMMON, "mle.epochs=2"],
    "seqgan": TINY + ["eval.n_bleu=100", "text.max_len=12"] + _TINY_SMALL_D,
    "maligan": [s for s in TINY if not s.startswith("adversarial.rollouts")] + ["eval.n_bleu=100", "text.max_len=12"] + _TINY_SMALL_D,
    "rankgan": TINY + ["eval.n_bleu=100", "text.max_len=12"] + _TINY_SMALL_D,
    "leakgan": [
        *_TINY_COMMON,
        *_TINY_SMALL_D,
        "pretrain.rounds=1",
        "pretrain.n_negatives=200",
        "pretrain.mle_epochs=1",
        "adversarial.steps=2",
        "adversarial.n_negatives=100",
        "adversarial.eval_every=1",
        "adversarial.mle_every=2",
    ],
    "relgan": [*_TINY_COMMON, *_TINY_SMALL_D, "mle.epochs=1", "relgan.head_size=16", "adversarial.steps=2", "adversarial.eval_every=1"],
    "textgan": [*_TINY_COMMON, *_TINY_SMALL_D, "mle.epochs=1", "adversarial.steps=2", "adversarial.eval_every=1"],
    "gsgan": [*_TINY_COMMON, *_TINY_SMALL_D, "mle.epochs=1", "adversarial.steps=2", "adversarial.eval_every=1"],
    "cot": [*_TINY_COMMON, "mle.epochs=1", "adversarial.steps=3", "adversarial.eval_every=1"],
    "dpgan": [
        *_TINY_COMMON,
        "mle.epochs=1",
        "pretrain_d.rounds=1",
        "pretrain_d.n_negatives=200",
        "adversarial.steps=2",
        "adversarial.n_negatives=100",
        "adversarial.eval_every=1",
        "dpgan.d_hidden=16",
        "dpgan.d_emb=16",
    ],
    "jsdgan": [*_TINY_COMMON, "mle.epochs=1", "adversarial.steps=3", "adversarial.eval_every=1"],
    "sentigan": TINY + ["eval.n_bleu=100", "text.max_len=12"] + _TINY_SMALL_D,
    "catgan": [*_TINY_COMMON, *_TINY_SMALL_D, "mle.epochs=1", "adversarial.steps=2", "adversarial.eval_every=1"],
    "maskgan": [
        *_TINY_COMMON,
        "mle.epochs=1",
        "pretrain_d.n_negatives=64",
        "adversarial.steps=2",
        "adversarial.eval_every=1",
        "maskgan.d_hidden=16",
    ],
    "dgsan": [*_TINY_COMMON, "mle.epochs=1", "dgsan.batches_per_step=2", "adversarial.steps=3", "adversarial.eval_every=1"],
}


def tiny_args(algo: str) -> list[str]:
    """Faster-than-smoke settings of a method; a method without an entry runs its smoke preset as it is."""
    return sum((["--set", s] for s in TINY_BY_ALGO.get(algo, [])), [])


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Oracle data is cached per test session, never in the user's home during tests."""
    os.environ["SPARRING_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    yield


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """One real `sparring train seqgan --data oracle --preset smoke` run, shared by read-only tests."""
    from sparring.cli import main

    out = tmp_path_factory.mktemp("runs") / "smoke"
    assert main(["train", "seqgan", "--data", "oracle", "--preset", "smoke", "--seed", "1", "--out", str(out)]) == 0
    return out
