"""RA3's latent action abstractions on expert code, as plain functions.

A document is a header (the task's docstring; never annotated, never trained on) followed by expert
code lines. Before each non-blank line t the latent is ``<act>`` (go on writing code) or ``<think>``,
which inserts one ``# ...`` comment line at the indentation of line t. Texts are always tokenized
whole, with character offsets, so that a model trained or scored here sees the same tokens as at
generation time (BPE merges a newline with the next line's indentation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    header: str  # ends with a newline
    lines: tuple[str, ...]

    @classmethod
    def from_code(cls, header: str, code: str) -> Document:
        lines = tuple(line.rstrip() for line in code.replace("\r\n", "\n").strip("\n").split("\n"))
        return cls(header, lines)


def indentation(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def latent_positions(doc: Document) -> list[int]:
    """Where a comment may go: before every non-blank line that is not itself a comment."""
    return [t for t, line in enumerate(doc.lines) if line.strip() and not line.lstrip().startswith("#")]


def first_line(text: str) -> str:
    """What a proposal wrote after ``#``, up to the end of its line."""
    return text.split("\n", 1)[0].rstrip()


def comment_line(doc: Document, t: int, continuation: str) -> str:
    """The comment line a proposal's continuation after ``#`` makes, indented like line t."""
    return f"{indentation(doc.lines[t])}#{first_line(continuation)}"


def prefix_before(doc: Document, t: int, comments: dict[int, str] | None = None) -> str:
    """The text before line t (with any earlier comments), ending with a newline."""
    return assemble(doc, comments or {}, upto=t)


def assemble(doc: Document, comments: dict[int, str], upto: int | None = None) -> str:
    """Header, then each line preceded by its comment line if it has one; lines ``< upto`` only when given."""
    parts = [doc.header]
    for t, line in enumerate(doc.lines[:upto]):
        if t in comments:
            parts.append(comments[t] + "\n")
        parts.append(line + "\n")
    return "".join(parts)


def next_lines(doc: Document, t: int, horizon: int) -> str:
    return "".join(line + "\n" for line in doc.lines[t : t + horizon])


def code_char_mask(doc: Document, comments: dict[int, str], include_comments: bool) -> list[bool]:
    """Per character of ``assemble(doc, comments)``: is it trained on / scored (code, and comments when asked)."""
    mask = [False] * len(doc.header)
    for t, line in enumerate(doc.lines):
        if t in comments:
            mask += [include_comments] * (len(comments[t]) + 1)
        mask += [True] * (len(line) + 1)
    return mask


def full_elbo(joint_logprob: float, proposal_logprob: float, code_tokens: int) -> float:
    """Per-code-token ELBO with the comment-content terms: [log p(x, z) - log q(z | x)] / tokens.

    log p(x, z) is the model's log-likelihood of the annotated document (code and comment tokens,
    so the prior's price of a thought is what the model pays to write it, not a constant c);
    log q(z | x) the proposal's log-probability of the chosen comments' text after ``#``, each given
    the expert prefix it was proposed from. With no thoughts it equals the NTP log-likelihood."""
    return (joint_logprob - proposal_logprob) / max(code_tokens, 1)


def think_reward(logp_with_comment: float, logp_without: float, think_cost: float) -> float:
    """RA3's per-step reward for a ``<think>``: how much the comment raises the log-likelihood of the
    next expert lines under the frozen model, minus the cost of thinking. ``<act>`` earns 0."""
    return logp_with_comment - logp_without - think_cost


def choose_latent(rewards: Sequence[float]) -> int | None:
    """The E-step's posterior choice at one position: the best proposed comment if its reward beats
    ``<act>``'s 0, else None (act). A larger think cost therefore means fewer thoughts and, in the
    limit, plain next-token prediction."""
    best = max(range(len(rewards)), key=lambda i: rewards[i], default=None)
    return best if best is not None and rewards[best] > 0 else None


def temporal_elbo(code_logprob: float, thinks: int, think_cost: float, code_tokens: int) -> float:
    """Per-code-token temporal ELBO estimate, partial: log p(x | z) of the expert tokens with the
    chosen latents, minus c nats per ``<think>`` (c acts as the prior's cost of a thought), without
    the comment-content terms (``full_elbo`` has them). With no thoughts it equals the NTP
    log-likelihood, so the two are directly comparable."""
    return (code_logprob - thinks * think_cost) / max(code_tokens, 1)
