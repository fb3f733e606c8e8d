"""What an RLVR run's ``samples.jsonl`` says about the completions it was rewarded for.

A pass-rate curve says how often the policy passed, not why it failed. Two starts that differ (RLVR
from RA3 against RLVR from NTP) may differ because one writes longer programs that the length cap
cuts off, because its programs do not parse, or because they parse and compute the wrong answer;
each calls for a different fix. ``describe_samples`` sorts the judged completions of one run into
those cases, over all steps and over the first and last steps apart, so that a change during
training shows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sparring.files import read_jsonl_log

OUTCOMES = ("passed", "wrong answer", "does not parse", "runtime error", "timed out")


def outcome(status: str) -> str:
    """The kind of a sandbox status: passed, wrong answer (a test's assert failed), does not parse
    (a syntax or indentation error: typically a program cut off mid-statement), runtime error
    (anything else raised while loading or calling it), timed out."""
    if status == "passed":
        return "passed"
    if status.startswith("timed out"):
        return "timed out"
    if "SyntaxError" in status or "IndentationError" in status:
        return "does not parse"
    if "AssertionError" in status or status.endswith("a test failed"):
        return "wrong answer"
    return "runtime error"


def describe_samples(rows: Sequence[dict[str, Any]], max_new_tokens: int, window: int = 3) -> dict[str, Any]:
    """Counts and shares over the judged completions of one run (rows of ``samples.jsonl``).

    ``at_cap``: the share whose generated length reached ``max_new_tokens`` (only rows that record
    ``tokens``); ``with_comment``: the share containing a ``#`` comment (RA3's latent thoughts);
    ``outcomes``: the share of each ``OUTCOMES`` kind; ``first`` / ``last``: the same over the first
    and last ``window`` steps; ``pass_share_at_cap`` / ``pass_share_ended``: the mean share of tests
    passed by completions that reached the cap and by those that ended before it."""
    if not rows:
        return {"completions": 0}

    def summary(part: Sequence[dict[str, Any]]) -> dict[str, Any]:
        lengths = [r["tokens"] for r in part if r.get("tokens") is not None]
        capped = [r for r in part if r.get("tokens") is not None and r["tokens"] >= max_new_tokens]
        ended = [r for r in part if r.get("tokens") is not None and r["tokens"] < max_new_tokens]
        kinds = [outcome(r["status"]) for r in part]
        return {
            "completions": len(part),
            "mean_pass_share": _mean(r["pass_share"] for r in part),
            "mean_tokens": _mean(lengths),
            "at_cap": len(capped) / len(lengths) if lengths else None,
            "with_comment": sum("#" in r["completion"] for r in part) / len(part),
            "outcomes": {k: kinds.count(k) / len(part) for k in OUTCOMES},
            "pass_share_at_cap": _mean(r["pass_share"] for r in capped),
            "pass_share_ended": _mean(r["pass_share"] for r in ended),
        }

    steps = sorted({r["step"] for r in rows if r.get("step") is not None})
    first, last = set(steps[:window]), set(steps[-window:])
    return {
        **summary(rows),
        "first": summary([r for r in rows if r.get("step") in first]),
        "last": summary([r for r in rows if r.get("step") in last]),
    }


def read_runs(runs: Sequence[str | Path]) -> dict[str, Any]:
    """``describe_samples`` over the pooled completions of one or more run directories (the seeds of
    one start), with the length cap from their ``config.json``, which must agree."""
    caps = {json.loads((Path(run) / "config.json").read_text())["max_new_tokens"] for run in runs}
    if len(caps) != 1:
        raise ValueError(f"runs with different max_new_tokens cannot be pooled: {sorted(caps)}")
    rows = [row for run in runs for row in read_jsonl_log(Path(run) / "samples.jsonl")]  # a live run's torn last line is left out
    return describe_samples(rows, caps.pop())


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None
