#!/bin/bash
# What the study's job has finished, kept in git: `bash finetune/recipes/study/saved.sh save` (then commit results/study)
# and `... restore` (launch.sh runs it), from the root of a checkout; `... watch` saves and commits as runs finish.
# $STUDY is outside the work tree and does not always
# survive the machine (a session can start on a fresh one, with an empty home); what `save` put under results/study,
# `restore` puts back into an empty or partial $STUDY, and the job then skips it (a run's DONE.json, a check's output dir).
# Saved: per finished run (DONE.json) its DONE.json, recipe.yaml, train_summary.json and a slim export of its evaluation
# (`finbench export-slim`: every score and per-sample item, no prompts or documents); slim exports of the dev-split
# checks and of the knowledge evaluations; the training-throughput benchmark's output and the last estimate. Adapters
# and merged models are not saved (tens of MB each): a restored run has its scores, not its model (run.sh's dev-check
# and knowledge steps say so and skip it).
set -euo pipefail
STUDY=${STUDY:-${FINBENCH_CACHE_DIR:-$HOME/.cache/finbench}/study}
SAVED=${SAVED:-results/study}
PY=${PY:-.venv/bin/python}
FILES=(train_throughput.json train_throughput.md dry_run.txt)
checks() {  # the dev-check and knowledge output dirs under $1, relative to it (not those still being written: *.tmp)
  for d in "$1"/dev_check/*/ "$1"/knowledge/*/*/; do [ -d "$d" ] && [[ $d != *.tmp/ ]] && echo "${d#"$1/"}"; done
}
case "${1:-}" in
save)
  mkdir -p "$SAVED"
  trap '[ -z "${tmp:-}" ] || rm -rf "$tmp"' EXIT  # a failed export leaves no half-written run behind
  for done in "$STUDY"/sweep/runs/*/DONE.json; do
    [ -f "$done" ] || continue
    run=$(dirname "$done"); name=$(basename "$run")
    cmp -s "$done" "$SAVED/$name/DONE.json" && continue  # saved already
    tmp="$SAVED/.$name.tmp"; rm -rf "$tmp"; mkdir -p "$tmp"
    for f in DONE.json recipe.yaml train_summary.json; do [ ! -f "$run/$f" ] || cp "$run/$f" "$tmp/"; done
    "$PY" -m finbench.cli export-slim "$run/eval" "$tmp/eval"  # says what it wrote, or why not (on stderr)
    rm -rf "${SAVED:?}/$name"; mv "$tmp" "$SAVED/$name"; echo "saved $name"
  done
  for rel in $(checks "$STUDY"); do
    rel=${rel%/}
    [ -e "$SAVED/$rel" ] && continue
    mkdir -p "$(dirname "$SAVED/$rel")"; "$PY" -m finbench.cli export-slim "$STUDY/$rel" "$SAVED/$rel"
    echo "saved $rel"
  done
  for f in "${FILES[@]}"; do  # only a newer one: a benchmark run into the checkout itself is not overwritten by an
    # older copy that `restore` put into $STUDY
    if [ -f "$STUDY/$f" ] && { [ ! -f "$SAVED/$f" ] || [ "$STUDY/$f" -nt "$SAVED/$f" ]; } \
      && ! cmp -s "$STUDY/$f" "$SAVED/$f"; then cp "$STUDY/$f" "$SAVED/$f"; echo "saved $f"; fi
  done ;;
restore)
  mkdir -p "$STUDY/sweep/runs"
  for done in "$SAVED"/*/DONE.json; do
    [ -f "$done" ] || continue
    name=$(basename "$(dirname "$done")")
    [ -f "$STUDY/sweep/runs/$name/DONE.json" ] && continue
    rm -rf "$STUDY/sweep/runs/$name"; cp -r "$(dirname "$done")" "$STUDY/sweep/runs/$name"; echo "restored $name"
  done
  for rel in $(checks "$SAVED"); do
    rel=${rel%/}
    [ -e "$STUDY/$rel" ] && continue
    mkdir -p "$(dirname "$STUDY/$rel")"; cp -r "$SAVED/$rel" "$STUDY/$rel"; echo "restored $rel"
  done
  for f in "${FILES[@]}"; do [ -f "$STUDY/$f" ] || [ ! -f "$SAVED/$f" ] || cp "$SAVED/$f" "$STUDY/$f"; done ;;
watch)  # save every 2 minutes, and commit results/study (only it) whenever that saved something: a session that ends
  # before its wrap-up then still has in git what its machine finished. Run it in the background beside the job.
  while true; do
    out=$(bash "$0" save) || echo "$(date -u '+%F %T') UTC saved.sh save failed (above); retrying in 2 minutes" >&2
    if grep -q '^saved' <<< "$out"; then
      echo "$out"
      git add -- "$SAVED" && git commit -q -m "study: results saved as the job finished them (saved.sh watch)" -- "$SAVED" \
        && echo "$(date -u '+%F %T') UTC committed $SAVED"
    fi
    sleep 120
  done ;;
*) echo "usage: bash finetune/recipes/study/saved.sh save|restore|watch (from the root of a checkout)" >&2; exit 2 ;;
esac
exit 0
