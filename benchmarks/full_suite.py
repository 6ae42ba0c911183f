"""Full-suite benchmark, as users run it: every test document of `finbench_all` through the real CLIs, vLLM against
the hf backend, with per-task wall time, tokens, tokens/s and the fraction of the matmul ceiling measured in the
same run.

    FINBENCH_DATA_DIR=../shared/data HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 \
        .venv/bin/python benchmarks/full_suite.py --out ~/.cache/finbench/bench/full_suite --json out/full_suite.json

Configurations (each one real CLI process per task, so every task has its own wall time):
- `vllm lm_eval auto`: `lm_eval --model vllm --batch_size auto` (the documented command), on every test document:
  the reference run;
- `vllm finbench eval`: `finbench eval --backend vllm` (batches `auto` by default; its wall time includes the CI table);
- `vllm lm_eval default` (with --vllm-default): `lm_eval --model vllm` at lm-eval's CLI default `--batch_size 1`;
  these and the --vllm-env configurations run the first --sample documents of each task (the seeded,
  label-stratified order, so a sample, not a prefix of the file) and are extrapolated per task like hf: the same
  engine as the reference run, whose full-suite cost on this CPU is hours, so a full run each would say little more;
- `hf lm_eval default`: `lm_eval --model hf` at lm-eval's defaults (batch size 1), and `hf lm_eval best`: the fastest of
  --hf-batch-sizes. hf runs on the first --hf-limit documents of each task (the seeded, label-stratified sample) and
  is extrapolated per task to the full test set by document count (stated in the table).
- `--vllm-env KEY=VAL,...` adds `vllm lm_eval auto` under that environment (e.g. VLLM_CPU_OMP_THREADS_BIND=0-1).

Each configuration's fixed cost (process start, model load, one document) is measured by one `--limit 1` run of
finbench_ner and subtracted: per-task "net" seconds; the suite estimate is one fixed cost plus the sum of the nets.
Prefill: vLLM on the first --prefill-docs prompts per task of the reference run, with max_tokens=1 and prefix caching off (compute, not cache hits);
TFLOP/s counts 2 x non-embedding parameters per prompt token, against the CPU's matmul ceiling in the run's dtype
(2048^3, the machine's torch threads) measured in the same run (on a GPU machine the ceiling is still the CPU's). Agreement: identical greedy replies, vLLM vs hf, on the documents both ran.

--limit N runs N documents per task everywhere (a small run: the numbers are for that sample, not the suite).
Runs are resumable: a (configuration, task) whose output is complete under --out is read, not re-run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import count_tokens, matmul_ceiling  # noqa: E402  (benchmarks/ is not a package)

TASKS = ("fpb", "fiqa_sa", "tfns", "headline", "ner", "ner_cls", "convfinqa", "tatqa")  # finbench_all
PROBE_TASK = "ner"  # the fixed-cost run: one document of the smallest task


def vllm_model_args(model: str, cpu: bool, dtype: str) -> str:
    return f"pretrained={model},dtype={dtype},max_model_len=4096" + (",enforce_eager=True" if cpu else "")


def command(kind: str, model_args: str, task: str, out: Path, limit: int | None, batch_size: str | None) -> list:
    from finbench.config import tasks_dir

    lim = ["--limit", str(limit)] if limit is not None else []
    bs = ["--batch_size", batch_size] if batch_size else []
    if kind == "finbench":
        return [
            sys.executable,
            "-m",
            "finbench.cli",
            "eval",
            "--backend",
            "vllm",
            "--model_args",
            model_args,
            "--tasks",
            f"finbench_{task}",
            "--output_path",
            str(out),
            *lim,
            *bs,
        ]
    backend = "vllm" if kind == "vllm" else "hf"
    return [
        sys.executable,
        "-m",
        "lm_eval",
        "run",
        "--model",
        backend,
        "--model_args",
        model_args,
        "--tasks",
        f"finbench_{task}",
        "--include_path",
        str(tasks_dir()),
        "--apply_chat_template",
        "--log_samples",
        "--output_path",
        str(out),
        *lim,
        *bs,
    ]


def run_task(cmd: list, out: Path, env: dict) -> dict:
    """One CLI process (or its recorded result, when `out` holds a finished one): wall seconds and samples."""
    from finbench import results

    done = out / "timing.json"
    if not done.exists():
        if out.exists():
            subprocess.run(["rm", "-rf", "--", str(out)], check=True)
        out.mkdir(parents=True)
        t = time.perf_counter()
        with open(out / "log.txt", "w") as log:
            proc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(f"failed ({proc.returncode}): {' '.join(map(str, cmd))}; see {out / 'log.txt'}")
        done.write_text(json.dumps({"wall_s": wall, "cmd": [str(c) for c in cmd]}) + "\n")
    (run,) = results.find_runs(out)
    (samples,) = run.samples.values()
    return {
        "wall_s": json.loads(done.read_text())["wall_s"],
        "samples": samples,
        "n_original": next(iter(run.results.get("n-samples", {}).values()), {}).get("original"),
    }


def replies(samples: list[dict]) -> dict:
    return {s["doc_id"]: s["resps"][0][0] for s in samples}


def prompts_of(samples: list[dict]) -> list[str]:
    out = []
    for s in samples:
        args = s["arguments"]
        for a in args.values() if isinstance(args, dict) else args:
            out.append(a["arg_0"] if isinstance(a, dict) else a[0])
    return out


PREFILL_CHILD = """
import json, sys, time
from vllm import LLM, SamplingParams
args = json.loads(sys.argv[1])
llm = LLM(model=args["model"], dtype=args["dtype"], max_model_len=4096, enforce_eager=args["cpu"],
          enable_prefix_caching=False)
