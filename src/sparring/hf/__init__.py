"""The Hugging Face layer that the LLM and code lines stand on: loading (and the embedded GGUF
model's one-time conversion), generation, token log-probabilities, saving, and TRL's GRPO wiring."""
