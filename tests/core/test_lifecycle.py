"""One run lifecycle and one config mechanism for every line: precedence, the device rule, help
text, the resume check, verbs given the wrong kind of run, TensorBoard, and no import cycles."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import tiny_args
from sparring.cli import main
from sparring.errors import UserError
from sparring.kinds import build_config, describe_settings, names
from sparring.runs import SAFE_ON_RESUME, resume_differences, start_run

SRC = Path(__file__).resolve().parents[2] / "src" / "sparring"


@pytest.mark.parametrize("kind", ["seqgan", "align", "ra3", "rlvr"])
def test_one_precedence_for_every_kind(kind: str, tmp_path: Path) -> None:
    """defaults < preset < TOML < --set < explicit flags, the same for every line."""
    toml = tmp_path / "c.toml"
    toml.write_text("seed = 5\n")
    assert build_config(kind, "smoke").seed == 0
    assert build_config(kind, "smoke", toml).seed == 5
    assert build_config(kind, "smoke", toml, ["seed=7"]).seed == 7
    assert build_config(kind, "smoke", toml, ["seed=7"], {"seed": 9}).seed == 9  # align/ra3/rlvr let --set win before
    assert build_config(kind, "smoke", toml, ["seed=7"], {"seed": None}).seed == 7  # a flag not given


def test_implied_settings_sit_below_set() -> None:
    cfg = build_config("seqgan", "smoke", None, ["generator.hidden_dim=48"], {"oracle.seq_len": 40}, {"generator.hidden_dim": 64})
    assert cfg.oracle.seq_len == 40 and cfg.generator.hidden_dim == 48


@pytest.mark.parametrize("kind", names())
def test_every_kind_accepts_device_auto_and_refuses_nonsense(kind: str) -> None:
    assert build_config(kind, "smoke", overrides=["device=auto"]).device == "auto"
    with pytest.raises(UserError, match="'device' must be auto, cpu, cuda or cuda:N"):
        build_config(kind, "smoke", overrides=["device=tpu"])


def test_train_runs_with_device_auto(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["train", "mle", "--preset", "smoke", *tiny_args("mle"), "--set", "device=auto", "--out", str(out)]) == 0
    assert json.loads((out / "config.json").read_text())["device"] == "auto"
    assert json.loads((out / "summary.json").read_text())["device"] in ("cpu", "cuda")


def test_help_prints_each_settings_help(capsys: pytest.CaptureFixture[str]) -> None:
    expected = (("train", "LeakGAN's remedy for collapse"), ("align", "a local directory, a hub id"), ("ra3", "nats per <think>"))
    for command, text in expected:
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = capsys.readouterr().out
        assert text in out and "--set KEY=VALUE < explicit flags" in out, command
    unexplained = [(kind, key) for kind in names() for key, _, _, text in describe_settings(kind) if not text]
    assert unexplained == []


def test_resume_differences_refuse_all_but_the_documented_safe_settings() -> None:
    saved = {"algo": "ra3", "seed": 0, "device": "cpu", "estep": {"lr": 1e-5}, "model_path": "/old"}
    now = {"algo": "ra3", "seed": 0, "device": "cuda", "estep": {"lr": 2e-5}}
    refused, applied = resume_differences(saved, now)
    assert refused == ["estep.lr"] and applied == ["device"] and "device" in SAFE_ON_RESUME  # run facts are not settings


def test_a_safe_change_on_resume_is_applied_and_a_second_writer_is_refused(tmp_path: Path) -> None:
    config = {"algo": "rlvr", "workers": 2, "lr": 1.0}
    first = start_run(tmp_path / "r", config)
    with pytest.raises(UserError, match="being written by another sparring process"):
        start_run(tmp_path / "r", config, resume=True)
    first.close()
    with start_run(tmp_path / "r", {**config, "workers": 4}, resume=True) as again:
        assert again.resumed and again.dir.read_config()["workers"] == 4
    with pytest.raises(UserError, match=r"different config: lr \(1.0 -> 2.0\)"):
        start_run(tmp_path / "r", {**config, "lr": 2.0}, resume=True)
    with pytest.raises(UserError, match="already exists; pass --resume"):
        start_run(tmp_path / "r", config)


@pytest.mark.parametrize("verb", ["sample", "report"])
def test_gan_verbs_name_the_kinds_they_take(verb: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "align-run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"algo": "align"}))
    assert main([verb, str(run)]) == 2
    err = capsys.readouterr().err
    assert f"{verb} takes runs of catgan, cot, dgsan" in err and "align run" in err and len(err.strip().splitlines()) == 1


def test_generate_names_the_kind_it_takes(smoke_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("transformers")
    assert main(["generate", str(smoke_run), "--prompt", "hi"]) == 2
    assert "generate takes runs of align" in capsys.readouterr().err


def test_report_to_tensorboard_writes_event_files(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    out = tmp_path / "run"
    assert main(["train", "mle", "--preset", "smoke", *tiny_args("mle"), "--report-to", "tensorboard", "--out", str(out)]) == 0
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))


def _imports() -> dict[str, set[str]]:
    """Every sparring module and the sparring modules it imports anywhere (top level or in a function)."""
    modules = {}
    for path in SRC.rglob("*.py"):
        name = ".".join(("sparring", *path.relative_to(SRC).with_suffix("").parts)).removesuffix(".__init__")
        modules[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sparring"):
                found |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_nothing_imports_in_a_circle() -> None:
    graph = _imports()

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), list(graph[start])
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(graph[node])
        return False

    assert [m for m in graph if reaches(m, m)] == []


LINES = ("sparring.gans", "sparring.llm", "sparring.code")
ROOT_API = ("sparring", "sparring.cli", "sparring.kinds")  # what composes the lines: no line may stand on it


def _package(module: str) -> str:
    return next((line for line in LINES if module == line or module.startswith(line + ".")), module)


def test_the_lines_stand_on_the_shared_layers_only() -> None:
    """Package by package: a line imports neither another line nor the root that composes them."""
    graph = _imports()
    for module, imported in graph.items():
        package = _package(module)
        if package in LINES:
            crossing = {m for m in imported if _package(m) in LINES and _package(m) != package}
            assert not crossing, f"{module} imports {crossing}"
            assert not {m for m in imported if m in ROOT_API}, module
        else:  # a shared layer stands on nothing of a line (lines.py finds them by name, at run time)
            assert not {m for m in imported if _package(m) in LINES}, module
        if module.startswith("sparring.gans.models."):
            assert not any(m.startswith(("sparring.gans.rollout", "sparring.gans.losses")) for m in imported), module


def test_import_sparring_and_its_help_leave_torch_unimported() -> None:
    code = (
        "import sys, io, contextlib, sparring\n"
        "from sparring.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in ('torch', 'transformers', 'numpy', 'sparring.gans.registry') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def _commands() -> list[tuple[str, str]]:
    from sparring.lines import lines

    return [(line.name, command) for line in lines() for command in line.commands]


@pytest.mark.parametrize("line_name, command", _commands())
def test_every_help_example_of_set_runs(line_name: str, command: str) -> None:
    """The ``--set`` example each command's help suggests resolves for every kind the command trains."""
    import re

    from sparring.cli import build_parser
    from sparring.config import resolve
    from sparring.lines import line_named

    parser = build_parser(command)
    sub = next(a for a in parser._actions if a.choices and command in a.choices).choices[command]
    helps = [a.help or "" for a in sub._actions if "--set" in a.option_strings]
    if not helps:
        pytest.skip(f"{command} takes no --set")
    example = re.search(r"--set (\S+=\S+)", helps[0]).group(1)
    kinds = line_named(line_name).kind_list()
    chosen = [k for k in kinds if k.name == command] or list(kinds)
    for kind in chosen:
        resolve(kind, "smoke" if "smoke" in kind.presets else "paper", overrides=[example])


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "leakgan", "--preset", "smoke", "--set", "mle.epochs=3"],  # interleaved pre-training: no MLE phase
        ["train", "leakgan", "--preset", "smoke", "--set", "mle.patience=2"],
        ["train", "maligan", "--preset", "smoke", "--set", "adversarial.rollouts=4"],  # per-sequence weights: no Monte Carlo
        ["train", "maligan", "--preset", "smoke", "--set", "adversarial.rollout_update_rate=0.5"],
        ["ntp", "--preset", "smoke", "--set", "estep.think_cost=0.2"],  # no latents
        ["rlvr", "--preset", "smoke", "--set", "data.max_length=512"],  # prompts, not documents
        ["eval-code", "--samples", "s.jsonl", "--set", "no_such=1"],
    ],
    ids=lambda argv: " ".join(argv[:2] + argv[-1:]),
)
def test_a_setting_a_kind_does_not_use_is_refused_before_a_run_exists(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "never"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown config key" in err and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_an_older_runs_names_are_read_in_the_current_vocabulary(tmp_path: Path) -> None:
    from sparring.runs import RunDir

    run = tmp_path / "old"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"algo": "seqgan"}))
    rows = [{"phase": "pretrain_d", "step": 1, "d_acc": 0.5}, {"phase": "adversarial", "step": 1, "mean_reward": 0.2, "mean_length": 9.0}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run / "summary.json").write_text(json.dumps({"phases": {"pretrain_d": 3.0}, "data": {"test_mean_length": 11.0}}))
    got = RunDir(run).read_metrics()
    assert got == [
        {"phase": "d_pretrain", "step": 1, "d_accuracy": 0.5},
        {"phase": "adversarial", "step": 1, "reward_mean": 0.2, "mean_words": 9.0},
    ]
    assert RunDir(run).read_summary() == {"phases": {"d_pretrain": 3.0}, "data": {"test_mean_words": 11.0}}


@pytest.mark.parametrize("line_name, command", [*_commands(), ("root", "evaluate")])
def test_every_registered_command_answers_help(line_name: str, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI smoke, driven by the lines' registries: each command builds its parser and describes itself."""
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: sparring {command}" in capsys.readouterr().out
