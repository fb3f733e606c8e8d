"""Category-conditional generation (SentiGAN, CatGAN): labelled data, one category's vocabulary per
category, ``sample --label``, samples.txt by category, faithfulness, and one-line errors."""

import json
import random

import pytest

from conftest import tiny_args
from sparring.cli import main
from sparring.gans.api import load_run

CATEGORIES = {"animals": "dog cat horse bird cow fish".split(), "vehicles": "car bus train bike truck boat".split()}
SHARED = ["the", "a", "."]


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """A toy corpus where the categories share no content words (only 'the', 'a' and '.')."""
    rng = random.Random(0)
    root = tmp_path_factory.mktemp("labelled")
    for name, n in (("train.jsonl", 400), ("test.jsonl", 100)):
        rows = []
        for i in range(n):
            label = "animals" if i % 2 else "vehicles"
            words = [rng.choice(CATEGORIES[label]) for _ in range(rng.randint(2, 5))]
            rows.append({"sentence": " ".join([rng.choice(SHARED[:2]), *words, "."]), "kind": label})
        (root / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def _train(algo, labelled, out, *extra):
    fast = ["--set", "mle.epochs=15", "--set", "mle.eval_every=5"]
    args = ["train", algo, "--data", str(labelled / "train.jsonl"), "--test", str(labelled / "test.jsonl"), "--text-col", "sentence",
            "--label-col", "kind", "--preset", "smoke", "--seed", "0", "--out", str(out), *tiny_args(algo), *fast, *extra]  # fmt: skip
    assert main(args) == 0


@pytest.mark.parametrize("algo", ["sentigan", "catgan"])
def test_each_category_writes_only_its_own_words(algo, labelled, tmp_path, capsys):
    out = tmp_path / algo
    _train(algo, labelled, out)
    run = load_run(out)
    assert run.label_names == ["animals", "vehicles"]
    for name, words in CATEGORIES.items():
        capsys.readouterr()
        assert main(["sample", str(out), "--label", name, "--n", "40"]) == 0
        written = capsys.readouterr().out.split()
        other = set(CATEGORIES["vehicles" if name == "animals" else "animals"])
        content = [w for w in written if w in words or w in other]
        assert content, f"{name}: no content words at all"
        crossed = sum(w in other for w in content) / len(content)
        assert crossed <= 0.05, f"{algo} {name}: {crossed:.0%} of its content words belong to the other category"
    lines = (out / "samples.txt").read_text().splitlines()
    assert {line.split("\t")[0] for line in lines} == set(CATEGORIES)
    final = json.loads((out / "summary.json").read_text())["final"]
    assert set(final["category_metrics"]) == set(CATEGORIES)
    assert final["category_faithfulness"] >= 0.9 and final["category_judge_test_accuracy"] >= 0.9
    assert all(row["nll_test"] > 0 and row["bleu_4"] >= 0 for row in final["category_metrics"].values())


def test_a_label_that_is_not_there_and_an_unconditional_run_are_one_line(labelled, tmp_path, capsys):
    out = tmp_path / "sentigan"
    _train("sentigan", labelled, out)
    capsys.readouterr()
    assert main(["sample", str(out), "--label", "plants"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no category 'plants'" in err[0] and "animals, vehicles" in err[0]
    mle = tmp_path / "mle"
    assert main(["train", "mle", "--preset", "smoke", "--out", str(mle), *tiny_args("mle")]) == 0
    capsys.readouterr()
    assert main(["sample", str(mle), "--label", "animals"]) == 2
    assert "not a category-conditional run" in capsys.readouterr().err


def test_bad_label_data_is_one_line_naming_the_file(labelled, tmp_path, capsys):
    base = ["train", "sentigan", "--data", str(labelled / "train.jsonl"), "--text-col", "sentence", "--preset", "smoke"]
    assert main([*base, "--label-col", "colour", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no column 'colour'" in err[0] and "train.jsonl" in err[0]
    unseen = tmp_path / "test.jsonl"
    unseen.write_text(json.dumps({"sentence": "a red rose .", "kind": "plants"}) + "\n")
    assert main([*base, "--label-col", "kind", "--test", str(unseen), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "category 'plants'" in err[0] and "test.jsonl" in err[0]
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