tok = llm.get_tokenizer()
out = {}
for task, texts in json.load(open(args["prompts"])).items():
    ids = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    params = SamplingParams(max_tokens=1, temperature=0.0)
    t = time.perf_counter()
    llm.generate([{"prompt_token_ids": x} for x in ids], params, use_tqdm=False)
    out[task] = {"tokens": sum(map(len, ids)), "wall_s": time.perf_counter() - t}
json.dump(out, open(args["result"], "w"))
"""


def prefill(model: str, cpu: bool, dtype: str, prompts: dict[str, list[str]], work: Path, env: dict) -> dict:
    """vLLM prefill alone (max_tokens=1, no prefix cache) on each task's prompts, in a child process."""
    result = work / "prefill.json"
    if not result.exists():
        src = work / "prefill_prompts.json"
        src.write_text(json.dumps(prompts))
        arg = json.dumps({"model": model, "cpu": cpu, "dtype": dtype, "prompts": str(src), "result": str(result)})
        with open(work / "prefill_log.txt", "w") as log:
            proc = subprocess.run(
                [sys.executable, "-c", PREFILL_CHILD, arg], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        if proc.returncode != 0:
            raise SystemExit(f"prefill run failed; see {work / 'prefill_log.txt'}")
    return json.loads(result.read_text())


def non_embedding_params(model_dir: str) -> int:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):  # shapes only, no weights
        m = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model_dir))
    emb = {id(p) for mod in (m.get_input_embeddings(), m.get_output_embeddings()) for p in mod.parameters()}
    return sum(p.numel() for p in m.parameters() if id(p) not in emb)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="documents per task everywhere (default: every one)")
    ap.add_argument("--hf-limit", type=int, default=40, help="documents per task for hf (extrapolated per task)")
    ap.add_argument(
        "--sample",
        type=int,
        default=200,
        help="documents per task for the vLLM configurations other than the reference (extrapolated per task)",
    )
    ap.add_argument("--prefill-docs", type=int, default=100, help="prompts per task for the prefill-only run")
    ap.add_argument("--hf-batch-sizes", default="1,8,32", help="hf's best is the fastest of these (1 = default)")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--vllm-default", action="store_true", help="also lm_eval --model vllm at --batch_size 1")
    ap.add_argument("--vllm-env", default=None, help="also vllm lm_eval auto with these KEY=VAL,... settings")
    cache = Path(os.environ.get("FINBENCH_CACHE_DIR", Path.home() / ".cache/finbench"))
    ap.add_argument(
        "--out",
        type=Path,
        default=cache / "bench" / "full_suite",
        help="run outputs (resumable; outside the work tree)",
    )
    ap.add_argument(
        "--dtype",
        default=None,
        help="both backends, the same precision (for agreement); default "
        "bfloat16, or float32 on a CPU without AVX512-BF16/AMX (bf16 is emulated there, ~100x slower)",
    )
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    import torch
    from transformers import AutoTokenizer

    from finbench.default_model import prepare
    from finbench.hardware import native_bf16

    model = str(prepare())
    cpu = not torch.cuda.is_available()
    tasks = args.tasks.split(",")
    env = dict(os.environ)
    if cpu:
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    hf_limit = args.hf_limit if args.limit is None else min(args.hf_limit, args.limit)
    sample = args.sample if args.limit is None else min(args.sample, args.limit)
    args.out.mkdir(parents=True, exist_ok=True)
    tok = AutoTokenizer.from_pretrained(model)
    args.dtype = args.dtype or ("bfloat16" if native_bf16() else "float32")
    ceiling = matmul_ceiling(getattr(torch, args.dtype))
    print(f"matmul ceiling ({args.dtype}, CPU): {ceiling:.3f} TFLOP/s", flush=True)

    vargs = vllm_model_args(model, cpu, args.dtype)
    configs = [
        ("vllm lm_eval auto", "vllm", vargs, "auto", env, args.limit),
        ("vllm finbench eval", "finbench", vargs, None, env, sample),
    ]
    if args.vllm_default:
        configs.append(("vllm lm_eval default", "vllm", vargs, None, env, sample))
    if args.vllm_env:
        extra = dict(kv.split("=", 1) for kv in args.vllm_env.split(","))
        configs.append((f"vllm lm_eval auto {args.vllm_env}", "vllm", vargs, "auto", {**env, **extra}, sample))
    hf_sizes = [b for b in args.hf_batch_sizes.split(",") if b]
    configs += [
        (
            f"hf lm_eval batch {b}",
            "hf",
            f"pretrained={model},dtype={args.dtype}",
            None if b == "1" else b,
            env,
            hf_limit,
        )
        for b in hf_sizes
    ]

    runs: dict[str, dict] = {}
    for name, kind, margs, bs, cenv, limit in configs:
        slug = name.replace(" ", "_").replace("=", "-").replace(",", "+")
        probe = run_task(
            command(kind, margs, PROBE_TASK, args.out / slug / "_fixed", 1, bs), args.out / slug / "_fixed", cenv
        )
        per_task = {}
        for task in tasks:
            out = args.out / slug / task
            r = run_task(command(kind, margs, task, out, limit, bs), out, cenv)
            prompt_toks, gen_toks = count_tokens(tok, r["samples"])
            net = max(r["wall_s"] - probe["wall_s"], 1e-9)  # ~0: the task cost less than the fixed cost's noise
            per_task[task] = {
                "docs": len(r["samples"]),
                "of": r["n_original"],
                "wall_s": r["wall_s"],
                "net_s": net,
                "prompt_tokens": prompt_toks,
                "gen_tokens": gen_toks,
                "replies": replies(r["samples"]),
                "prompts": prompts_of(r["samples"]),
            }
            print(f"{name} {task}: {len(r['samples'])} docs, {r['wall_s']:.1f} s", flush=True)
        default_bs = "auto (finbench eval's default)" if kind == "finbench" else "1 (lm-eval's default)"
        runs[name] = {
            "fixed_s": probe["wall_s"],
            "tasks": per_task,
            "limit": limit,
            "batch_size": bs or default_bs,
            "backend": kind,
        }

    ref = runs["vllm lm_eval auto"]
    pre = prefill(
        model, cpu, args.dtype, {t: ref["tasks"][t]["prompts"][: args.prefill_docs] for t in tasks}, args.out, env
    )
    n_params = non_embedding_params(model)
    hf_names = [n for n in runs if runs[n]["backend"] == "hf"]
    others = [n for n in runs if n != "vllm lm_eval auto"]

    def suite(name: str) -> float:
        """Estimated wall time of the suite: one fixed cost + the per-task nets (hf: extrapolated per task)."""
        r = runs[name]
        return r["fixed_s"] + sum(v["net_s"] * (ref["tasks"][t]["docs"] / v["docs"]) for t, v in r["tasks"].items())

    best_hf = min(hf_names, key=suite, default=None)
    default_hf = next((n for n in hf_names if runs[n]["batch_size"].startswith("1 ")), None)
    agreement = {}
    for other in others:
        same = total = 0
        for t in tasks:
            a, b = ref["tasks"][t]["replies"], runs[other]["tasks"][t]["replies"]
            common = set(a) & set(b)
            same += sum(a[k] == b[k] for k in common)
            total += len(common)
        agreement[other] = [same, total]
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}",
        "model": model,
        "non_embedding_params": n_params,
        "matmul_tflops": ceiling,
        "dtype": args.dtype,
        "limit": args.limit,
        "hf_limit": hf_limit,
        "sample": sample,
        "prefill_docs": args.prefill_docs,
        "suite_s": {n: suite(n) for n in runs},
        "hf_default": default_hf,
        "hf_best": best_hf,
        "agreement_vs_vllm": agreement,
        "prefill": {t: {**v, "tflops": 2 * n_params * v["tokens"] / v["wall_s"] / 1e12} for t, v in pre.items()},
        "runs": {
            n: {
                **r,
                "tasks": {
                    t: {k: x for k, x in v.items() if k not in ("replies", "prompts")} for t, v in r["tasks"].items()
                },
            }
            for n, r in runs.items()
        },
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))


