"""``sparring report``: final metrics of one or more runs side by side, and an honest verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sparring.gans.api import Run, build_summary, pretrained_epochs
from sparring.gans.plots import plot_curves


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
    for key, meaning in (("nll_oracle", "quality: the oracle's NLL of generated text"),
                         ("nll_test", "coverage: the generator's NLL of held-out oracle text")):
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
    for key, better_high, meaning in (("bleu_4", True, "quality against the test set"),
                                      ("self_bleu_4", False, "diversity: lower means more varied samples"),
                                      ("nll_test", False, "coverage of held-out text")):
        ranked = sorted(scored, key=lambda r: -r[key] if better_high else r[key])
        best, runner_up = ranked[0], ranked[1]
        gap = abs(best[key] - runner_up[key])
        lines.append(f"{key}: {best['run']} leads by {gap:.3f} over {runner_up['run']} ({meaning}).")
    lines.append("One temperature can mislead: compare quality-diversity curves ('sparring evaluate RUN_DIR ... --temperature ...').")
    return lines


def write_curves(runs: list[Run], path: Path) -> None:
    plot_curves(
        [(run.path.name, run.metrics, (run.summary or {}).get("entropy_floor"), pretrained_epochs(run.config)) for run in runs], path
    )
