"""Real text: reading sentence files, a word-level vocabulary, and fixed-length id tensors.

Conventions (docs/gans.md repeats them):
- One sentence per example. Plain ``.txt`` files hold one sentence per line; ``.jsonl``, ``.csv``
  and ``.parquet`` files hold one per row, in the column ``text_col``. Anything else that is not a
  file is tried as a Hugging Face ``datasets`` name (online machines only).
- Words are lower-cased (unless ``lowercase=False``) runs of letters, digits and apostrophes, and
  every other non-space character is a word of its own: ``"a dog."`` -> ``a dog .``.
- Id 0 is ``<eos>``, which ends every sentence and pads it to the fixed length; id 1 is ``<unk>``.
  The vocabulary holds the ``vocab_size - 2`` most frequent training words (ties broken
  alphabetically, so the vocabulary is a pure function of the training file).
- A sentence longer than ``max_len`` words is truncated to ``max_len``; how many were is counted
  and reported. The tensor length is ``max_len + 1``, so every sentence keeps its ``<eos>``.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from sparring.errors import UserError

EOS, UNK = "<eos>", "<unk>"
EOS_ID, UNK_ID = 0, 1
_WORD = re.compile(r"[\w']+|[^\w\s]")
TABLE_SUFFIXES = {".jsonl", ".csv", ".parquet"}


def tokenize(text: str, lowercase: bool = True) -> list[str]:
    return _WORD.findall(text.lower() if lowercase else text)


def read_sentences(source: str, text_col: str = "text", split: str = "train") -> list[str]:
    """The raw sentences of a file (by suffix) or of a Hugging Face dataset split."""
    path = Path(source)
    if path.exists() and path.suffix.lower() not in TABLE_SUFFIXES and not path.is_dir():
        try:
            return path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise UserError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    return read_columns(source, [text_col], split, hint="--text-col")[text_col]


def read_columns(source: str, columns: list[str], split: str = "train", hint: str = "--text-col") -> dict[str, list[str]]:
    """Named columns of a .jsonl/.csv/.parquet file or a Hugging Face dataset, as strings (None -> "").

    ``hint`` names the option that chooses the columns, for the error message when one is missing.
    """
    path = Path(source)
    if path.is_dir():
        raise UserError(f"{source}: is a directory, expected a text, .jsonl, .csv or .parquet file")
    if not path.exists():
        if path.suffix.lower() in TABLE_SUFFIXES | {".txt"} or "/" in source and source.startswith((".", "/")):
            raise UserError(f"data file not found: {source}")
        return _read_hf_dataset(source, columns, split, hint)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise UserError(f"{source}: expected a .jsonl, .csv or .parquet file")
    try:
        reader = {".jsonl": _read_jsonl, ".csv": _read_csv, ".parquet": _read_parquet}[suffix]
        return reader(path, columns, hint)
    except UnicodeDecodeError as exc:
        raise UserError(f"{source}: not UTF-8 text (byte {exc.start})") from None


def _missing(where: str, columns: list[str], present: list[str], hint: str) -> None:
    absent = [c for c in columns if c not in present]
    if absent:
        raise UserError(f"{where}: no column '{absent[0]}' (columns: {', '.join(present)}; set it with {hint})")


def _as_text(value: object) -> str:
    return "" if value is None else str(value)


def jsonl_objects(path: Path) -> list[tuple[int, dict]]:
    """(line number, object) for each non-blank line; a line that is not a JSON object is a UserError naming it."""
    out = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}: not UTF-8 text (a binary file?)") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise UserError(f"{path}:{number}: not a JSON object")
        out.append((number, record))
    return out


def _read_jsonl(path: Path, columns: list[str], hint: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {c: [] for c in columns}
    for number, record in jsonl_objects(path):
        _missing(f"{path}:{number}", columns, list(record), hint)
        for c in columns:
            out[c].append(_as_text(record[c]))
    return out


def _read_csv(path: Path, columns: list[str], hint: str) -> dict[str, list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:
            return {c: [] for c in columns}
        _missing(str(path), columns, list(reader.fieldnames), hint)
        rows = list(reader)
    return {c: [row[c] or "" for row in rows] for c in columns}


def _read_parquet(path: Path, columns: list[str], hint: str) -> dict[str, list[str]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UserError(f"{path}: reading .parquet needs pyarrow (pip install pyarrow)") from None
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise UserError(f"{path}: not a readable parquet file ({exc})") from None
    _missing(str(path), columns, table.column_names, hint)
    return {c: [_as_text(v) for v in table.column(c).to_pylist()] for c in columns}


def _read_hf_dataset(name: str, columns: list[str], split: str, hint: str) -> dict[str, list[str]]:
    try:
        import datasets
    except ImportError:
        raise UserError(f"'{name}' is not a file, and reading Hugging Face datasets needs 'pip install datasets'") from None
    try:
        ds = datasets.load_dataset(name, split=split)
    except Exception as exc:  # offline, unknown name, missing split: all one line for the user
        raise UserError(f"'{name}' is not a file and could not be loaded as a Hugging Face dataset ({type(exc).__name__}: {exc})") from None
    _missing(f"dataset {name}", columns, ds.column_names, hint)
    return {c: [_as_text(v) for v in ds[c]] for c in columns}


@dataclass
class Vocabulary:
    words: list[str]  # index = id; words[0] == EOS, words[1] == UNK

    @classmethod
    def build(cls, sentences: list[list[str]], max_size: int) -> Vocabulary:
        counts = Counter(w for s in sentences for w in s)
        ranked = sorted(counts, key=lambda w: (-counts[w], w))
        return cls([EOS, UNK, *ranked[: max(max_size - 2, 0)]])

    def __len__(self) -> int:
        return len(self.words)

    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    def decode(self, ids: list[int]) -> str:
        """Words up to (not including) the first ``<eos>``."""
        out = []
        for i in ids:
            if i == EOS_ID:
                break
            out.append(self.words[i])
        return " ".join(out)


@dataclass
class EncodedText:
    ids: torch.Tensor  # (n, max_len + 1), padded with EOS
    truncated: int  # sentences cut to max_len words
    unk_rate: float  # share of word tokens mapped to <unk>


def encode(sentences: list[list[str]], vocab: Vocabulary, max_len: int) -> EncodedText:
    lookup = vocab.index()
    ids = torch.full((len(sentences), max_len + 1), EOS_ID, dtype=torch.long)
    truncated = unknown = total = 0
    for row, words in enumerate(sentences):
        if len(words) > max_len:
            truncated += 1
            words = words[:max_len]
        encoded = [lookup.get(w, UNK_ID) for w in words]
        unknown += sum(1 for i in encoded if i == UNK_ID)
        total += len(encoded)
        ids[row, : len(encoded)] = torch.tensor(encoded, dtype=torch.long)
    return EncodedText(ids, truncated, unknown / max(total, 1))


def eos_mask(tokens: torch.Tensor, eos: int = EOS_ID) -> torch.Tensor:
    """1.0 for every token up to and including the first ``eos`` of its row, 0.0 after it.

    The tokens after a sentence's end are padding: they are neither scored nor trained on.
    """
    is_eos = (tokens == eos).long()
    ended_before = is_eos.cumsum(dim=1) - is_eos  # number of eos strictly before each position
    return (ended_before == 0).float()


def pad_after_eos(tokens: torch.Tensor, eos: int = EOS_ID) -> torch.Tensor:
    """Generated rows with everything after their first ``eos`` replaced by ``eos`` padding,
    so generated and real sentences look alike to a discriminator."""
    return torch.where(eos_mask(tokens, eos) > 0, tokens, torch.full_like(tokens, eos))