def markdown(r: dict) -> str:
    runs, ceiling = r["runs"], r["matmul_tflops"]
    ref = runs["vllm lm_eval auto"]
    scope = (
        "every test document"
        if r["limit"] is None
        else f"a SMALL RUN: the first {r['limit']} documents of each task's seeded sample, not the full suite"
    )
    lines = [
        f"Machine: {r['machine']}. Model: {r['model']} ({r['non_embedding_params'] / 1e6:.1f}M non-embedding "
        f"params, {r['dtype']} on both backends). Scope: {scope} for `vllm lm_eval auto`; the other vLLM "
        f"configurations on the first {r.get('sample')} and hf on the first {r['hf_limit']} documents per task of "
        f"the seeded sample order, extrapolated per task by document count. {r['dtype']} matmul ceiling of the CPU in the "
        f"same run (2048^3, median of 10): {ceiling:.3f} TFLOP/s.",
        "",
        "| configuration | batch size | fixed s | suite s (est.) | vs hf default | vs hf best | same replies as the reference |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    hd, hb = r["hf_default"], r["hf_best"]
    for name, run in runs.items():
        s = r["suite_s"][name]
        vd = f"{r['suite_s'][hd] / s:.2f}x" if hd else ""
        vb = f"{r['suite_s'][hb] / s:.2f}x" if hb else ""
        agree = r["agreement_vs_vllm"].get(name)
        lines.append(
            f"| {name} | {run['batch_size']} | {run['fixed_s']:.0f} | {s:.0f} | {vd} | {vb} | "
            + (f"{agree[0]}/{agree[1]} |" if agree else "|")
        )
    names = list(runs)
    lines += [
        "",
        "Per task, net seconds (wall - the configuration's fixed cost); hf: measured on its sample -> "
        "extrapolated to the documents vLLM ran:",
        "",
        "| task | docs | " + " | ".join(names) + " |",
        "|---|---:|" + "---:|" * len(names),
    ]
    for t, v in ref["tasks"].items():
        cells = []
        for n in names:
            x = runs[n]["tasks"][t]
            scale = v["docs"] / x["docs"]
            cells.append(f"{x['net_s']:.0f}" if scale == 1 else f"{x['net_s']:.0f} -> {x['net_s'] * scale:.0f}")
        lines.append(f"| {t} | {v['docs']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Per task, `vllm lm_eval auto` (net = wall - the configuration's fixed cost); prefill alone: "
        f"max_tokens=1, prefix cache off, the first {r.get('prefill_docs')} prompts of each task:",
        "",
        "| task | docs | wall s | net s | prompt tok | gen tok | prompt tok/s | gen tok/s | prefill tok/s "
        "| prefill TFLOP/s | / matmul ceiling |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t, v in ref["tasks"].items():
        p = r["prefill"][t]
        timed = v["net_s"] >= 1  # a task cheaper than the fixed cost's noise has no rate
        rates = (
            (f"{v['prompt_tokens'] / v['net_s']:.0f}", f"{v['gen_tokens'] / v['net_s']:.1f}") if timed else ("n/a",) * 2
        )
        lines.append(
            f"| {t} | {v['docs']} | {v['wall_s']:.0f} | {v['net_s']:.0f} | {v['prompt_tokens']} | "
            f"{v['gen_tokens']} | {rates[0]} | {rates[1]} | "
            f"{p['tokens'] / p['wall_s']:.0f} | {p['tflops']:.3f} | {p['tflops'] / ceiling:.0%} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
