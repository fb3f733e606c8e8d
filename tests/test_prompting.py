"""Asking a model for code: EvalPlus's chat convention, and the code extracted from an answer."""

from __future__ import annotations

from sparring.code.prompting import INSTRUCTION, RESPONSE_PREFIX, chat_code_prompt, default_style, extract_code, judged_completion


class Template:
    """A stand-in tokenizer with a ChatML-like template."""

    chat_template = "chatml"

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):  # noqa: ANN001
        assert not tokenize and add_generation_prompt
        return "".join(f"<|{m['role']}|>\n{m['content']}<|end|>\n" for m in messages) + "<|assistant|>\n"


def test_chat_prompt_is_evalplus_instruction_and_a_prefilled_python_fence() -> None:
    prompt = chat_code_prompt(Template(), "def add(a, b):\n    \"\"\"Add.\"\"\"\n")
    assert prompt.startswith(f"<|user|>\n{INSTRUCTION}\n```\ndef add(a, b):\n    \"\"\"Add.\"\"\"\n```\n")
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
