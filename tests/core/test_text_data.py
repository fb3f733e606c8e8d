"""Reading corpora, the word vocabulary, truncation, <eos> masking, and bad text input."""

import json

import pytest
import torch

from sparring.cli import main
from sparring.data.text import EOS_ID, UNK_ID, Vocabulary, encode, eos_mask, pad_after_eos, read_sentences, tokenize
from sparring.gans.config import TextConfig
from sparring.gans.corpus import load_text_corpus


def test_tokenize_splits_punctuation_and_lowercases():
    assert tokenize("A Dog's bike, parked.") == ["a", "dog's", "bike", ",", "parked", "."]


def test_vocabulary_is_frequency_ranked_with_specials_and_a_cap():
    vocab = Vocabulary.build([["b", "a", "b"], ["c", "a", "b"]], max_size=4)
    assert vocab.words == ["<eos>", "<unk>", "b", "a"]  # b (3) before a (2); c dropped by the cap


def test_encode_truncates_counts_and_pads_with_eos():
    vocab = Vocabulary.build([["a", "b"]], 10)
    enc = encode([["a", "b", "a", "b"], ["a", "zz"]], vocab, max_len=3)
    a, b = vocab.index()["a"], vocab.index()["b"]
    assert enc.ids.tolist() == [[a, b, a, EOS_ID], [a, UNK_ID, EOS_ID, EOS_ID]]
    assert enc.truncated == 1 and enc.unk_rate == pytest.approx(1 / 5)
    assert vocab.decode(enc.ids[1].tolist()) == "a <unk>"


def test_eos_mask_keeps_the_first_eos_and_pads_after_it():
    tokens = torch.tensor([[5, 0, 7, 0], [5, 6, 7, 8]])
    assert eos_mask(tokens).tolist() == [[1, 1, 0, 0], [1, 1, 1, 1]]
    assert pad_after_eos(tokens).tolist() == [[5, 0, 0, 0], [5, 6, 7, 8]]


@pytest.mark.parametrize("suffix", ["jsonl", "csv", "parquet"])
def test_table_formats_read_the_text_column(tmp_path, suffix):
    rows = [{"id": 1, "caption": "a dog runs"}, {"id": 2, "caption": "two cats"}]
    path = tmp_path / f"data.{suffix}"
    if suffix == "jsonl":
        path.write_text("\n".join(json.dumps(r) for r in rows))
    elif suffix == "csv":
        path.write_text("id,caption\n1,a dog runs\n2,two cats\n")
    else:
        pq = pytest.importorskip("pyarrow.parquet")
        import pyarrow as pa

        pq.write_table(pa.table({"id": [1, 2], "caption": ["a dog runs", "two cats"]}), path)
    assert read_sentences(str(path), "caption") == ["a dog runs", "two cats"]


def test_without_a_test_file_a_fixed_share_is_held_out(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("\n".join(f"sentence number {i}" for i in range(50)))
    corpus = load_text_corpus(str(path), "", TextConfig(test_fraction=0.2))
    assert corpus.stats["train_sentences"] == 38 and corpus.stats["test_sentences"] == 10 and corpus.stats["valid_sentences"] == 2
    again = load_text_corpus(str(path), "", TextConfig(test_fraction=0.2))
    assert torch.equal(corpus.test, again.test)


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "files, extra, message",
    [
        ({"train.txt": "", "test.txt": "a b\n"}, [], "is empty"),
        ({"train.txt": "\n   \n\n", "test.txt": "a b\n"}, [], "no sentences left"),
        ({"train.jsonl": '{"text": "a b"}\n', "test.txt": "a b\n"}, ["--text-col", "caption"], "no column 'caption'"),
        ({"train.csv": "text\na b\n", "test.txt": "a b\n"}, ["--text-col", "caption"], "no column 'caption'"),
        ({"train.txt": "a dog\na cat\n", "test.txt": "zebra yak\n"}, [], "no test word is in the training vocabulary"),
        ({"train.jsonl": '{"text": "a b"}\n{broken\n', "test.txt": "a b\n"}, [], ":2: not valid JSON"),
    ],
)
def test_bad_text_input_is_one_line_exit_2_and_no_run_dir(tmp_path, capsys, files, extra, message):
    paths = [_write(tmp_path, name, text) for name, text in files.items()]
    out = tmp_path / "run"
    code = main(["train", "mle", "--data", paths[0], "--test", paths[1], "--preset", "smoke", "--out", str(out), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_a_name_that_is_not_a_file_is_tried_as_a_dataset_and_fails_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    out = tmp_path / "run"
    code = main(["train", "mle", "--data", "no-such-owner/no-such-dataset", "--preset", "smoke", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "is not a file" in err and len(err.splitlines()) == 1, err
    assert not out.exists()
