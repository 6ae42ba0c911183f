#!/usr/bin/env bash
# Create ./.venv with finbench installed (editable, with test extras). Idempotent; safe to re-run.
# torch is installed first as the CPU build torch==2.13.0, so that finbench's `torch>=2.4` range is already
# satisfied and pip never pulls a multi-GB CUDA wheel. GPU users: install finbench into your own environment
# (`pip install -e .`), which keeps the torch you have.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
export PIP_DISABLE_PIP_VERSION_CHECK=1
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  echo "[setup] installing torch==2.13.0 (CPU build)"
  .venv/bin/pip install -q torch==2.13.0 2>&1 | grep -v "is ignored: it is neither" || true
fi
echo "[setup] installing finbench and its dependencies"
.venv/bin/pip install -q -e ".[dev]" 2>&1 | grep -v "is ignored: it is neither" || true
.venv/bin/python - <<'PY'
import torch, finbench, lm_eval
print(f"[setup] ok: finbench {finbench.__version__}, torch {torch.__version__} (cuda: {torch.version.cuda}), "
      f"lm_eval {lm_eval.__version__}")
PY
