"""Leaderboard build and regress speed on SYNTHETIC lm-eval output dirs (generated here, only for this benchmark,
and labelled synthetic in every file: model names `SYNTHETIC-run-NNN`, a SYNTHETIC.txt in the root; only the timing
matters). The files have lm-eval's layout and keys (results_*.json, samples_<task>_*.jsonl with doc_id, doc_hash,
arguments, resps, filtered_resps, acc), so loading costs what real files cost.

    .venv/bin/python benchmarks/leaderboard.py --repeats 5

- leaderboard: `finbench leaderboard build` over RUNS runs x TASKS tasks x DOCS documents (1000 resamples per cell),
  in this process (load + bootstrap + render + atomic write) and as the CLI in a subprocess (adds imports).
- regress: two runs with SAMPLES documents in all, 10,000 paired resamples per task, in this process (load +
  compare) and as the CLI.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from finbench import regress, results
from finbench.leaderboard.build import build


def write_run(root: Path, name: str, tasks: dict[str, int], skill: float, rng: np.random.Generator) -> Path:
    """One synthetic lm-eval output dir: results JSON + one samples JSONL per task (binary acc, multiple choice)."""
    stamp = "2026-01-01T00-00-00.000000"
    d = root / name / "SYNTHETIC__model"
    d.mkdir(parents=True)
    res = {
        "results": {},
        "configs": {},
        "versions": {},
        "n-shot": {},
        "higher_is_better": {},
        "group_subtasks": {
            "synthetic_cat_a": [t for t in tasks][: len(tasks) // 2],
            "synthetic_cat_b": [t for t in tasks][len(tasks) // 2 :],
        },
        "config": {"model": "hf", "model_args": f"pretrained=SYNTHETIC-{name}"},
        "model_name": f"SYNTHETIC-{name}",
        "model_name_sanitized": "SYNTHETIC__model",
        "lm_eval_version": "0.4.13",
        "date": 1767225600.0,
        "git_hash": "0000000",
    }
    for task, n in tasks.items():
        acc = (rng.random(n) < skill).astype(float)
        with open(d / f"samples_{task}_{stamp}.jsonl", "w") as fh:
            for i in range(n):
                doc = {"id": f"{task}-{i}", "text": f"SYNTHETIC document {i} of {task}: " + "lorem ipsum " * 12}
                prompt = f"Classify the SYNTHETIC text.\n{doc['text']}\nAnswer:"
                fh.write(
                    json.dumps(
                        {
                            "doc_id": i,
                            "doc": doc,
                            "target": 0,
                            "arguments": {
                                "gen_args_0": {"arg_0": prompt, "arg_1": " yes"},
                                "gen_args_1": {"arg_0": prompt, "arg_1": " no"},
                            },
                            "resps": [[["-1.5", "False"]], [["-2.5", "False"]]],
                            "filtered_resps": [["-1.5", "False"], ["-2.5", "False"]],
                            "filter": "none",
                            "metrics": ["acc"],
                            "doc_hash": hashlib.sha256(doc["id"].encode()).hexdigest(),
                            "prompt_hash": "0" * 64,
                            "target_hash": "0" * 64,
                            "acc": float(acc[i]),
                        }
                    )
                    + "\n"
                )
        res["results"][task] = {"alias": task, "acc,none": float(acc.mean()), "acc_stderr,none": 0.0}
        res["configs"][task] = {
            "task": task,
            "output_type": "multiple_choice",
            "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
        }
        res["versions"][task], res["n-shot"][task], res["higher_is_better"][task] = 1.0, 0, {"acc": True}
    (d / f"results_{stamp}.json").write_text(json.dumps(res, indent=2))
    return root / name


def _cpu() -> float:
    """CPU seconds of this process and its finished children (user + system)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn, repeats: int) -> tuple[float, float, list[float]]:
    """(median wall s, median CPU s, wall runs): CPU time is reported too because the benchmark machine is shared."""
    walls, cpus = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), _cpu()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(_cpu() - c)
    return statistics.median(walls), statistics.median(cpus), walls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--runs", type=int, default=220)
    ap.add_argument("--tasks", type=int, default=8)
    ap.add_argument("--docs", default="20,100", help="documents per task per run (comma-separated sizes)")
    ap.add_argument("--samples", type=int, default=20_000, help="regress: documents in all (over 4 tasks)")
    ap.add_argument("--regress-boot", type=int, default=10_000)
    ap.add_argument("--no-cli", action="store_true", help="time in process only (skip the CLI subprocess runs)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    rows = []

    def runs(ts):
        return ", ".join(f"{t:.2f}" for t in ts)

    with tempfile.TemporaryDirectory(prefix="finbench-bench-") as tmp:
        quiet = open("/dev/null", "w")
        for docs in [int(d) for d in args.docs.split(",")]:
            root = Path(tmp) / f"synthetic_sweep_{docs}"
            root.mkdir()
            (root / "SYNTHETIC.txt").write_text("Synthetic lm-eval outputs for benchmarks/leaderboard.py only.\n")
            tasks = {f"synthetic_task_{k}": docs for k in range(args.tasks)}
            for r in range(args.runs):
                write_run(root, f"run-{r:03d}", tasks, skill=0.4 + 0.4 * r / max(args.runs - 1, 1), rng=rng)
            site = Path(tmp) / f"site_{docs}"
            wall, cpu, walls = timed(lambda: build([root], site, err=quiet), args.repeats)
            n_files = sum(1 for p in site.rglob("*") if p.is_file())
            what = (
                f"leaderboard build: {args.runs} runs x {args.tasks} tasks x {docs} docs "
                f"({args.runs * args.tasks} cells x 1000 resamples, {n_files} files)"
            )
            rows.append(f"| {what}, in process | {wall:.2f} | {cpu:.2f} | {runs(walls)} |")
            if args.no_cli:
                continue
            wall, cpu, walls = timed(
                lambda: subprocess.run(
                    [sys.executable, "-m", "finbench.cli", "leaderboard", "build", str(root), "--out", str(site)],
                    check=True,
                    capture_output=True,
                ),
                args.repeats,
            )
            rows.append(
                f"| the same as the `finbench leaderboard build` CLI | {wall:.2f} | {cpu:.2f} | {runs(walls)} |"
            )

        per_task = {f"synthetic_task_{k}": args.samples // 4 for k in range(4)}
        base = write_run(Path(tmp) / "regress", "baseline", per_task, 0.60, rng)
        cand = write_run(Path(tmp) / "regress", "candidate", per_task, 0.58, rng)

        def reg() -> None:
            b, c = results.find_runs(base)[0], results.find_runs(cand)[0]
            regress.compare(b, c, n_boot=args.regress_boot)

        wall, cpu, walls = timed(reg, args.repeats)
        rows.append(
            f"| regress: 2 runs x {args.samples} samples (4 tasks), {args.regress_boot} paired resamples per "
            f"task, in process (load + compare) | {wall:.2f} | {cpu:.2f} | {runs(walls)} |"
        )
        if not args.no_cli:
            wall, cpu, walls = timed(
                lambda: subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "finbench.cli",
                        "regress",
                        "--baseline",
                        str(base),
                        "--candidate",
                        str(cand),
                        "--n-boot",
                        str(args.regress_boot),
                    ],
                    capture_output=True,
                ),
                args.repeats,
            )
            rows.append(f"| the same as the `finbench regress` CLI | {wall:.2f} | {cpu:.2f} | {runs(walls)} |")
    print("| what (synthetic inputs) | median wall s | median CPU s | wall runs (s) |\n|---|---:|---:|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
