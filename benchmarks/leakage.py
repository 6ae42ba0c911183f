"""Leakage guard speed on the real data: the paper-default recipes' mixtures against every test split.

For each recipe: building the mixture (`mix.build`, which matches every available train example of each source
before sampling), then the guard over the finished mixture (`leakage.check`), split into its exact-key part (the
guard before near-duplicates: the baseline, measured in the same run with near-duplicates switched off) and the
n-gram matching alone. The test index (exact keys + n-gram units of every test document) is built once per process
and timed on its own. Median of --repeats runs.

    FINBENCH_DATA_DIR=/work/shared/data nice -n 10 .venv/bin/python benchmarks/leakage.py --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from finbench import data
from finbench.finetune import leakage, mix, recipe

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ("cocktail", "cocktail_general", "cocktail_general_math")


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    for task in data.ALL_TASKS:  # parse the files first: loading is not the guard's cost
        try:
            data.load_splits(task)
        except data.DataError:
            pass
    t = time.perf_counter()
    index = leakage.test_index()
    build = time.perf_counter() - t
    near = index.near
    print(
        f"test index: {len(index.ids)} test records, {len(near.units)} n-gram units, {len(near.post)} distinct "
        f"{near.n}-grams; built in {build:.1f} s (once per process)\n"
    )
    print(
        "| recipe | examples | words | mix.build s | guard s | exact-only guard s (baseline) | n-gram match s | "
        "guard / baseline |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    exact_only = lambda records, index: {}  # noqa: E731
    for name in RECIPES:
        r = recipe.load(ROOT / "finetune" / "recipes" / f"{name}.yaml")
        t_mix, m = timed(lambda: mix.build(r), args.repeats)
        records = m.records
        texts = [msg["content"] for rec in records for msg in rec["messages"]]
        n_words = sum(len(near.ids(x)) for x in texts)
        t_guard, report = timed(lambda: leakage.check(records), args.repeats)
        assert report.clean
        real, leakage.near_duplicates = leakage.near_duplicates, exact_only
        try:
            t_base, _ = timed(lambda: leakage.check(records), args.repeats)
        finally:
            leakage.near_duplicates = real
        t_match, _ = timed(lambda: near.match(texts), args.repeats)
        print(
            f"| {name} | {len(records):,} | {n_words:,} | {t_mix:.1f} | {t_guard:.1f} | {t_base:.1f} | "
            f"{t_match:.1f} | {t_guard / t_base:.1f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
