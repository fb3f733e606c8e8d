"""The evaluation of an align run: the base model (before) and the run's model (after) against the
held-out real responses, with intervals over prompts; written as evaluation.json / .md and samples.csv."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sparring.devices import resolve_device
from sparring.errors import UserError
from sparring.files import atomic_write_json, atomic_write_text, read_jsonl_log
from sparring.llm.config import AlignConfig, load_align_config
from sparring.runs import RunDir


def _read_pairs_file(path: Path) -> tuple[list[str], list[str]]:
    rows = read_jsonl_log(path)
    return [r["prompt"] for r in rows], [r["response"] for r in rows]


def evaluate_run(
    run_path: Path,
    policy: Any = None,
    tokenizer: Any = None,
    reference: Any = None,
    cfg: AlignConfig | None = None,
    model_path: str | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """Before (the base model) and after (the run's model) on the run's held-out pairs.

    Writes evaluation.json, evaluation.md and samples.csv into the run directory.
    """
    from sparring.critics.discriminators import resolve_encoder
    from sparring.hf.generation import chat_prompt, generate, pooled_nll, response_nlls, sequence_kls
    from sparring.hf.models import load_causal_lm, load_tokenizer, load_trained
    from sparring.llm.evaluation import (
        SentenceEmbedder,
        capped_share,
        compare_sets,
        diversity_on,
        diversity_statistics,
        prompt_clusters,
        with_intervals,
        write_predictions,
    )
    from sparring.llm.tasks import base_model_samples
    from sparring.metrics.intervals import cluster_jackknife

    run = RunDir.open_existing(run_path)
    data = run.read_config()
    cfg = cfg or load_align_config(data)
    model_path = model_path or data.get("model_path")
    if not model_path or model_path.startswith("/") and not Path(model_path).exists():
        raise UserError(f"{run.path}: base model {model_path} is gone; cannot evaluate before/after")
    device = device or resolve_device(cfg.device)
    if policy is None:
        if not (run.path / "model").is_dir():
            raise UserError(f"{run.path}: no trained model (the run has not finished)")
        tokenizer = load_tokenizer(str(run.path / "model"))
        policy = load_trained(run.path / "model", device)
    reference = reference or load_causal_lm(model_path, device)
    prompts, real = _read_pairs_file(run.path / "eval_pairs.jsonl")
    index = {p: i for i, p in enumerate(dict.fromkeys(prompts))}
    groups = [index[p] for p in prompts]  # the unit of every interval: a prompt with all its responses
    clusters = prompt_clusters(groups)
    g = cfg.generation
    public = [chat_prompt(tokenizer, cfg.model.system_prompt, p) for p in prompts]
    before = base_model_samples(reference, tokenizer, model_path, cfg, public, cfg.seed + 31)
    after = generate(policy, tokenizer, public, g.max_new_tokens, g.temperature, g.top_p, g.batch_size, cfg.seed + 31, "after")
    embedder = SentenceEmbedder(resolve_encoder("minilm"), device)
    real_stats = diversity_statistics(real)
    result: dict[str, Any] = {
        "n_prompts": len(clusters),
        "responses_per_prompt": round(len(prompts) / len(clusters), 2),
        "real": with_intervals(lambda items: diversity_on(real_stats, items), clusters, ("distinct_2", "self_bleu_4", "mean_words")),
    }
    result["before"] = compare_sets(embedder, real, before, groups, cfg.eval.folds, cfg.seed)
    result["after"] = compare_sets(embedder, real, after, groups, cfg.eval.folds, cfg.seed)

    def add(name: str, key: str, values: list, pooled: Any) -> None:
        """A per-response metric on ``name``'s row, with its interval over prompts."""
        value, low, high = cluster_jackknife(lambda items: pooled([values[i] for i in items]), clusters)
        result[name][key] = value
        result[name].setdefault("ci", {})[key] = [low, high]

    def mean(values: list) -> float:
        return sum(values) / max(len(values), 1)

    # The length shortcut: the share of each set that reaches the generation cap (a real answer that
    # long would be cut too); re-tokenised text, so a count can be off by a token at the edges.
    cap = g.max_new_tokens
    for name, responses in (("real", real), ("before", before), ("after", after)):
        lengths = [len(tokenizer(r, add_special_tokens=False)["input_ids"]) for r in responses]
        add(name, "capped_share", lengths, lambda values: capped_share(values, cap))
    result["cap_tokens"] = cap
    result["before"]["kl_to_reference"] = 0.0
    add("after", "kl_to_reference", sequence_kls(policy, reference, tokenizer, public, after, g.batch_size), mean)
    # Coverage, the NLL-test analogue: how likely each model finds the real held-out responses.
    add("before", "nll_of_real", response_nlls(reference, tokenizer, public, real, g.batch_size), pooled_nll)
    add("after", "nll_of_real", response_nlls(policy, tokenizer, public, real, g.batch_size), pooled_nll)
    if cfg.task.name == "imitation":
        hidden = [chat_prompt(tokenizer, cfg.task.teacher_instruction, p) for p in prompts]
        for name, responses in (("real", real), ("before", before), ("after", after)):
            add(name, "teacher_nll", response_nlls(reference, tokenizer, hidden, responses, g.batch_size), pooled_nll)
    write_predictions(run.path / "samples.csv", prompts, real, before, after)
    atomic_write_json(run.path / "evaluation.json", result)
    atomic_write_text(run.path / "evaluation.md", evaluation_markdown(result))
    return result


COLUMNS = [
    ("c2st_acc", "two-sample acc (0.5 = indistinguishable)"),
    ("frechet", "Frechet (MiniLM)"),
    ("mauve", "MAUVE (MiniLM)"),
    ("capped_share", "cut at the cap"),
    ("teacher_nll", "teacher NLL"),
    ("nll_of_real", "model NLL of real"),
    ("kl_to_reference", "KL to base"),
    ("distinct_2", "distinct-2"),
    ("self_bleu_4", "Self-BLEU-4"),
    ("mean_words", "mean words"),
]


def evaluation_markdown(result: dict[str, Any]) -> str:
    k = result.get("responses_per_prompt", 1)
    lines = [
        f"held-out prompts: {result['n_prompts']}, responses per prompt: {k:g}; each cell: value [95% interval over prompts]",
        "",
        "| set | " + " | ".join(c[1] for c in COLUMNS) + " |",
        "|---|" + "---|" * len(COLUMNS),
    ]
    for name in ("real", "before", "after"):
        row = result.get(name, {})
        cells = []
        for key, _ in COLUMNS:
            value, ci = row.get(key), row.get("ci", {}).get(key)
            if value is None:
                cells.append("-")
            elif ci:
                cells.append(f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]")
            else:
                cells.append(f"{value:.3f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
