#!/bin/bash
# The study's background job (launch.sh copies it to $STUDY/run.sh and starts it with setsid nohup nice -n 19).
# Resumable: starting it again skips finished runs (DONE.json), resumes training from the last complete checkpoint
# and redoes an evaluation killed midway. A failed run is logged and the job moves on; a second pass retries it.
set -u
STUDY=${STUDY:-${FINBENCH_CACHE_DIR:-$HOME/.cache/finbench}/study}
PY=${PY:-/work/main/.venv/bin/python}
export PYTHONPATH="$STUDY/code" FINBENCH_DATA_DIR=${FINBENCH_DATA_DIR:-/work/shared/data} HF_HUB_OFFLINE=1 \
  HF_DATASETS_OFFLINE=1 VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-4} TOKENIZERS_PARALLELISM=false
EVAL=(--eval-backend vllm --eval-model-args max_model_len=4096,dtype=float32,enforce_eager=True)
sweep() { "$PY" -m finbench.cli sweep run "$STUDY/sweep" "$@"; }
echo "==== $(date -u '+%F %T') UTC start, pid $$, code $(cat "$STUDY/code/COMMIT")"
# 1. the first single-task run (its training rate is the first measured one), 2. the training benchmark (today's
# configuration vs length-grouped batches, once), 3. the estimate, 4. every run in plan order, twice over failures
sweep --only single_fpb-seed1 "${EVAL[@]}" || echo "==== single_fpb-seed1 failed"
if [ ! -f "$STUDY/train_throughput.json" ]; then
  (cd "$STUDY/code" && "$PY" benchmarks/train_throughput.py --examples 64 --repeats 3 \
     --json "$STUDY/train_throughput.json" > "$STUDY/train_throughput.md.tmp" && \
     mv "$STUDY/train_throughput.md.tmp" "$STUDY/train_throughput.md") || echo "==== benchmark failed"
fi
sweep --dry-run > "$STUDY/dry_run.txt" 2>&1
for pass in 1 2; do
  for name in $("$PY" -c "import json,sys; print(' '.join(e['name'] for e in json.load(open(sys.argv[1]))['runs']))" \
                "$STUDY/sweep/plan.json"); do
    [ -f "$STUDY/sweep/runs/$name/DONE.json" ] && continue
    echo "==== $(date -u '+%F %T') UTC $name (pass $pass)"
    sweep --only "$name" "${EVAL[@]}" || echo "==== $(date -u '+%F %T') UTC $name FAILED (pass $pass)"
  done
done
sweep --dry-run > "$STUDY/dry_run.txt" 2>&1
echo "==== $(date -u '+%F %T') UTC end"
