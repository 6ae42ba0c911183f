"""`finbench regress --baseline DIR --candidate DIR`: does a new checkpoint do significantly worse on any task?

Per task shared by the two lm-eval runs (each with `--log_samples`, or their slim exports), on the samples both scored
(paired by doc id and doc hash, finbench.compare): Δ = candidate − baseline of the task's primary metric
(results.primary_items), a paired-bootstrap 95 % CI (both runs resampled with the same indices), and for 0/1
metrics aggregated by mean (accuracy, exact match) McNemar's exact test (scipy binomtest on the discordant pairs).
Verdict per task, with s = +1 for higher-is-better metrics and −1 otherwise:
  regressed  s·CI upper bound < −max_drop (and McNemar p < alpha for 0/1 metrics)
  improved   s·CI lower bound > 0         (and McNemar p < alpha for 0/1 metrics)
  unchanged  otherwise (including a significant drop no larger than --max-drop)
Overall: regressed if any task regressed, else improved if any improved, else unchanged.
Exit status: 0 pass, 1 regression, 2 unusable input (the message says what to do), which includes a task the
baseline scored that the candidate lacks or has cut short (results.incomplete_tasks), and a run compared with itself."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import stats
from .artifacts import write_text
from .config import DataError

N_BOOT = 10_000
ALPHA = 0.05
# finbench.results (sklearn, seqeval) is imported where needed, so that registering this command stays cheap


class RegressError(DataError):
    """Input that cannot be compared (exit 2); the message says what to do."""


@dataclass
class TaskComparison:
    task: str
    metric: str
    filter: str
    higher_is_better: bool
    n: int  # samples both runs scored
    baseline_only: int
    candidate_only: int
    baseline: float
    candidate: float
    delta: float
    lo: float
    hi: float
    mcnemar_p: float | None  # None: not a 0/1 metric
    wins: int | None  # candidate right, baseline wrong (0/1 metrics)
    losses: int | None
    verdict: str


def _one_run(path: Path, role: str):
    from . import results

    path = Path(path)
    if path.is_file():
        return results.load_run(path, lazy=True)
    if not path.is_dir():
        raise RegressError(f"--{role} {path}: no such file or directory; pass an lm_eval --output_path dir")
    files = results.results_files(path)
    if not files:
        raise RegressError(
            f"--{role} {path}: no lm-eval results_*.json under it; run lm_eval with --output_path and --log_samples"
        )
    if len(files) > 1:
        listed = "\n  ".join(str(f) for f in files)
        raise RegressError(
            f"--{role} {path}: {len(files)} runs under it; pass one run's results_*.json "
            f"(or its own directory):\n  {listed}"
        )
    run = results.load_run(files[0], lazy=True)
    if not run.samples:
        raise RegressError(f"--{role} {files[0]}: no samples files beside it; re-run lm_eval with --log_samples")
    return run


def _binary(values: list) -> bool:
    try:
        return all(float(v) in (0.0, 1.0) for v in values)
    except (TypeError, ValueError):
        return False


def _mcnemar(base: list, cand: list) -> tuple[float, int, int]:
    """Exact McNemar test: a two-sided binomial test of the discordant pairs against p = 1/2."""
    from scipy.stats import binomtest

    b, c = np.asarray(base, dtype=float), np.asarray(cand, dtype=float)
    wins, losses = int(np.sum((c == 1) & (b == 0))), int(np.sum((c == 0) & (b == 1)))
    p = 1.0 if wins + losses == 0 else float(binomtest(wins, wins + losses, 0.5).pvalue)
    return p, wins, losses


def compare_task(base, cand, task: str, max_drop: float, n_boot: int, seed: int, alpha: float) -> TaskComparison:
    """One task of two results.Run objects, paired on the samples both scored (finbench.compare.paired)."""
    from . import results
    from .compare import CompareError, align, paired, same_metric

    for field, what in (("versions", "task version"), ("n-shot", "n-shot")):
        bv, cv = base.results.get(field, {}).get(task), cand.results.get(field, {}).get(task)
        if bv != cv:
            raise RegressError(
                f"{task}: the runs differ in {what} (baseline {bv}, candidate {cv}); their scores "
                "are not comparable. Re-run both with the same task config and --num_fewshot"
            )
    b_items = results.primary_items(base, task)
    if b_items is None:
        raise RegressError(f"{task}: no metric of the baseline can be recomputed from its samples")
    c_items = same_metric(cand, task, b_items)
    if c_items is None:
        raise RegressError(
            f"{task}: the candidate has no per-sample {b_items.metric},{b_items.filter}; "
            "re-run it with --log_samples on the same task config"
        )
    try:
        d = paired(c_items, b_items, n_boot, seed, alpha)
    except CompareError as exc:
        raise RegressError(str(exc)) from None
    c, b = align(c_items, b_items)
    lo, hi, bv, cv = d.lo, d.hi, d.b, d.a
    p = wins = losses = None
    if b.agg == "mean" and _binary(b.items) and _binary(c.items):
        p, wins, losses = _mcnemar(b.items, c.items)
    sign = 1.0 if b.higher_is_better else -1.0
    s_lo, s_hi = sorted((sign * lo, sign * hi))
    significant = p is None or p < alpha
    if significant and s_hi < -max_drop:
        verdict = "regressed"
    elif significant and s_lo > 0:
        verdict = "improved"
    else:
        verdict = "unchanged"
    return TaskComparison(
        task,
        b.metric,
        b.filter,
        b.higher_is_better,
        d.n,
        d.b_only,
        d.a_only,
        bv,
        cv,
        d.delta,
        lo,
        hi,
        p,
        wins,
        losses,
        verdict,
    )


def compare(
    base,
    cand,
    tasks: list[str] | None = None,
    max_drop: float = 0.0,
    n_boot: int = N_BOOT,
    seed: int = stats.SEED,
    alpha: float = ALPHA,
) -> list[TaskComparison]:
    """Every task both runs (results.Run) scored with samples, or `tasks`."""
    from . import results

    groups = set(base.results.get("group_subtasks", {})) | set(cand.results.get("group_subtasks", {}))
    bad = {"baseline": results.incomplete_tasks(base), "candidate": results.incomplete_tasks(cand)}
    # a task the baseline scored must be compared: a candidate that lacks it (or has it cut short) fails the gate
    wanted = set(tasks) if tasks else (set(base.results["configs"]) - groups)
    lost = [f"{t} ({role}: {why})" for role, b in bad.items() for t, why in sorted(b.items()) if t in wanted]
    lost += [
        f"{t} (candidate: not evaluated)"
        for t in sorted(wanted - set(cand.results["configs"]) - groups)
        if t in base.samples
    ]
    if lost:
        raise RegressError(
            "cannot compare every task the baseline scored, so the gate cannot pass: "
            + "; ".join(lost)
            + ". Re-run the incomplete run (or pass --tasks to compare fewer)"
        )
    shared = sorted((set(base.samples) & set(cand.samples)) - groups)
    if tasks:
        missing = [t for t in tasks if t not in shared]
        if missing:
            raise RegressError(
                f"--tasks {','.join(missing)}: not scored with samples in both runs "
                f"(shared tasks: {', '.join(shared) or 'none'})"
            )
        shared = [t for t in shared if t in tasks]
    if not shared:
        raise RegressError(
            "the two runs share no task with logged samples; compare runs of the same tasks, "
            "both made with --log_samples"
        )
    return [compare_task(base, cand, t, max_drop, n_boot, seed, alpha) for t in shared]


def overall(rows: list[TaskComparison]) -> str:
    verdicts = {r.verdict for r in rows}
    return "regressed" if "regressed" in verdicts else "improved" if "improved" in verdicts else "unchanged"


def _f(x: float | None, spec: str = ".3f") -> str:
    return "–" if x is None or not np.isfinite(x) else format(x, spec)


def markdown(rows: list[TaskComparison], settings: dict) -> str:
    lines = [
        f"# finbench regress: {overall(rows).upper()}",
        "",
        f"baseline: `{settings['baseline']}`  ",
        f"candidate: `{settings['candidate']}`  ",
        f"paired bootstrap over shared samples ({settings['n_boot']} resamples, seed {settings['seed']}), "
        f"{100 * (1 - settings['alpha']):g}% CI; McNemar exact test for 0/1 metrics (alpha {settings['alpha']}); "
        f"max drop {settings['max_drop']:g}",
        "",
        "| task | metric | n paired | baseline | candidate | Δ | 95% CI | McNemar p (wins/losses) | verdict |",
        "|---|---|---:|---:|---:|---:|---|---|---|",
    ]
    for r in rows:
        mc = "–" if r.mcnemar_p is None else f"{r.mcnemar_p:.3g} ({r.wins}/{r.losses})"
        arrow = "" if r.higher_is_better else " (lower is better)"
        lines.append(
            f"| {r.task} | {r.metric},{r.filter}{arrow} | {r.n} | {_f(r.baseline)} | {_f(r.candidate)} | "
            f"{_f(r.delta, '+.3f')} | [{_f(r.lo, '+.3f')}, {_f(r.hi, '+.3f')}] | {mc} | **{r.verdict}** |"
        )
    unpaired = [r for r in rows if r.baseline_only or r.candidate_only]
    if unpaired:
        lines += [
            "",
            "Samples scored by only one run (left out of the comparison): "
            + ", ".join(
                f"{r.task}: {r.baseline_only} baseline-only, {r.candidate_only} candidate-only" for r in unpaired
            ),
        ]
    return "\n".join(lines) + "\n"


def report_json(rows: list[TaskComparison], settings: dict) -> str:
    def clean(d: dict) -> dict:
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in d.items()}

    return (
        json.dumps(
            {"verdict": overall(rows), "settings": settings, "tasks": [clean(asdict(r)) for r in rows]},
            indent=1,
            sort_keys=True,
            allow_nan=False,
        )
        + "\n"
    )


def cmd_regress(args: argparse.Namespace) -> int:
    # written so that NaN fails every test (a NaN --max-drop would make every drop "unchanged")
    if not (args.n_boot >= 1 and 0 < args.alpha < 1 and 0 <= args.max_drop < float("inf")):
        print("finbench regress: need --n-boot >= 1, 0 < --alpha < 1 and a finite --max-drop >= 0", file=sys.stderr)
        return 2
    base = _one_run(Path(args.baseline), "baseline")
    cand = _one_run(Path(args.candidate), "candidate")
    if base.results_file.resolve() == cand.results_file.resolve():
        raise RegressError(
            f"--baseline and --candidate are the same run ({base.results_file}); comparing a run with "
            "itself always says unchanged. Pass the new run as --candidate"
        )
    tasks = [t for t in (args.tasks or "").split(",") if t] or None
    rows = compare(base, cand, tasks, args.max_drop, args.n_boot, args.seed, args.alpha)
    settings = {
        "baseline": str(args.baseline),
        "candidate": str(args.candidate),
        "n_boot": args.n_boot,
        "seed": args.seed,
        "alpha": args.alpha,
        "max_drop": args.max_drop,
    }
    md = markdown(rows, settings)
    if base.results_file.read_bytes() == cand.results_file.read_bytes():
        md += (
            "\nNote: the baseline and candidate results files are identical copies (the same run twice?); "
            "check that --candidate is the new run.\n"
        )
    if args.markdown:
        write_text(Path(args.markdown), md)
    if args.json:
        write_text(Path(args.json), report_json(rows, settings))
    print(md, end="")
    return 1 if overall(rows) == "regressed" else 0


def add_parser(sub) -> None:
    """Register `regress` on the `finbench` sub-command parser."""
    r = sub.add_parser(
        "regress",
        help="paired per-task comparison of two lm-eval runs; exit 1 on a significant regression, 2 on unusable input",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("--baseline", required=True, help="lm-eval output dir (one run) or its results_*.json")
    r.add_argument("--candidate", required=True, help="lm-eval output dir (one run) or its results_*.json")
    r.add_argument("--tasks", default=None, help="comma-separated tasks (default: every task both runs scored)")
    r.add_argument(
        "--max-drop",
        type=float,
        default=0.0,
        help="tolerated drop: regressed only if the whole CI is below -MAX_DROP (default 0)",
    )
    r.add_argument("--n-boot", type=int, default=N_BOOT, help=f"paired bootstrap resamples (default {N_BOOT})")
    r.add_argument("--seed", type=int, default=stats.SEED, help="bootstrap seed (default 0; + a CRC of the task)")
    r.add_argument("--alpha", type=float, default=ALPHA, help="significance level (default 0.05: 95%% CIs)")
    r.add_argument("--markdown", default=None, metavar="FILE", help="also write the Markdown report here")
    r.add_argument("--json", default=None, metavar="FILE", help="also write the JSON report here")
    r.set_defaults(func=cmd_regress)
