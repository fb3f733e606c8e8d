"""How a model is asked for code, and what of its answer is judged.

Two styles, one per kind of model:
- ``completion``: the benchmark prompt (a signature with its docstring, or MBPP's task docstring)
  is continued as plain text and cut at the benchmark's stop sequences. How base and mid-trained
  models are evaluated, and the format RA3 trains in.
- ``chat``: EvalPlus's convention for instruct models, so that numbers compare with its
  leaderboard. The user turn is a fixed instruction followed by the task in a code fence; the
  assistant turn is pre-filled with a fixed sentence and an opening ```` ```python ```` fence, so
  the model answers inside a code block; generation stops at the closing fence. The judged
  program is the extracted code after the benchmark prompt (HumanEval's imports and helpers stay
  defined; the model's own definition of the function replaces the stub), or after MBPP's imports.

The default is ``chat`` for a model whose tokenizer has a chat template, ``completion`` otherwise.
"""

from __future__ import annotations

import io
import re
import tokenize
from typing import Any

STYLES = ("chat", "completion")
# EvalPlus's instruction and response prefix (evalplus/provider/utility.py), verbatim: the convention is the point.
INSTRUCTION = "Please provide a self-contained Python script that solves the following problem in a markdown code block:"
RESPONSE_PREFIX = "Below is a Python script with a self-contained function that solves the problem and passes corresponding tests:"
FENCE = "```"
CHAT_STOP = ("\n" + FENCE,)  # a closing fence begins a line: ```` s = "```" ```` inside the code does not end the answer
_OPENING_FENCE = re.compile(r"```[ \t]*[A-Za-z0-9_+-]*[ \t]*\n")
_LANGUAGE_TAG = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*[ \t]*\n")


def default_style(tokenizer: Any) -> str:
    return "chat" if getattr(tokenizer, "chat_template", None) else "completion"


def chat_code_prompt(tokenizer: Any, task_prompt: str) -> str:
    """The templated conversation, ending inside the assistant's pre-filled ```python block."""
    user = f"{INSTRUCTION}\n{FENCE}\n{task_prompt.strip()}\n{FENCE}\n"
    opening = tokenizer.apply_chat_template([{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True)
    return f"{opening}{RESPONSE_PREFIX}\n{FENCE}python\n"


def extract_code(answer: str) -> str:
    """The code of an answer that began inside a pre-filled code block.

    The text up to the closing fence (with no fence at all, the whole answer). When the answer
    starts with a fence: ```` ```python ```` opens a block of the model's own, whose content is the
    code; a bare ```` ``` ```` closed the pre-filled block at once, and the first fenced block after
    it is the code. A fence inside a string literal of the code (``s = "```"``, a docstring that
    shows markdown) does not close the block (``closing_fence``). An answer with no code gives ""
    (the judge then fails it like any wrong program)."""
    end = closing_fence(answer)
    if end is None or answer[:end].strip():
        return answer[:end].strip("\n")
    rest = answer[end + len(FENCE) :]
    reopened = _LANGUAGE_TAG.match(rest)
    if not reopened:
        opening = _OPENING_FENCE.search(rest)
        if opening is None:
            return ""
        reopened = opening
    code = rest[reopened.end() :]
    return code[: closing_fence(code)].strip("\n")


def closing_fence(code: str) -> int | None:
    """Where the first fence that is not inside a string literal of the code before it begins
    (None: no fence at all). Where every fence is inside a string, the first one."""
    starts = [m.start() for m in re.finditer(re.escape(FENCE), code)]
    return next((i for i in starts if not _inside_string(code[:i])), starts[0] if starts else None)


def _inside_string(code: str) -> bool:
    """Whether ``code`` ends inside an unterminated string literal (Python's own tokenizer)."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.ERRORTOKEN and token.string[:1] in ("'", '"'):
                return True
    except tokenize.TokenError as exc:
        return "string" in str(exc.args[0])
    except SyntaxError:  # an indentation error: not a string
        return False
    return False


def generation_stops(style: str, stop: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Where sampling for ``style`` may end: the closing fence of the pre-filled code block (chat), or
    the benchmark's stop sequences (continuation), which are also where ``judged_completion`` cuts."""
    return CHAT_STOP if style == "chat" else tuple(stop)


def truncate_at_stop(text: str, stop: tuple[str, ...] | list[str]) -> str:
    """The completion up to the first stop sequence (the model tends to go on with tests or a new
    task), by the rule generation stops on (``first_stop``: not at the completion's first newline)."""
    from sparring.hf.generation import first_stop

    return text[: first_stop(text, stop)]


def model_prompt(style: str, tokenizer: Any, task_prompt: str) -> str:
    """What the model is given for a task in ``style``.

    A continuation prompt loses its trailing whitespace (as bigcode-evaluation-harness's
    ``humaneval`` task strips it): BPE merges a newline with the next line's indentation
    (``"\\n   "``, ``" return"``), so a prompt ending in a bare newline token asks the model for an
    indentation token it has rarely seen there, and a small model answers with a tab or a wrong
    indent (SmolLM2 after NTP: 51 of 80 completions of the first 16 HumanEval tasks did not parse,
    23 once stripped). The model writes the newline itself; the completion still follows the
    benchmark's own prompt when judged, where the newline only adds a blank line."""
    return chat_code_prompt(tokenizer, task_prompt) if style == "chat" else task_prompt.rstrip()


def judged_completion(style: str, raw: str, stop: tuple[str, ...]) -> str:
    """What enters the sandbox after the benchmark prompt: the continuation cut at a stop sequence,
    or the extracted code on a line of its own."""
    if style == "chat":
        code = extract_code(raw)
        return f"\n{code}" if code else ""
    return truncate_at_stop(raw, stop)
