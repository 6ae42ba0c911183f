#!/usr/bin/env bash
# The main job on a fresh machine: set up, prepare the default model, evaluate finbench_all, print the table.
# Data: $FINBENCH_DATA_DIR, else ../shared/data when it exists, else the sample sets (a smoke test, not scores).
# LIMIT (default 20) caps documents per task so a 2-core CPU finishes in minutes; LIMIT=none runs everything.
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
limit_args=(); [ "$LIMIT" = none ] || limit_args=(--limit "$LIMIT")
.venv/bin/finbench eval --tasks finbench_all --model hf --model_args "pretrained=$MODEL" "${limit_args[@]}" \
  --output_path "${OUT:-out/demo}"
