"""Asking a model for code: EvalPlus's chat convention, and the code extracted from an answer."""

from __future__ import annotations

from llm_fixtures import tiny_llm_fixture  # noqa: F401 - the tiny Llama and its tokenizer
from sparring.code.prompting import INSTRUCTION, RESPONSE_PREFIX, chat_code_prompt, default_style, extract_code, judged_completion


class Template:
    """A stand-in tokenizer with a ChatML-like template."""

    chat_template = "chatml"

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):  # noqa: ANN001
        assert not tokenize and add_generation_prompt
        return "".join(f"<|{m['role']}|>\n{m['content']}<|end|>\n" for m in messages) + "<|assistant|>\n"


def test_chat_prompt_is_evalplus_instruction_and_a_prefilled_python_fence() -> None:
    prompt = chat_code_prompt(Template(), 'def add(a, b):\n    """Add."""\n')
    assert prompt.startswith(f'<|user|>\n{INSTRUCTION}\n```\ndef add(a, b):\n    """Add."""\n```\n')
    assert prompt.endswith(f"<|assistant|>\n{RESPONSE_PREFIX}\n```python\n")
    assert default_style(Template()) == "chat"
    assert default_style(object()) == "completion"


def test_extract_code_from_the_shapes_answers_come_in() -> None:
    # inside the pre-filled block, closed by a fence (generation stops there)
    assert extract_code("def f():\n    return 1\n```") == "def f():\n    return 1"
    # no closing fence: the answer ran to the token limit, all of it is code
    assert extract_code("def f():\n    return 1\n") == "def f():\n    return 1"
    # several blocks: the first is the answer
    assert extract_code("def f():\n    return 1\n```\nTest it:\n```python\nprint(f())\n```") == "def f():\n    return 1"
    # the model opened a block of its own inside the pre-filled one
    assert extract_code("```python\ndef g():\n    pass\n```\nDone.") == "def g():\n    pass"
    # it closed the pre-filled block at once, explained, then wrote a block
    assert extract_code("```\nHere is the function:\n```python\ndef h():\n    return 2\n```") == "def h():\n    return 2"
    # no code at all
    assert extract_code("") == ""
    assert extract_code("```\nI cannot help with that.") == ""


def test_judged_completion_per_style() -> None:
    assert judged_completion("chat", "def f():\n    return 1\n```", ("\ndef ",)) == "\ndef f():\n    return 1"
    assert judged_completion("chat", "```\nno code here", ("\ndef ",)) == ""
    assert judged_completion("completion", "    return 1\ndef other():\n", ("\ndef ",)) == "    return 1"
    # the stripped prompt leaves its newline to the model: a completion opening with "\ndef " rewrites the function
    assert judged_completion("completion", "\ndef f():\n    return 1\ndef g", ("\ndef ",)) == "\ndef f():\n    return 1"


def test_a_continuation_prompt_ends_without_its_trailing_newline() -> None:
    from sparring.code.prompting import model_prompt

    assert model_prompt("completion", None, 'def f():\n    """Doc."""\n') == 'def f():\n    """Doc."""'


class CharTokenizer:
    """One token per character: enough to check what a stopping rule and the batching see."""

    def __call__(self, texts, add_special_tokens=False):  # noqa: ANN001
        return {"input_ids": [[ord(c) for c in t] for t in texts]}

    def batch_decode(self, rows, skip_special_tokens=True):  # noqa: ANN001
        return ["".join(chr(int(i)) for i in row) for row in rows]


def test_generation_stops_on_a_stop_string_in_the_generated_text_only() -> None:
    from sparring.hf.generation import stop_hits

    # the prompt "    return\n" ends in a newline: "\ndef " must not match across the prompt's end
    generated = [[ord(c) for c in "def f"], [ord(c) for c in "x\ndef "]]
    assert stop_hits(CharTokenizer(), generated, ["\ndef "]) == [False, True]
    assert stop_hits(CharTokenizer(), generated, []) == [False, False]
    opening = [[ord(c) for c in "\ndef f():\n    x"], [ord(c) for c in "\n    return 1\ndef g"]]
    assert stop_hits(CharTokenizer(), opening, ["\ndef "]) == [False, True]  # not at the completion's first newline
    assert stop_hits(CharTokenizer(), [[ord("\n")]], ["\n"]) == [True]  # a bare newline stop still ends at once (RA3's comments)
    # 54 characters: the decoded window (the last 24) opens with "\ndef ", in the middle of the completion, so it counts
    assert stop_hits(CharTokenizer(), [[ord(c) for c in "x" * 30 + "\ndef " + "y" * 19]], ["\ndef "]) == [True]


def test_a_completion_is_kept_up_to_the_token_that_completes_its_first_stop() -> None:
    from sparring.hf.generation import tokens_to_stop

    ids = [ord(c) for c in "\n    return a + b\nassert add(1, 2) == 3\n"]
    assert tokens_to_stop(CharTokenizer(), ids, ["\nassert "]) == len("\n    return a + b\nassert ")
    assert tokens_to_stop(CharTokenizer(), ids, ["\nclass "]) == len(ids)  # no stop: all of it
    assert tokens_to_stop(CharTokenizer(), ids, []) == len(ids)
    # the completion's own first newline is not a stop (the prompt left it to the model)
    assert tokens_to_stop(CharTokenizer(), [ord(c) for c in "\nassert x\nassert y"], ["\nassert "]) == len("\nassert x\nassert ")


