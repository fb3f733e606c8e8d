"""What the generator learns to imitate: (prompt, real response) pairs, split into train and held-out.

``imitation`` is the LLM analogue of the oracle benchmark. A hidden teacher (the same base model
under a style instruction the student never sees) answers the 500 shipped prompts; its answers are
the "real" data. Because the teacher is a model we hold, the teacher's NLL of the student's answers
measures how close the student came, which no real-data benchmark can.

``data`` reads pairs from a .csv/.jsonl/.parquet file (e.g. TWON: ``annotation`` -> ``full_text``).
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sparring.data.text import read_columns
from sparring.errors import UserError
from sparring.files import atomic_write_text, read_jsonl_log
from sparring.hf.models import cache_dir
from sparring.llm.config import AlignConfig


@dataclass
class PairData:
    train_prompts: list[str]
    train_responses: list[str]
    eval_prompts: list[str]
    eval_responses: list[str]
    source: str

    def stats(self) -> dict[str, object]:
        words = [len(r.split()) for r in self.train_responses]
        return {
            "source": self.source,
            "train_pairs": len(self.train_prompts),
            "eval_pairs": len(self.eval_prompts),
            "mean_response_words": round(sum(words) / max(len(words), 1), 2),
        }


def imitation_prompts() -> list[str]:
    text = resources.files("sparring.llm").joinpath("imitation_prompts.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def prompts_needed(cfg: AlignConfig) -> int:
    """Training prompts a run can consume: GRPO batches and D pre-training batches, whichever is more."""
    return max(cfg.train.steps * cfg.train.prompts_per_step, cfg.disc.pretrain_steps * cfg.disc.pretrain_batch, 1)


def split_imitation_prompts(cfg: AlignConfig) -> tuple[list[str], list[str]]:
    """Held-out prompts are a fixed slice of the shipped file, so every run is evaluated on the same ones."""
    prompts = imitation_prompts()
    n_eval = max(int(round(len(prompts) * cfg.task.test_fraction)), 1)
    held_out, train = prompts[:n_eval], prompts[n_eval:]
    return train[: min(len(train), prompts_needed(cfg))], held_out[: cfg.eval.n_prompts]


def load_pairs(cfg: AlignConfig) -> PairData:
    """Pairs of the data task, validated: named columns, no empty response, a held-out split."""
    t = cfg.task
    columns = [t.prompt_col, t.response_col]
    table = read_columns(t.data, columns, hint="--prompt-col/--response-col")
    pairs = _checked_pairs(t.data, table, t.prompt_col, t.response_col)
    if t.max_examples:
        pairs = pairs[: t.max_examples]
    if t.test_data:
        test = read_columns(t.test_data, columns, hint="--prompt-col/--response-col")
        held_out = _checked_pairs(t.test_data, test, t.prompt_col, t.response_col)
        random.Random(cfg.seed).shuffle(held_out)
        train = pairs
    else:
        random.Random(cfg.seed).shuffle(pairs)
        n_eval = max(int(round(len(pairs) * t.test_fraction)), 1)
        held_out, train = pairs[:n_eval], pairs[n_eval:]
    if len(train) < 2:
        raise UserError(f"{t.data}: {len(train)} training pairs after holding out the test split; need at least 2")
    held_out = held_out[: cfg.eval.n_prompts]
    return PairData([p for p, _ in train], [r for _, r in train], [p for p, _ in held_out], [r for _, r in held_out], source=t.data)


def _checked_pairs(source: str, table: dict[str, list[str]], prompt_col: str, response_col: str) -> list[tuple[str, str]]:
    prompts, responses = table[prompt_col], table[response_col]
    if not prompts:
        raise UserError(f"{source}: no rows")
    for row, (prompt, response) in enumerate(zip(prompts, responses, strict=True), start=1):
        if not response.strip():
            raise UserError(f"{source}: row {row}: empty response in column '{response_col}'")
        if not prompt.strip():
            raise UserError(f"{source}: row {row}: empty prompt in column '{prompt_col}'")
    return list(zip(prompts, responses, strict=True))


# ---- the imitation teacher ------------------------------------------------------------------


def _model_identity(model_path: str) -> list[str]:
    """The model's directory and its weights file's size and modification time: a retrained model is another model."""
    weights = Path(model_path) / "model.safetensors"
    identity = f"{weights.stat().st_size}:{weights.stat().st_mtime_ns}" if weights.is_file() else model_path
    return [str(Path(model_path).resolve()), identity]


def teacher_cap(cfg: AlignConfig) -> int:
    """The teacher's token cap: its own (``task.teacher_max_new_tokens``), or the student's."""
    return cfg.task.teacher_max_new_tokens or cfg.generation.max_new_tokens


def teacher_cache_path(model_path: str, cfg: AlignConfig, draw: int = 0) -> Path:
    """One cache file per (model weights, hidden instruction, sampling settings, seed, draw)."""
    g = cfg.generation
    key = json.dumps(
        [*_model_identity(model_path), cfg.task.teacher_instruction, teacher_cap(cfg), g.temperature, g.top_p, cfg.seed]
        + ([draw] if draw else [])  # draw 0 keeps the key caches had before there were several draws
    )
    return cache_dir() / "teacher" / (hashlib.sha256(key.encode()).hexdigest()[:16] + ".jsonl")


def base_model_samples(model, tokenizer, model_path: str, cfg: AlignConfig, prompt_texts: list[str], seed: int) -> list[str]:
    """The base model's answers to the held-out prompts ("before" of an evaluation), cached: every run of
    one base model, prompt set, sampling settings and seed would otherwise sample the same answers again."""
    from sparring.hf.generation import generate

    g = cfg.generation
    key = json.dumps([*_model_identity(model_path), prompt_texts, g.max_new_tokens, g.temperature, g.top_p, g.batch_size, seed])
    path = cache_dir() / "before" / (hashlib.sha256(key.encode()).hexdigest()[:16] + ".json")
    if path.is_file():
        try:
            cached = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(cached, list) and len(cached) == len(prompt_texts):
                return cached
        except json.JSONDecodeError:
            pass  # a torn file: sample again
    answers = generate(model, tokenizer, prompt_texts, g.max_new_tokens, g.temperature, g.top_p, g.batch_size, seed, "before")
    atomic_write_text(path, json.dumps(answers))
    return answers


def teacher_responses(model, tokenizer, model_path: str, cfg: AlignConfig, prompts: list[str], draw: int = 0) -> list[str]:
    """The teacher's answer to each prompt, sampled once and cached (appended as they are made).
    ``draw`` k > 0: another, independent answer to each prompt (evaluation's extra real responses)."""
    from sparring.hf.generation import chat_prompt, generate

    path = teacher_cache_path(model_path, cfg, draw)
    cached: dict[str, str] = {}
    for record in read_jsonl_log(path):  # a torn last line (an interrupted run): that prompt is sampled again
        cached[record["prompt"]] = record["response"]
    missing = [p for p in dict.fromkeys(prompts) if p not in cached]
    if missing:
        texts = [chat_prompt(tokenizer, cfg.task.teacher_instruction, p) for p in missing]
        g = cfg.generation
        seed = cfg.seed + 7919 + 104_723 * draw
        answers = generate(model, tokenizer, texts, teacher_cap(cfg), g.temperature, g.top_p, g.batch_size, seed, "teacher")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            for prompt, answer in zip(missing, answers, strict=True):
                handle.write(json.dumps({"prompt": prompt, "response": answer}) + "\n")
                cached[prompt] = answer
    return [cached[p] for p in prompts]


def imitation_pairs(model, tokenizer, model_path: str, cfg: AlignConfig) -> PairData:
    train, held_out = split_imitation_prompts(cfg)
    answers = dict(zip(train + held_out, teacher_responses(model, tokenizer, model_path, cfg, train + held_out), strict=True))
    train = [p for p in train if answers[p].strip()]  # a teacher that answered nothing gives no example
    held_out = [p for p in held_out if answers[p].strip()]
    return PairData(train, [answers[p] for p in train], held_out, [answers[p] for p in held_out], source="imitation")
