"""The synthetic oracle: fixed by its own seed, cached, the same data for every training seed."""

import hashlib

import torch

from sparring.gans.config import OracleConfig
from sparring.gans.oracle import build_oracle, cache_key, load_oracle_data


def _digest(model):
    h = hashlib.sha256()
    for name, p in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(p.numpy().tobytes())
    return h.hexdigest()


def test_two_constructions_from_one_seed_are_identical():
    a, b = build_oracle(OracleConfig(seed=7)), build_oracle(OracleConfig(seed=7))
    for (na, pa), (nb, pb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert na == nb and torch.equal(pa, pb)
    assert _digest(a) != _digest(build_oracle(OracleConfig(seed=8)))


def test_oracle_parameters_are_standard_normal_and_pinned_across_machines():
    oracle = build_oracle(OracleConfig())
    flat = torch.cat([p.flatten() for p in oracle.parameters()])
    assert abs(flat.mean()) < 0.01 and abs(flat.std() - 1) < 0.01
    # NumPy's PCG64 stream is platform independent: this digest must hold on every machine.
    assert _digest(oracle)[:16] == "6011e17aa1516352"


def test_oracle_data_is_cached_and_reproducible(tmp_path, monkeypatch):
    cfg = OracleConfig(n_train=50, n_test=40, seq_len=6, vocab_size=30)
    monkeypatch.setenv("SPARRING_CACHE", str(tmp_path / "a"))
    first = load_oracle_data(cfg)
    assert len(list((tmp_path / "a" / "oracle").glob("*.pt"))) == 1
    again = load_oracle_data(cfg)  # from the cache
    monkeypatch.setenv("SPARRING_CACHE", str(tmp_path / "b"))
    fresh = load_oracle_data(cfg)  # sampled anew
    for other in (again, fresh):
        assert torch.equal(first.train, other.train) and torch.equal(first.test, other.test)
    assert first.train.shape == (50, 6) and first.test.shape == (40, 6)
    assert not torch.equal(first.train[:40], first.test), "held-out split must be a separate sample"
    assert int(first.train.max()) < 30 and int(first.train.min()) >= 0


def test_cache_key_covers_every_parameter():
    base = OracleConfig()
    keys = {cache_key(base)}
    for field, value in [("vocab_size", 10), ("emb_dim", 8), ("hidden_dim", 8), ("seq_len", 40), ("seed", 1),
                         ("n_train", 5), ("n_test", 5)]:
        keys.add(cache_key(OracleConfig(**{field: value})))
    assert len(keys) == 8


def test_damaged_cache_entry_is_rebuilt(tmp_path, monkeypatch):
    cfg = OracleConfig(n_train=20, n_test=20, seq_len=5, vocab_size=12)
    monkeypatch.setenv("SPARRING_CACHE", str(tmp_path))
    first = load_oracle_data(cfg)
    (entry,) = (tmp_path / "oracle").glob("*.pt")
    entry.write_bytes(b"garbage")
    assert torch.equal(load_oracle_data(cfg).train, first.train)
