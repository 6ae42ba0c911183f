#!/bin/bash
# Launch the study (finetune/README.md "The study"). Run from a checkout of the branch to launch (its HEAD is copied).
set -euo pipefail
STUDY=${FINBENCH_CACHE_DIR:-$HOME/.cache/finbench}/study
PY=${PY:-/work/main/.venv/bin/python}
mkdir -p "$STUDY"
rm -rf "$STUDY/code" && mkdir "$STUDY/code"
git archive HEAD | tar -x -C "$STUDY/code"            # the code and recipes the sweep runs, outside any checkout
git rev-parse HEAD > "$STUDY/code/COMMIT"
cp "$STUDY/code/finetune/recipes/study/run.sh" "$STUDY/run.sh"
cd "$STUDY"
if [ ! -f sweep/plan.json ]; then
  PYTHONPATH="$STUDY/code" FINBENCH_DATA_DIR=${FINBENCH_DATA_DIR:-/work/shared/data} HF_HUB_OFFLINE=1 \
    "$PY" -m finbench.cli sweep plan --study "$STUDY/code/finetune/recipes/study/plan.yaml" -o "$STUDY/sweep"
fi
PY="$PY" STUDY="$STUDY" setsid nohup nice -n 19 bash "$STUDY/run.sh" >> "$STUDY/sweep.log" 2>&1 < /dev/null &
echo "launched: pid $! ; log $STUDY/sweep.log"
