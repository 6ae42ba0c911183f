"""`finbench leaderboard build RESULTS_DIR... --out SITE_DIR`: a static, offline leaderboard (models x tasks with
95 % bootstrap CIs, category averages, per-model pages with charts, JSON/CSV export) from lm-eval output dirs of
any tasks. load.py reads runs, table.py does the statistics, charts.py + site.py render, build.py writes."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_leaderboard_build(args: argparse.Namespace) -> int:
    from .build import build

    return build(
        [Path(p) for p in args.results_dirs], Path(args.out), n_boot=args.n_boot, seed=args.seed, title=args.title
    )


def add_parser(sub) -> None:
    """Register `leaderboard build` on the `finbench` sub-command parser."""
    from ..stats import N_BOOT, SEED  # the same defaults as finbench.results (1000, 0), without its imports

    lb = sub.add_parser("leaderboard", help="static HTML leaderboard from lm-eval output dirs")
    lsub = lb.add_subparsers(dest="leaderboard_cmd", required=True)
    b = lsub.add_parser("build", help="build the site (index.html, models/*.html, leaderboard.json/.csv)")
    b.add_argument(
        "results_dirs",
        nargs="+",
        metavar="RESULTS_DIR",
        help="lm-eval --output_path dirs (searched recursively for results_*.json)",
    )
    b.add_argument("--out", required=True, metavar="SITE_DIR", help="replaced as a whole, atomically")
    b.add_argument("--n-boot", type=int, default=N_BOOT, help=f"bootstrap resamples per cell (default {N_BOOT})")
    b.add_argument("--seed", type=int, default=SEED, help=f"bootstrap seed (default {SEED}; + a CRC of the task)")
    b.add_argument("--title", default="finbench leaderboard")
    b.set_defaults(func=cmd_leaderboard_build)
