"""Bootstrap CI speed: the vectorised confusion-count path vs the generic per-draw sklearn path, measured in the
same run on synthetic (gold, pred) items of real test-set sizes (labelled synthetic: only the timing matters).

    .venv/bin/python benchmarks/bootstrap.py --repeats 3
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import numpy as np

from finbench import metrics, stats

LABELS = ("negative", "neutral", "positive")


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n-boot", type=int, default=1000)
    args = ap.parse_args()
    print("| items (synthetic) | metric | generic s | vectorised s | speed-up | same draws |")
    print("|---:|---|---:|---:|---:|---|")
    for n in (1212, 2388):  # FPB and TFNS test sizes
        rng = random.Random(n)
        items = [[rng.choice(LABELS), rng.choice([*LABELS, None])] for _ in range(n)]
        for metric, fn in (("macro_f1", metrics.macro_f1), ("mcc", metrics.mcc)):
            generic = lambda: stats.bootstrap_distribution(items, lambda xs: fn(xs, LABELS), args.n_boot, 0)
            codes, n_codes = metrics.confusion_codes(items, LABELS)
            fast = lambda: metrics.from_confusion(stats.bootstrap_counts(codes, n_codes, args.n_boot, 0), 3, metric)
            same = bool(np.allclose(generic(), fast(), rtol=0, atol=1e-12))
            g, f = timed(generic, args.repeats), timed(fast, args.repeats)
            print(f"| {n} | {metric} | {g:.2f} | {f:.3f} | {g / f:.0f}x | {same} |", flush=True)


if __name__ == "__main__":
    main()
