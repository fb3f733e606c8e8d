"""A tiny random Llama and a BPE tokenizer trained here, saved as an HF directory: offline and seeded;
and the fixtures the align tests share (a test module that imports them gets them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

# settings that keep an align run on the tiny model to seconds
TINY = ["--set", "eval.n_prompts=6", "--set", "generation.max_new_tokens=8", "--set", "disc.max_length=64"]

CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

CORPUS = [
    "You are a helpful AI assistant.",
    "Tell me something interesting about the moon. The moon is bright and far away.",
    "Arr, the sea be wide and the wind be strong, matey!",
    "Coffee is a drink made from roasted beans; people drink it in the morning.",
    "Write a short social media post about rainy days. Rain again, staying in with tea.",
    "Dogs and cats are friends sometimes. Gardening is fun in spring.",
] * 20


def build_tiny_llm(folder: Path, chat_template: bool = True, corpus: list[str] | None = None) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    specials = ["<pad>", "<unk>", "<|im_start|>", "<|im_end|>"]
    bpe.train_from_iterator(
        corpus or CORPUS, trainers.BpeTrainer(vocab_size=300, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, pad_token="<pad>", unk_token="<unk>", eos_token="<|im_end|>", bos_token="<|im_start|>"
    )
    if chat_template:
        tokenizer.chat_template = CHATML
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module", name="tiny_llm")
def tiny_llm_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llm(tmp_path_factory.mktemp("tiny-llm"))


@pytest.fixture(autouse=True, name="private_cache")
def private_cache_fixture(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Teacher answers and converted models go to this test session's cache, never the user's."""
    monkeypatch.setenv("SPARRING_CACHE", str(tmp_path_factory.getbasetemp() / "sparring-cache"))


@pytest.fixture(scope="module", name="pairs_file")
def pairs_file_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pairs") / "pairs.jsonl"
    rows = [{"topic": f"topic number {i}", "post": f"a post about topic {i}, short and sweet"} for i in range(30)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path

