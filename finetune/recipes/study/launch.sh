#!/bin/bash
# Launch (or resume) the study (finetune/README.md "The study"), from the root of a checkout: its committed HEAD is
# copied to $STUDY/code and the background job runs that copy (PYTHONPATH) with $PY's packages, so nothing is read from
# the checkout afterwards. An existing $STUDY/sweep (plan, recipes, runs) is kept: the job resumes it.
set -euo pipefail
STUDY=${FINBENCH_CACHE_DIR:-$HOME/.cache/finbench}/study
PY=${PY:-/work/main/.venv/bin/python}
ROOT=$PWD
mkdir -p "$STUDY"
if [ -f "$STUDY/job.pid" ] && kill -0 "$(cat "$STUDY/job.pid")" 2>/dev/null; then
  echo "the study's job is running (pid $(cat "$STUDY/job.pid"), log $STUDY/sweep.log); stop it first: kill -- -PID" >&2
  exit 1
fi
rm -rf "$STUDY/code" && mkdir "$STUDY/code"
git archive HEAD | tar -x -C "$STUDY/code"            # the code and recipes the sweep runs, outside any checkout
git rev-parse HEAD > "$STUDY/code/COMMIT"
# the wheel maps tasks/ into the package (pyproject package-dir); on PYTHONPATH the copy needs a link
ln -s ../tasks "$STUDY/code/finbench/tasks"
cp "$STUDY/code/finetune/recipes/study/run.sh" "$STUDY/run.sh"
cd "$STUDY"
# (re-)plan from the committed plan.yaml, so a re-ordered or extended plan takes effect on resume; finished runs are
# kept, and a run trained under a recipe that the plan no longer has would mix two designs: refuse it
PYTHONPATH="$STUDY/code" FINBENCH_DATA_DIR=${FINBENCH_DATA_DIR:-/work/shared/data} HF_HUB_OFFLINE=1 \
  "$PY" -m finbench.cli sweep plan --study "$STUDY/code/finetune/recipes/study/plan.yaml" -o "$STUDY/sweep" > /dev/null
# what an earlier machine finished (saved.sh save, committed under results/study) back into a fresh $STUDY: the job
# skips it
STUDY="$STUDY" SAVED="$ROOT/results/study" bash "$ROOT/finetune/recipes/study/saved.sh" restore
for run in sweep/runs/*/; do
  name=$(basename "$run")
  [ -f "$run/recipe.yaml" ] || continue
  if ! cmp -s "$run/recipe.yaml" "sweep/recipes/$name.yaml"; then
    echo "sweep/runs/$name was trained from a recipe the plan no longer has (sweep/recipes/$name.yaml differs or is" \
      "gone): move that run dir away (or restore its recipe) and launch again" >&2
    exit 1
  fi
done
PY="$PY" STUDY="$STUDY" setsid nohup nice -n 19 bash "$STUDY/run.sh" >> "$STUDY/sweep.log" 2>&1 < /dev/null &
echo "launched: pid $! ; log $STUDY/sweep.log"
