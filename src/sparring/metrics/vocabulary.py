"""One name for each logged quantity across the lines, and the names older runs used for them.

Every line writes the current names (``d_accuracy``, ``reward_mean``, ``mean_words``, the phase
``d_pretrain``). ``current_names`` translates what an older run wrote, so every reader of a run
(``report``, the plots, the Python API) sees one vocabulary whatever version wrote it.
"""

from __future__ import annotations

from typing import Any

OLD_NAMES = {
    "d_acc": "d_accuracy",  # align, before one vocabulary
    "mean_reward": "reward_mean",  # the text GANs
    "mean_length": "mean_words",  # the text GANs: words per generated sentence
    "test_mean_length": "test_mean_words",
}
OLD_PHASES = {"pretrain_d": "d_pretrain"}  # the text GANs' D pre-training


def current_names(value: Any) -> Any:
    """``value`` (a metrics row or a summary) with older names replaced, at every depth."""
    if isinstance(value, dict):
        renamed = {OLD_NAMES.get(k, OLD_PHASES.get(k, k)): current_names(v) for k, v in value.items()}
        if isinstance(renamed.get("phase"), str):
            renamed["phase"] = OLD_PHASES.get(renamed["phase"], renamed["phase"])
        return renamed
    if isinstance(value, list):
        return [current_names(v) for v in value]
    return value
