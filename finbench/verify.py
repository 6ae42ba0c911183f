"""`finbench verify-serving`: before trusting a fine-tuned checkpoint's vLLM numbers, run the same samples through
the four serving paths (hf + adapter, hf merged, vLLM merged, vLLM + adapter) and the base model, and check that

- every path gives the same greedy output as hf + adapter (the reference) on at least `--min-agreement` of samples,
- every task score of every path lies inside the reference's 95 % bootstrap CI (and the reference's inside its),
- the adapter matters: it changes the base model's output on some samples, and every path that should carry it
  differs from the base model there too (a vLLM LoRA that silently acts like the base model, lm-eval #2432, fails).

Each path is one real lm-eval run (`python -m finbench.lmeval run …`, `--log_samples`); a path that cannot run
reports lm-eval's error text. Exit status 0 only when every check holds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import artifacts, child, lmeval
from .preflight import ServingError, check_adapter

REFERENCE = "hf-adapter"
PATHS = ("base", "hf-adapter", "hf-merged", "vllm-merged", "vllm-adapter")


@dataclass
class PathRun:
    name: str
    ok: bool
    outputs: dict  # (task, doc_id) -> raw greedy output
    scores: dict  # task -> (value, lo, hi)
    error: str = ""
    wall_s: float = 0.0


def model_for(path: str, base: str, adapter: str, merged: str, rank: int, vllm_args: str) -> tuple[str, str]:
    """(lm-eval --model, --model_args) of one serving path."""
    vllm = f"max_model_len=2048,dtype=float32,{vllm_args}".rstrip(",")
    return {
        "base": ("hf", f"pretrained={base},dtype=float32"),
        "hf-adapter": ("hf", f"pretrained={base},peft={adapter},dtype=float32"),
        "hf-merged": ("hf", f"pretrained={merged},dtype=float32"),
        "vllm-merged": ("vllm", f"pretrained={merged},{vllm}"),
        "vllm-adapter": ("vllm", f"pretrained={base},lora_local_path={adapter},max_lora_rank={rank},{vllm}"),
    }[path]


def merge(base: str, adapter: str, out: Path) -> Path:
    """The adapter merged into the base model by finbench.finetune.export (peft `merge_and_unload`, reloaded and
    checked against base + adapter on logits before it is moved into place); a merge that does not reproduce base +
    adapter is refused, so no serving path is ever compared on an unverified merge."""
    from .finetune.export import ExportError, export

    try:
        export(Path(adapter), base, out)
    except ExportError as exc:
        raise ServingError(
            f"verify-serving refuses the merge of {adapter} into {base}: {exc}. The merged "
            "paths would test a checkpoint that is not base + adapter; check that --base is the model "
            "the adapter was trained on, or leave the merged paths out (--paths "
            "base,hf-adapter,vllm-adapter)."
        ) from None
    return out


class _PathFailed(Exception):
    pass


def run_path(name: str, model: str, model_args: str, tasks: str, limit: int, out: Path) -> PathRun:
    """One serving path as one lm-eval run into `out` (replaced as a whole, only by a run that finished)."""
    from . import results

    env = dict(os.environ)
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    t = time.perf_counter()
    try:
        with artifacts.staged_dir(out) as tmp:
            cmd = [*lmeval.command(model, model_args, tasks, tmp), "--apply_chat_template", "--limit", str(limit)]
            if model == "hf":
                cmd += ["--batch_size", "4"]
            print(f"[verify-serving] {name}: {' '.join(cmd)}", file=sys.stderr, flush=True)
            proc = child.run(cmd, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - t
            artifacts.write_text(out.parent / f"{name}.log", proc.stdout + proc.stderr)
            runs = results.find_runs(tmp) if proc.returncode == 0 else []
            if not runs:
                raise _PathFailed
            run = runs[0]
            outputs = {(task, s["doc_id"]): s["resps"][0][0] for task, ss in run.samples.items() for s in ss}
            scores = {r.task: (r.value, r.lo, r.hi) for r in results.metric_rows(run) if r.metric == "score"}
    except _PathFailed:
        err = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        return PathRun(name, False, {}, {}, "\n".join(err[-6:]) or f"exit {proc.returncode}", wall)
    return PathRun(name, True, outputs, scores, "", wall)


def compare(runs: dict[str, PathRun], min_agreement: float) -> tuple[list[str], bool]:
    """The report lines and whether every check holds."""
    ref, base = runs[REFERENCE], runs.get("base")
    lines, ok = [], ref.ok
    if not ref.ok:
        return [f"reference {REFERENCE} failed: {ref.error}"], False
    changed = {k for k, v in ref.outputs.items() if base and base.ok and base.outputs.get(k) != v}
    if base and base.ok:
        lines.append(
            f"adapter effect: hf-adapter differs from the base model on {len(changed)}/{len(ref.outputs)} samples"
        )
        if not changed:
            ok = False
            lines.append(
                "  FAIL: the adapter changes no output on these samples; agreement here cannot tell a "
                "dropped adapter from a served one (more --limit, or another checkpoint)"
            )
    lines += ["", f"{'path':<14} {'agree':>11} {'keeps adapter':>14} {'wall s':>7}  scores in the reference's CI"]
    for name, run in runs.items():
        if name in ("base", REFERENCE) or not run.ok:
            if not run.ok:
                ok = False
                lines.append(f"{name:<14} FAILED: {run.error}")
            continue
        same = sum(run.outputs.get(k) == v for k, v in ref.outputs.items())
        frac = same / len(ref.outputs)
        kept = sum(run.outputs.get(k) != base.outputs.get(k) for k in changed) if changed else 0
        bad_scores = []
        for task, (v, lo, hi) in ref.scores.items():
            pv, plo, phi = run.scores.get(task, (math.nan,) * 3)
            inside = (lo - 1e-9 <= pv <= hi + 1e-9) and (plo - 1e-9 <= v <= phi + 1e-9)
            if not inside and not (math.isnan(v) and math.isnan(pv)):
                bad_scores.append(f"{task} {pv:.3f} vs {v:.3f} [{lo:.3f}, {hi:.3f}]")
        path_ok = frac >= min_agreement and not bad_scores and (not changed or kept >= min_agreement * len(changed))
        ok &= path_ok
        lines.append(
            f"{name:<14} {same:>4}/{len(ref.outputs):<4} {frac:>4.0%} {f'{kept}/{len(changed)}':>10} "
            f"{run.wall_s:>7.0f}  {'yes' if not bad_scores else 'NO: ' + '; '.join(bad_scores)}"
            f"{'' if path_ok else '   <- FAIL'}"
        )
    lines += [
        "",
        f"reference: {REFERENCE} (wall {ref.wall_s:.0f} s); agreement needed: {min_agreement:.0%} of "
        f"samples; 'keeps adapter': of the samples the adapter changes, how many differ from the base here",
    ]
    return lines, ok


def cmd_verify_serving(args: argparse.Namespace) -> int:
    from . import data

    paths = args.paths.split(",")
    unknown = [p for p in paths if p not in PATHS]
    if unknown or REFERENCE not in paths:
        raise ServingError(f"--paths: unknown {unknown}; choose among {', '.join(PATHS)} (with {REFERENCE}).")
    cfg = check_adapter(args.base, args.adapter, args.max_lora_rank)
    data.check_tasks(args.tasks.split(","))
    out = Path(args.output_path or f"out/verify-serving-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    merged = args.merged
    if merged is None and {"hf-merged", "vllm-merged"} & set(paths):
        merged = out / "merged"
        if not merged.exists():  # an earlier run's merge into this output dir is reused
            merge(args.base, args.adapter, merged)
    rank = args.max_lora_rank or max(16, int(cfg.get("r", 16)))
    runs = {}
    for name in paths:
        model, margs = model_for(name, args.base, args.adapter, merged, rank, args.vllm_args)
        runs[name] = run_path(name, model, margs, args.tasks, args.limit, out / name)
    lines, ok = compare(runs, args.min_agreement)
    report = "\n".join(
        [
            f"verify-serving: base {args.base}, adapter {args.adapter}, merged {merged}",
            f"tasks {args.tasks}, {args.limit} documents each, greedy, chat template",
            "",
        ]
        + lines
        + ["", "PASS" if ok else "FAIL"]
    )
    print(report)
    artifacts.write_text(out / "verify_serving.txt", report + "\n")
    artifacts.write_text(
        out / "verify_serving.json",
        json.dumps(
            {
                "ok": ok,
                "paths": {
                    n: {"ok": r.ok, "error": r.error, "scores": r.scores, "wall_s": r.wall_s} for n, r in runs.items()
                },
            },
            indent=2,
        )
        + "\n",
    )
    return 0 if ok else 1


def add_parser(sub) -> None:
    """Register `finbench verify-serving` on the CLI's sub-command parser."""
    v = sub.add_parser(
        "verify-serving",
        help="check that hf/vLLM, merged/adapter serving of a LoRA checkpoint "
        "agree (outputs and scores) before trusting its vLLM numbers",
    )
    v.add_argument("--base", required=True, help="the base model directory")
    v.add_argument("--adapter", required=True, help="the PEFT LoRA adapter directory")
    v.add_argument("--merged", default=None, help="the merged model dir (default: merged here with peft)")
    v.add_argument("--tasks", default="finbench_fpb,finbench_tfns,finbench_headline")
    v.add_argument("--limit", type=int, default=20)
    v.add_argument("--max-lora-rank", type=int, default=None, help="vLLM max_lora_rank (default: max(16, r))")
    v.add_argument("--min-agreement", type=float, default=0.9, help="share of identical greedy outputs needed")
    v.add_argument("--paths", default=",".join(PATHS))
    v.add_argument(
        "--vllm-args",
        default="enforce_eager=True",
        help="extra vLLM model_args, e.g. tensor_parallel_size=2,gpu_memory_utilization=0.8",
    )
    v.add_argument("--output_path", default=None, help="default: out/verify-serving-<timestamp>")
    v.set_defaults(func=cmd_verify_serving)
