"""A tiny MBPP-format task file and a tiny random causal LM whose tokenizer knows Python: offline and seeded."""

from __future__ import annotations

import json
from pathlib import Path

from llm_fixtures import build_tiny_llm

TASKS = [
    (11, "Write a function to add two numbers.", "def add(a, b):\n    return a + b", ["assert add(1, 2) == 3", "assert add(0, 0) == 0"]),
    (12, "Write a function to square a number.", "def square(x):\n    return x * x", ["assert square(3) == 9", "assert square(-2) == 4"]),
    (
        601,
        "Write a function to sum the even numbers of a list.",
        "def sum_even(xs):\n    total = 0\n    for x in xs:\n        if x % 2 == 0:\n            total += x\n    return total",
        ["assert sum_even([1, 2, 4]) == 6", "assert sum_even([]) == 0", "assert sum_even([3]) == 0"],
    ),
    (
        602,
        "Write a function to reverse a string.",
        "def reverse(s):\n    out = ''\n    for ch in s:\n        out = ch + out\n    return out",
        ["assert reverse('ab') == 'ba'", "assert reverse('') == ''"],
    ),
    (
        603,
        "Write a function to find the largest number in a list.",
        "def largest(xs):\n    best = xs[0]\n    for x in xs[1:]:\n        if x > best:\n            best = x\n    return best",
        ["assert largest([1, 5, 2]) == 5", "assert largest([-1]) == -1"],
    ),
]


def write_tiny_mbpp(path: Path) -> Path:
    rows = [{"source_file": "t", "task_id": i, "prompt": p, "code": c, "test_imports": [], "test_list": tests} for i, p, c, tests in TASKS]
    path.write_text(json.dumps(rows))
    return path


def write_tiny_plus(path: Path) -> Path:
    """Two HumanEval+-format tasks: integer outputs, and float outputs with an atol."""
    import gzip

    tasks = [
        {"task_id": "T/0", "prompt": "def inc(x):\n", "entry_point": "inc", "canonical_solution": "    return x + 1\n",
         "base_input": [[1], [2]], "plus_input": [[10**6], [-5]], "atol": 0},
        {"task_id": "T/1", "prompt": "def half(x):\n", "entry_point": "half", "canonical_solution": "    return x / 2\n",
         "base_input": [[1.0]], "plus_input": [[3.0], [1e-9]], "atol": 1e-6},
    ]  # fmt: skip
    with gzip.open(path, "wt") as handle:
        handle.write("".join(json.dumps({**t, "test": "", "contract": ""}) + "\n" for t in tasks))
    return path


def build_tiny_code_llm(folder: Path) -> Path:
    corpus = [f'"""\n{p}\n{tests[0]}\n"""\n{c}\n# add the numbers\n' for _, p, c, tests in TASKS] * 30
    return build_tiny_llm(folder, chat_template=False, corpus=corpus)
