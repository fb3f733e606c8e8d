#!/usr/bin/env bash
# Issue 16's GPU run, prepared: the demo protocol on all 163 MBPP training programs (RA3, NTP at its
# token budget, RLVR 3 seeds from each), then the full evaluation (164 HumanEval tasks with HumanEval+,
# MBPP test ids 11-510, MBPP+'s 378; n=5; the base model both ways), on one CUDA GPU, into
# bench/runs/code-demo-gpu-full/ and bench/results/code-demo-gpu-full.{json,md}.
#
# Needs the project installed in the GPU machine's Python (`make .venv/bin/.installed`, or
# `pip install -e '.[code]'`; PYTHON=... picks another interpreter) and ../shared/data beside the
# checkout. Like every bench, it continues where it stopped: run it again after a cut.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
exec "${PYTHON:-.venv/bin/python}" bench/code.py --preset demo --tag gpu-full --train-limit 0 --device cuda --batch-size 128 "$@"