def test_grpo_trains_only_on_the_tokens_before_the_stop(monkeypatch) -> None:  # noqa: ANN001
    trl = __import__("pytest").importorskip("trl")
    from sparring.hf.grpo import trainer_class

    texts = ["\n    return 1\nassert f() == 1", "\n    return 2"]

    def sampled(self, prompt_ids, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003 - what TRL's sampler returned
        return [[ord(c) for c in t] for t in texts], [[0.1] * len(t) for t in texts]

    monkeypatch.setattr(trl.GRPOTrainer, "_generate_single_turn", sampled)
    trainer = object.__new__(trainer_class())
    trainer.processing_class, trainer.stop_strings = CharTokenizer(), ("\nassert ",)
    ids, logprobs = trainer._generate_single_turn([[1], [1]], None, {}, 2)
    assert ["".join(map(chr, row)) for row in ids] == ["\n    return 1\nassert ", "\n    return 2"]
    assert [len(lp) for lp in logprobs] == [len("\n    return 1\nassert "), len(texts[1])]
    trainer.stop_strings = ()
    assert len(trainer._generate_single_turn([[1], [1]], None, {}, 2)[0][0]) == len(texts[0])  # no stops: TRL's as they are


def test_nucleus_sampling_keeps_the_smallest_set_reaching_top_p() -> None:
    import torch

    from sparring.hf.generation import sample_next

    # probabilities 0.5, 0.3, 0.15, 0.05: top_p 0.7 keeps the first two (0.5 < 0.7 <= 0.8), never the rest
    logits = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log().repeat(4000, 1)
    torch.manual_seed(0)
    drawn = sample_next(logits, 1.0, 0.7)
    assert set(drawn.tolist()) == {0, 1}
    assert abs((drawn == 0).float().mean().item() - 0.5 / 0.8) < 0.03
    assert sample_next(logits[:2], 0.0, 0.7).tolist() == [0, 0]  # temperature 0: argmax


def test_decoding_drops_finished_rows_and_matches_transformers_greedy(tiny_llm) -> None:  # noqa: ANN001
    """Left-padded prompts of different lengths, rows leaving at different steps: every row's text is
    what transformers' own greedy generate writes for it, cut at the same stop string."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sparring.hf.generation import generate

    tokenizer = AutoTokenizer.from_pretrained(tiny_llm)
    model = AutoModelForCausalLM.from_pretrained(tiny_llm).eval()
    prompts = ["def add(a, b):", "the quick brown fox jumps", "x", "import os\nimport sys\n"]
    tokenizer.padding_side = "left"
    enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        reference = model.generate(**enc, do_sample=False, max_new_tokens=24, pad_token_id=tokenizer.pad_token_id)
    full = tokenizer.batch_decode(reference[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    stop = next(c for c in full[0][1:] if c.strip())  # a character the first row writes: it stops early
    ours = generate(model, tokenizer, prompts, 24, 0.0, 1.0, 4, 0, raw=True, stop_strings=[stop])
    for theirs, mine in zip(full, ours, strict=True):
        cut = theirs.find(stop)
        assert mine.startswith(theirs[:cut] if cut >= 0 else theirs)
        assert stop in mine if cut >= 0 else mine == theirs
    assert len(ours[0]) < len(full[0])  # the first row did leave early


def test_code_sampling_batches_by_length_and_answers_in_prompt_order(monkeypatch) -> None:  # noqa: ANN001
    from sparring.code import lm
    from sparring.hf import generation

    seen: list[list[str]] = []

    def fake_generate(model, tokenizer, prompts, *args, stop_strings=None, **kwargs):  # noqa: ANN001
        seen.append(list(prompts))
        return [f"{p}|done\n# stop here" for p in prompts]

    monkeypatch.setattr(generation, "generate", fake_generate)
    prompts = ["long prompt", "s", "mid"]
    out = lm.sample_completions(None, CharTokenizer(), prompts, 2, 0.8, 16, 4, 0, ["\n#"])
    assert seen == [["s", "s", "mid", "mid", "long prompt", "long prompt"]]  # shortest first, a task's samples together
    assert out == [[f"{p}|done"] * 2 for p in prompts]  # back in the order asked, each cut at its stop


def test_a_fence_inside_a_string_literal_does_not_cut_the_code_short() -> None:
    inline = 'def fence():\n    return "```"\n```\nThat is all.'
    assert extract_code(inline) == 'def fence():\n    return "```"'
    docstring = 'def f():\n    """Shows markdown:\n```python\nx = 1\n```\n    """\n    return 1\n```\nDone.'
    assert extract_code(docstring) == 'def f():\n    """Shows markdown:\n```python\nx = 1\n```\n    """\n    return 1'
    own_block = '```python\ndef h():\n    s = """\n```\n"""\n    return s\n```\nDone.'
    assert extract_code(own_block) == 'def h():\n    s = """\n```\n"""\n    return s'
    # generation ends at a fence that begins a line, never at one inside a line of code
    from sparring.code.prompting import CHAT_STOP
    from sparring.hf.generation import first_stop

    assert first_stop(inline, CHAT_STOP) == inline.index("\n```")
