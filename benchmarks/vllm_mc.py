"""`finbench_all_mc` on vLLM: lm-eval's stock loglikelihood path (`--model vllm`: one prompt-logprobs request per
(document, choice)) against finbench's (`--model finbench-vllm`: one request per document when every choice is one
token, finbench.vllm_mc), on the same documents with the same engine, interleaved, median of --repeats runs.

    FINBENCH_DATA_DIR=../shared/data VLLM_CPU_KVCACHE_SPACE=2 \
        .venv/bin/python benchmarks/vllm_mc.py --limit 40 --repeats 3 --json out/vllm_mc.json

One FinbenchVLLM engine serves both paths (the stock one is lm-eval's VLLM._loglikelihood_tokens on it), so the model
load, tokenizer and task building are shared; the prefix cache is reset before every run, as a fresh run starts.
`--limit N` is N documents per task from finbench's seeded, label-stratified test order (a sample, not a prefix of
the files). Reports wall time of the whole lm-eval run and of its loglikelihood calls, vLLM requests and prompt
tokens sent, the 1-minute load average, and agreement: per-(document, choice) loglikelihoods (max |difference|),
is_greedy flags, predictions (argmax) and every task metric. Markdown to stdout, JSON to --json."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

GROUP = "finbench_all_mc"


def run_once(lm, stock: bool, limit: int, task_manager, tasks: list[str], chat: bool) -> dict:
    """One lm-eval run of finbench_all_mc on `lm`, by the stock path or finbench's; wall times and the output."""
    import lm_eval
    from lm_eval.models.vllm_causallms import VLLM

    from finbench import vllm_mc

    fast = type(lm)._loglikelihood_tokens
    spent = {"loglikelihood_s": 0.0, "vllm_requests": 0, "prompt_tokens": 0}

    def timed(requests, disable_tqdm=False):
        groups, rest = vllm_mc.plan(requests) if not stock else ([], list(range(len(requests))))
        spent["vllm_requests"] += len(groups) + len(rest)
        spent["prompt_tokens"] += sum(len(g.context) + len(g.prefix) for g in groups)
        spent["prompt_tokens"] += sum(len(requests[i][1]) + len(requests[i][2]) for i in rest)
        t = time.perf_counter()
        out = (VLLM._loglikelihood_tokens if stock else fast)(lm, requests, disable_tqdm)
        spent["loglikelihood_s"] += time.perf_counter() - t
        return out

    lm._loglikelihood_tokens = timed
    lm.model.reset_prefix_cache()
    load = os.getloadavg()[0]
    t = time.perf_counter()
    try:
        out = lm_eval.simple_evaluate(
            model=lm,
            tasks=tasks,
            limit=limit,
            apply_chat_template=chat,
            log_samples=True,
            task_manager=task_manager,
            bootstrap_iters=0,
        )
    finally:
        del lm._loglikelihood_tokens
    return {**spent, "wall_s": time.perf_counter() - t, "load_1min": [load, os.getloadavg()[0]], "out": out}


def per_choice(out: dict) -> dict:
    """(task, doc_id) -> [(loglikelihood, is_greedy) per choice]."""
    return {(t, s["doc_id"]): [tuple(r[0]) for r in s["resps"]] for t, ss in out["samples"].items() for s in ss}


def metrics(out: dict) -> dict:
    return {
        (t, k): v
        for t, r in out["results"].items()
        for k, v in r.items()
        if k.endswith(",none") and not k.endswith("_stderr,none") and isinstance(v, (int, float))
    }


