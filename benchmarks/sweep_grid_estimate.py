"""The cost of the paper's ablation grid (every task subset x 4 data variants) from real token counts and a rate.

    FINBENCH_DATA_DIR=../shared/data .venv/bin/python benchmarks/sweep_grid_estimate.py \
        --tokens-per-second 96 --proxy finqa=convfinqa

Builds the `cocktail_general_math` mixture (every task at the paper's cap, general = 1.0 x, math = 0.5 x the finance
examples) on the real data once, counts each example's tokens with the base model's chat template (examples over
max_length are dropped, as training does), and sums them per run of the grid that `finbench sweep plan` writes for
these tasks and the variants base, general, math, general_math. A task whose data is missing here can be stood in
for by another (`--proxy finqa=convfinqa`: FinQA's 2k cap with ConvFinQA's per-example tokens, both are report
excerpts with a table). General/math examples of a run are its share of its own finance examples (capped at what
exists), at their mean token length. Training hours = tokens x epochs / the rate given (useful tokens/s of one
worker, e.g. from benchmarks/train_throughput.py on the node type); evaluation hours = the suite's test requests per
run / --eval-requests-per-second. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from transformers import AutoTokenizer

from finbench.data import load_splits
from finbench.finetune import mix, recipe, sweep
from finbench.finetune.train import resolve_base

ROOT = Path(__file__).resolve().parent.parent
SUITE = ["fpb", "fiqa_sa", "tfns", "headline", "ner", "ner_cls", "convfinqa", "tatqa"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", default=str(ROOT / "finetune" / "recipes" / "cocktail_general_math.yaml"))
    ap.add_argument("--tokens-per-second", type=float, required=True, help="training rate of one worker")
    ap.add_argument("--eval-requests-per-second", type=float, default=10.0)
    ap.add_argument(
        "--proxy",
        action="append",
        default=[],
        help="TASK=LIKE: count TASK as LIKE (its examples and tokens), e.g. finqa=convfinqa",
    )
    args = ap.parse_args()

    r = recipe.load(args.recipe)
    records = mix.build(r, "train").records
    tok = AutoTokenizer.from_pretrained(resolve_base(r.base_model))
    lens = [
        len(x)
        for x in tok.apply_chat_template([x["messages"] for x in records], tokenize=True, return_dict=True)["input_ids"]
    ]
    by_source: dict[str, list[int]] = {}
    for rec, n in zip(records, lens):
        if n <= r.training["max_length"]:
            by_source.setdefault(rec["source"], []).append(n)
    count = {s: len(v) for s, v in by_source.items()}
    tokens = {s: sum(v) for s, v in by_source.items()}
    tasks = [p.task for p in r.mixture.tasks]
    for spec in args.proxy:
        task, like = spec.split("=")
        count[task], tokens[task] = count[like], tokens[like]
        tasks.append(task)
    mean = {s: statistics.mean(by_source[s]) for s in ("general", "math")}
    available = {
        "general": len(load_splits("general").splits["train"]),
        "math": len(load_splits("math").splits["train"]),
    }
    test_requests = sum(len(load_splits(t).splits.get("test") or []) for t in SUITE)

    rows, total = [], 0.0
    for variant, (use_general, use_math) in sweep.VARIANTS.items():
        for kind, group in sweep.subsets(tasks):
            n = sum(count[t] for t in group)
            t = sum(tokens[t] for t in group)
            if use_general:
                t += min(r.mixture.general * n, available["general"]) * mean["general"]
            if use_math:
                t += min(r.mixture.math * n, available["math"]) * mean["math"]
            rows.append((variant, kind, t * r.training["num_train_epochs"]))
    runs = len(rows)
    train_h = sum(t for *_, t in rows) / args.tokens_per_second / 3600
    eval_h = (runs + 1) * test_requests / args.eval_requests_per_second / 3600  # + the zero-shot base run
    print(
        f"{len(tasks)} tasks ({', '.join(tasks)}), {runs} fine-tuned runs + 1 zero-shot; "
        f"{test_requests} test requests per evaluation\n"
    )
    print(
        "| variant | runs | training tokens (M) | training h at "
        f"{args.tokens_per_second:g} tok/s | longest run h |\n|---|---:|---:|---:|---:|"
    )
    for variant in sweep.VARIANTS:
        ts = [t for v, _, t in rows if v == variant]
        print(
            f"| {variant} | {len(ts)} | {sum(ts) / 1e6:.1f} | {sum(ts) / args.tokens_per_second / 3600:.1f} | "
            f"{max(ts) / args.tokens_per_second / 3600:.2f} |"
        )
        total += sum(ts)
    print(f"| all | {runs} | {total / 1e6:.1f} | {train_h:.1f} | |\n")
    print(
        f"evaluation: {runs + 1} x {test_requests} requests at {args.eval_requests_per_second:g} requests/s = "
        f"{eval_h:.1f} h; training + evaluation = {train_h + eval_h:.1f} worker-hours"
    )


if __name__ == "__main__":
    main()
