"""TRL GRPO's loss options, as the lines' settings offer them (a light module: no TRL import)."""

GRPO_LOSS_TYPES = ("dapo", "grpo", "dr_grpo", "bnpo", "cispo", "sapo")
SCALE_REWARDS = ("group", "batch", "none")
