"""``sparring generate``: responses of an align run's model (a full model or a LoRA adapter)."""

from __future__ import annotations

from pathlib import Path

from sparring.devices import resolve_device
from sparring.errors import UserError
from sparring.llm.config import load_align_config, require_llm_stack
from sparring.runs import RunDir, require_algo


def generate_from_run(
    run_path: str | Path, prompts: list[str], n: int, temperature: float | None, max_new_tokens: int | None, seed: int
) -> list[str]:
    require_llm_stack()
    from sparring.hf.generation import chat_prompt, generate
    from sparring.hf.models import load_tokenizer, load_trained
    run = RunDir.open_existing(run_path)
    require_algo(run.path, run.read_config()["algo"], ["align"], "generate")
    if not (run.path / "model").is_dir():
        raise UserError(f"{run.path}: no trained model (the run has not finished)")
    cfg = load_align_config(run.read_config())
    tokenizer = load_tokenizer(str(run.path / "model"))
    model = load_trained(run.path / "model", resolve_device(cfg.device))
    texts = [chat_prompt(tokenizer, cfg.model.system_prompt, p) for p in prompts for _ in range(n)]
    g = cfg.generation
    temperature = g.temperature if temperature is None else temperature  # 0 is greedy, not "the run's"
    return generate(model, tokenizer, texts, max_new_tokens or g.max_new_tokens, temperature, g.top_p, g.batch_size, seed)
