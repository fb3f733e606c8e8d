"""``sparring report``: final metrics of one or more runs side by side, and an honest verdict.

Three kinds of line: the single-temperature comparison (final metrics), the frontier comparison
at matched coverage (from ``sparring evaluate``'s temperature sweep, when every run has one), and
collapse flags (samples much shorter or less varied than the data's).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sparring.gans.api import Run, build_summary, pretrained_epochs
from sparring.gans.frontier import compare_fronts
from sparring.gans.plots import plot_curves

COLLAPSE_SHARE = 0.7  # below this share of the data's mean length or distinct-2, a run is flagged as collapsed


def report_rows(runs: list[Run]) -> list[dict[str, Any]]:
    """One row per run, plus the MLE-pretrained starting point of a SeqGAN run that has one."""
    rows = []
    for run in runs:
        metrics = run.metrics
        summary = run.summary or build_summary(metrics, {}, None)
        final = summary["final"]
        name = run.path.name
        start = _adversarial_start(metrics)
        if start is not None and len(runs) == 1:
            rows.append(_row(f"{name} (MLE-pretrained)", "mle", start, summary, run))
        best = summary.get("mle_best")
        if run.config.algo == "mle" and best and best.get("epoch") != final.get("step"):
            rows.append(_row(f"{name} (best valid)", "mle", {"phase": "mle", "step": best["epoch"], **best}, summary, run))
        rows.append(_row(name, run.config.algo, final, summary, run))
    return rows


def _adversarial_start(metrics: list[dict[str, Any]]) -> dict[str, Any] | None:
    for r in metrics:
        if r.get("phase") == "adversarial" and r.get("step") == 0 and r.get("nll_oracle") is not None:
            return r
    return None


def _row(name: str, algo: str, values: dict[str, Any], summary: dict[str, Any], run: Run) -> dict[str, Any]:
    return {
        "run": name,
        "algo": algo,
        "at": f"{values.get('phase')} {values.get('step')}" if values.get("phase") else "-",
        "nll_oracle": values.get("nll_oracle"),
        "nll_test": values.get("nll_test"),
        "bleu_4": values.get("bleu_4"),
        "self_bleu_4": values.get("self_bleu_4"),
        "nll_valid": values.get("nll_valid"),
        "d_accuracy": summary.get("d_accuracy"),
        "mean_words": values.get("mean_words"),
        "distinct_2": values.get("distinct_2"),
        "data_distinct_2": values.get("data_distinct_2"),
        "data": summary.get("data") or {},
        "entropy_floor": summary.get("entropy_floor"),
        "wall_time_s": summary.get("wall_time_s"),
        "status": "complete" if run.complete else "incomplete",
    }


def verdict(rows: list[dict[str, Any]]) -> list[str]:
    """Which row leads on each metric and by how much; lower is better for both NLLs."""
    if any(r["nll_oracle"] is None and r["bleu_4"] is not None for r in rows):
        return _text_verdict(rows)
    lines = []
    scored = [r for r in rows if r["nll_oracle"] is not None and r["nll_test"] is not None]
    if len(scored) < 2:
        return lines
    for key, meaning in (
        ("nll_oracle", "quality: the oracle's NLL of generated text"),
        ("nll_test", "coverage: the generator's NLL of held-out oracle text"),
    ):
        ranked = sorted(scored, key=lambda r: r[key])
        best, runner_up = ranked[0], ranked[1]
        gap = runner_up[key] - best[key]
        if gap < 1e-3:
            lines.append(f"{key}: {best['run']} and {runner_up['run']} are level ({meaning}).")
        else:
            lines.append(f"{key}: {best['run']} is ahead by {gap:.3f} nats over {runner_up['run']} ({meaning}).")
    return lines


def _text_verdict(rows: list[dict[str, Any]]) -> list[str]:
    """Real text: BLEU-4 (quality, higher is better), Self-BLEU-4 (diversity, lower is better), NLL-test (lower)."""
    scored = [r for r in rows if r["bleu_4"] is not None]
    lines = []
    if len(scored) < 2:
        return lines
    for key, better_high, meaning in (
        ("bleu_4", True, "quality against the test set"),
        ("self_bleu_4", False, "diversity: lower means more varied samples"),
        ("nll_test", False, "coverage of held-out text"),
    ):
        ranked = sorted(scored, key=lambda r: -r[key] if better_high else r[key])
        best, runner_up = ranked[0], ranked[1]
        gap = abs(best[key] - runner_up[key])
        lines.append(f"{key}: {best['run']} leads by {gap:.3f} over {runner_up['run']} ({meaning}).")
    lines.append("One temperature can mislead: compare quality-diversity curves ('sparring evaluate RUN_DIR ... --temperature ...').")
    return lines


def collapse_flags(rows: list[dict[str, Any]]) -> list[str]:
    """Runs whose samples are much shorter, or much less varied, than the real test sentences."""
    lines = []
    for r in rows:
        data = r["data"]
        distinct_reference = r.get("data_distinct_2") or data.get("test_distinct_2")  # same-size real set when logged
        for key, reference in (("mean_words", data.get("test_mean_words")), ("distinct_2", distinct_reference)):
            if r.get(key) is not None and reference and r[key] < COLLAPSE_SHARE * reference:
                lines.append(f"collapsed: {r['run']}'s {key} is {r[key]:.3f}, below {COLLAPSE_SHARE:.0%} of the data's {reference:.3f}")
    return lines


def sweep_rows(run: Run) -> list[dict[str, Any]] | None:
    """The run's temperature sweep (``sparring evaluate``), or None when it has none."""
    path = run.path / "evaluation" / "temperatures.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def frontier_verdicts(runs: list[Run]) -> list[str]:
    """Every run against the first at matched coverage, from their temperature sweeps.

    Oracle: NLL-oracle at equal NLL-test; text: BLEU-4 at equal Self-BLEU-4 (both by interpolation
    along each run's Pareto front). One line per comparison; nothing when a run has no sweep."""
    sweeps = [sweep_rows(run) for run in runs]
    if len(runs) < 2 or any(not s for s in sweeps):
        return []
    text = sweeps[0][0].get("nll_oracle") is None
    x_key, y_key, sign = ("self_bleu_4", "bleu_4", -1.0) if text else ("nll_test", "nll_oracle", 1.0)
    what = "BLEU-4 at equal Self-BLEU-4" if text else "NLL-oracle at equal NLL-test"
    fronts = [[(r[x_key], sign * r[y_key]) for r in rows] for rows in sweeps]
    base = runs[0].path.name
    lines = []
    for run, front in zip(runs[1:], fronts[1:], strict=True):
        name = run.path.name
        result = compare_fronts(front, fronts[0])
        if result["verdict"] == "no overlap":
            lines.append(f"frontier ({what}): {name} vs {base}: their sweeps share no {x_key} range; sweep more temperatures")
            continue
        low, high = result["range"]
        span = f"over {x_key} {low:.3f}-{high:.3f}"
        gap = abs(result["mean_gap"])
        verdict = {
            "a dominates": f"{name} dominates {base} (better by {gap:.3f} on average {span})",
            "b dominates": f"{base} dominates {name} (better by {gap:.3f} on average {span})",
            "level": f"{name} and {base} are level {span}",
            "cross": f"the curves cross at {x_key} " + ", ".join(f"{x:.3f}" for x in result["crossings"]) + f" ({span})",
        }[result["verdict"]]
        lines.append(f"frontier ({what}, one seed: no interval; bench/ gives seeds): {verdict}")
    return lines


def write_curves(runs: list[Run], path: Path) -> None:
    plot_curves(
        [(run.path.name, run.metrics, (run.summary or {}).get("entropy_floor"), pretrained_epochs(run.config)) for run in runs], path
    )
