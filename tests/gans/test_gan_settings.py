"""The text-GAN settings: the paper preset, override order and types, JSON round trips, one-line errors, help for every setting."""

import pytest

from sparring.config import to_dict
from sparring.errors import UserError
from sparring.gans.registry import METHODS
from sparring.kinds import build_config, describe_settings, load_config


def test_paper_preset_is_the_published_schedule():
    cfg = build_config("seqgan", "paper")
    assert (cfg.oracle.vocab_size, cfg.oracle.emb_dim, cfg.oracle.hidden_dim, cfg.oracle.seq_len) == (5000, 32, 32, 20)
    assert (cfg.oracle.n_train, cfg.oracle.n_test) == (10_000, 10_000)
    assert (cfg.generator.emb_dim, cfg.generator.hidden_dim, cfg.generator.init_std) == (32, 32, 0.1)
    assert (cfg.mle.epochs, cfg.mle.lr, cfg.mle.grad_clip, cfg.mle.batch_size) == (120, 1e-2, 5.0, 64)
    assert (cfg.pretrain_d.rounds, cfg.pretrain_d.epochs) == (50, 3)
    a = cfg.adversarial
    assert (a.steps, a.batch_size, a.rollouts, a.rollout_update_rate, a.d_rounds, a.d_epochs) == (200, 64, 16, 0.8, 5, 3)
    d = cfg.discriminator
    assert d.emb_dim == 64 and d.filter_sizes == (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20)
    assert d.num_filters == (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160)


def test_overrides_apply_in_order_and_parse_types(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text("seed = 5\n[adversarial]\nsteps = 7\nlr = 0.5\n")
    cfg = build_config("seqgan", "smoke", toml, ["adversarial.steps=9", "discriminator.filter_sizes=1,2", "discriminator.num_filters=3,4"])
    assert cfg.seed == 5 and cfg.adversarial.steps == 9 and cfg.adversarial.lr == 0.5
    assert cfg.discriminator.filter_sizes == (1, 2) and cfg.mle.epochs == METHODS["seqgan"].presets["smoke"]["mle.epochs"]


def test_config_round_trips_through_json_dict():
    cfg = build_config("seqgan", "demo", overrides={"seed": 3})
    assert to_dict(load_config(to_dict(cfg))) == to_dict(cfg)


@pytest.mark.parametrize(
    "args, message",
    [
        (("nosuchgan",), "unknown algorithm 'nosuchgan'"),
        (("seqgan", "nosuch"), "unknown preset 'nosuch'"),
        (("seqgan", "smoke", None, ["no.such.key=1"]), "unknown config key 'no.such.key'"),
        (("seqgan", "smoke", None, ["seed=abc"]), "'seed' expects an integer"),
        (("seqgan", "smoke", None, ["mle.lr=fast"]), "'mle.lr' expects a number"),
        (("seqgan", "smoke", None, ["mle.epochs=-1"]), "'mle.epochs' must be >= 0"),
        (("seqgan", "smoke", None, ["oracle.seq_len=10"]), "discriminator.filter_sizes"),
        (("seqgan", "smoke", None, ["seed"]), "expects key=value"),
        (("mle", "smoke", None, ["adversarial.steps=3"]), "unknown config key 'adversarial.steps' for mle"),
    ],
)
def test_bad_settings_are_one_line_user_errors(args, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        build_config(*args)
    assert "\n" not in str(info.value)


def test_bad_toml_names_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("seed = [")
    with pytest.raises(UserError, match="bad.toml"):
        build_config("seqgan", "smoke", bad)
    with pytest.raises(UserError, match="not found"):
        build_config("seqgan", "smoke", tmp_path / "missing.toml")


def test_every_setting_is_described_for_help():
    keys = {k for k, _, _, _ in describe_settings("seqgan")}
    assert {"seed", "adversarial.rollouts", "discriminator.filter_sizes", "oracle.seq_len"} <= keys