def agreement(a: dict, b: dict) -> dict:
    pa, pb = per_choice(a), per_choice(b)
    assert pa.keys() == pb.keys(), "the two paths saw different documents"
    diffs = [abs(x[0] - y[0]) for k in pa for x, y in zip(pa[k], pb[k], strict=True)]
    greedy = sum(x[1] == y[1] for k in pa for x, y in zip(pa[k], pb[k]))
    argmax = sum(
        max(range(len(pa[k])), key=lambda i: pa[k][i][0]) == max(range(len(pb[k])), key=lambda i: pb[k][i][0])
        for k in pa
    )
    ma, mb = metrics(a), metrics(b)
    return {
        "documents": len(pa),
        "choices": len(diffs),
        "max_abs_loglikelihood_diff": max(diffs),
        "same_is_greedy": greedy,
        "same_prediction": argmax,
        "metrics_compared": len(ma),
        "metrics_max_abs_diff": max(abs(ma[k] - mb[k]) for k in ma) if ma.keys() == mb.keys() else None,
        "scores": {t: (ma[(t, "score,none")], mb[(t, "score,none")]) for t, m in ma if m == "score,none"},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=40, help="documents per task (a seeded, stratified sample)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dtype", default="float32", help="float32 here: this CPU has no native bf16")
    ap.add_argument("--max-model-len", type=int, default=2048)
    ap.add_argument("--tasks", default=GROUP, help="comma-separated lm-eval tasks/groups (default: %(default)s)")
    ap.add_argument("--no-chat-template", action="store_true", help="plain prompts: each label is one token")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import torch
    from lm_eval.tasks import TaskManager

    from finbench import vllm_mc
    from finbench.config import tasks_dir
    from finbench.default_model import prepare
    from finbench.vllm_mc_model import FinbenchVLLM

    vllm_mc.register()
    tm = TaskManager(include_path=str(tasks_dir()))
    t = time.perf_counter()
    lm = FinbenchVLLM(pretrained=str(prepare()), dtype=args.dtype, max_model_len=args.max_model_len, enforce_eager=True)
    load_s = time.perf_counter() - t

    runs: dict[str, list[dict]] = {"stock": [], "finbench": []}
    for i in range(args.repeats):
        order = ("stock", "finbench") if i % 2 == 0 else ("finbench", "stock")  # interleaved, alternating first
        for name in order:
            r = run_once(lm, name == "stock", args.limit, tm, args.tasks.split(","), not args.no_chat_template)
            runs[name].append(r)
            print(
                f"repeat {i + 1}: {name} {r['wall_s']:.1f} s (loglikelihood {r['loglikelihood_s']:.1f} s, "
                f"{r['vllm_requests']} requests, {r['prompt_tokens']} prompt tokens, load {r['load_1min'][0]:.1f})",
                flush=True,
            )

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "tasks": args.tasks,
        "chat_template": not args.no_chat_template,
        "dtype": args.dtype,
        "limit": args.limit,
        "repeats": args.repeats,
        "model_load_s": load_s,
        "agreement": agreement(runs["stock"][-1]["out"], runs["finbench"][-1]["out"]),
    }
    for name in runs:
        result[name] = {
            "wall_s": [r["wall_s"] for r in runs[name]],
            "loglikelihood_s": [r["loglikelihood_s"] for r in runs[name]],
            "load_1min": [r["load_1min"] for r in runs[name]],
            "vllm_requests": runs[name][0]["vllm_requests"],
            "prompt_tokens": runs[name][0]["prompt_tokens"],
            "median_wall_s": med(name, "wall_s"),
            "median_loglikelihood_s": med(name, "loglikelihood_s"),
        }
    result["ratio_wall"] = result["stock"]["median_wall_s"] / result["finbench"]["median_wall_s"]
    result["ratio_loglikelihood"] = (
        result["stock"]["median_loglikelihood_s"] / result["finbench"]["median_loglikelihood_s"]
    )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(markdown(result))


def markdown(r: dict) -> str:
    a = r["agreement"]
    loads = [x for name in ("stock", "finbench") for pair in r[name]["load_1min"] for x in pair]
    lines = [
        f"Machine: {r['machine']}. `{r['tasks']}`, {r['limit']} documents per task ({a['documents']} documents, "
        f"{a['choices']} choices), {r['dtype']}, {'chat template' if r['chat_template'] else 'no chat template'}; "
        "one engine, prefix cache reset before each run; "
        f"median of {r['repeats']} runs each, interleaved. 1-minute load average during the runs: "
        f"{min(loads):.1f}–{max(loads):.1f}.",
        "",
        "| path | wall s (median) | runs s | loglikelihood s (median) | vLLM requests | prompt tokens |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, label in (("stock", "lm-eval `vllm` (stock)"), ("finbench", "`finbench-vllm`")):
        x = r[name]
        lines.append(
            f"| {label} | {x['median_wall_s']:.1f} | {', '.join(f'{w:.0f}' for w in x['wall_s'])} | "
            f"{x['median_loglikelihood_s']:.1f} | {x['vllm_requests']} | {x['prompt_tokens']} |"
        )
    lines += [
        "",
        f"**stock / finbench-vllm: {r['ratio_wall']:.2f}x wall, {r['ratio_loglikelihood']:.2f}x loglikelihood "
        f"time.** Agreement: max |loglikelihood difference| {a['max_abs_loglikelihood_diff']:.2e} over "
        f"{a['choices']} choices; same is_greedy {a['same_is_greedy']}/{a['choices']}; same prediction "
        f"{a['same_prediction']}/{a['documents']}; {a['metrics_compared']} task metrics, max |difference| "
        f"{a['metrics_max_abs_diff']}.",
        "",
        "| task | score (stock) | score (finbench-vllm) |",
        "|---|---:|---:|",
    ]
    lines += [f"| {t} | {s:.4f} | {f:.4f} |" for t, (s, f) in sorted(a["scores"].items())]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
