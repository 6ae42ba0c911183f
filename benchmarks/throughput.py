"""Throughput of the finbench suite on the hf backend: per-task requests/s and tokens/s, the whole-suite wall time,
and the bf16 matmul ceiling of this machine measured in the same run (for prefill MFU).

    FINBENCH_DATA_DIR=../shared/data .venv/bin/python benchmarks/throughput.py --limit 10 --repeats 3

Writes a markdown table to stdout and JSON to --json. Numbers are medians over --repeats runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import torch


def matmul_ceiling(dtype: torch.dtype, n: int = 2048, reps: int = 10) -> float:
    """Median TFLOP/s of an n x n x n matmul in `dtype` (warm-up excluded)."""
    a = torch.randn(n, n, dtype=dtype)
    b = torch.randn(n, n, dtype=dtype)
    for _ in range(2):
        a @ b
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * n**3 / statistics.median(times) / 1e12


def count_tokens(tokenizer, samples: list[dict]) -> tuple[int, int]:
    """(prompt tokens, generated tokens) of logged lm-eval samples."""
    prompt = gen = 0
    for s in samples:
        for arg in s["arguments"].values() if isinstance(s["arguments"], dict) else s["arguments"]:
            text = arg["arg_0"] if isinstance(arg, dict) else arg[0]
            prompt += len(tokenizer(text, add_special_tokens=False)["input_ids"])
        for resp in s["resps"]:
            for r in resp:
                if isinstance(r, str):
                    gen += len(tokenizer(r, add_special_tokens=False)["input_ids"])
    return prompt, gen


def prefill_rate(model, tokenizer, samples: list[dict], n_params: int) -> tuple[float, float]:
    """Forward passes over the logged prompts alone (batch 1, no generation): (prompt tokens/s, TFLOP/s)."""
    texts = []
    for s in samples:
        for arg in s["arguments"].values() if isinstance(s["arguments"], dict) else s["arguments"]:
            texts.append(arg["arg_0"] if isinstance(arg, dict) else arg[0])
    ids = [tokenizer(t, return_tensors="pt", add_special_tokens=False)["input_ids"] for t in texts]
    n_tok = sum(x.shape[1] for x in ids)
    with torch.inference_mode():
        model(ids[0])
        t = time.perf_counter()
        for x in ids:
            model(x)
        wall = time.perf_counter() - t
    return n_tok / wall, 2 * n_params * n_tok / wall / 1e12


def run_once(tasks: list[str], lm, limit: int | None, task_manager):
    """One lm-eval run on an already loaded model (so the wall time is evaluation, not model loading)."""
    import lm_eval

    t = time.perf_counter()
    out = lm_eval.simple_evaluate(
        model=lm,
        tasks=tasks,
        limit=limit,
        apply_chat_template=True,
        log_samples=True,
        task_manager=task_manager,
        bootstrap_iters=0,
    )
    return time.perf_counter() - t, out


def load_lm(model_dir: str, batch_size: int, device: str):
    from lm_eval.models.huggingface import HFLM

    t = time.perf_counter()
    lm = HFLM(pretrained=model_dir, batch_size=batch_size, device=device)
    return lm, time.perf_counter() - t


def markdown(result: dict) -> str:
    """The BENCHMARKS.md table for one result."""
    bf16 = result["bf16_matmul_tflops"]
    lines = [
        f"Machine: {result['machine']}. Model: {result['model']}, hf backend, batch size {result['batch_size']}, "
        f"chat template, greedy. {result['limit']} documents per task, median of {result['repeats']} runs.",
        f"Matmul ceiling measured in the same run (2048^3, median of 10): bf16 {bf16:.3f} TFLOP/s, "
        f"fp32 {result['fp32_matmul_tflops']:.3f} TFLOP/s.",
        "",
        "| task | docs | wall s | requests/s | prompt tok | gen tok | tokens/s (all) | gen tok/s "
        "| prefill tok/s | prefill TFLOP/s | prefill / bf16 ceiling |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["tasks"]:
        lines.append(
            f"| {r['task']} | {r['docs']} | {r['wall_s']:.1f} | {r['req_per_s']:.2f} | {r['prompt_tokens']} "
            f"| {r['gen_tokens']} | {r['tokens_per_s']:.0f} | {r['gen_tokens_per_s']:.1f} "
            f"| {r['prefill_tokens_per_s']:.0f} | {r['prefill_tflops']:.3f} | {r['prefill_tflops'] / bf16:.0%} |"
        )
    walls = ", ".join(f"{w:.0f}" for w in result["finbench_all_walls"])
    lines += [
        "",
        f"Whole `finbench_all` ({result['limit']} documents per task, one lm-eval run on the loaded model): "
        f"median {result['finbench_all_wall_s']:.0f} s (runs: {walls} s); loading the model into lm-eval's "
        f"hf backend took {result['model_load_s']:.1f} s more.",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=10, help="documents per task")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--tasks", default="fpb,fiqa_sa,tfns,headline,ner,ner_cls,convfinqa,tatqa")
    ap.add_argument("--json", default=None)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()

    from lm_eval.tasks import TaskManager
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from finbench.config import tasks_dir
    from finbench.default_model import prepare

    model_dir = str(prepare())
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    n_params = sum(p.numel() for p in model.parameters())
    tm = TaskManager(include_path=str(tasks_dir()))
    lm, load_s = load_lm(model_dir, args.batch_size, args.device)

    bf16 = matmul_ceiling(torch.bfloat16)
    fp32 = matmul_ceiling(torch.float32)
    print(f"matmul ceiling: bf16 {bf16:.3f} TFLOP/s, fp32 {fp32:.3f} TFLOP/s", flush=True)
    rows = []
    for task in args.tasks.split(","):
        name = f"finbench_{task}"
        walls, prompt_toks, gen_toks, n_docs = [], 0, 0, 0
        for _ in range(args.repeats):
            wall, out = run_once([name], lm, args.limit, tm)
            walls.append(wall)
            samples = out["samples"][name]
            n_docs = len(samples)
            prompt_toks, gen_toks = count_tokens(tok, samples)
        wall = statistics.median(walls)
        prefill = [prefill_rate(model, tok, samples, n_params) for _ in range(args.repeats)]
        prefill_tps = statistics.median(p[0] for p in prefill)
        prefill_tflops = statistics.median(p[1] for p in prefill)
        rows.append(
            {
                "task": name,
                "docs": n_docs,
                "wall_s": wall,
                "req_per_s": n_docs / wall,
                "prompt_tokens": prompt_toks,
                "gen_tokens": gen_toks,
                "tokens_per_s": (prompt_toks + gen_toks) / wall,
                "gen_tokens_per_s": gen_toks / wall,
                "prefill_tokens_per_s": prefill_tps,
                "prefill_tflops": prefill_tflops,
            }
        )
        print(f"{name}: {rows[-1]}", flush=True)

    suite_walls = []
    for _ in range(args.repeats):
        wall, _ = run_once(["finbench_all"], lm, args.limit, tm)
        suite_walls.append(wall)
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}",
        "model": f"SmolLM2-135M-Instruct ({n_params / 1e6:.1f}M params, float32)",
        "limit": args.limit,
        "repeats": args.repeats,
        "batch_size": args.batch_size,
        "model_load_s": load_s,
        "bf16_matmul_tflops": bf16,
        "fp32_matmul_tflops": fp32,
        "tasks": rows,
        "finbench_all_wall_s": statistics.median(suite_walls),
        "finbench_all_walls": suite_walls,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    print(markdown(result))


if __name__ == "__main__":
    main()
