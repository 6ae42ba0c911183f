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

Training seeds: `--baseline DIR DIR ... --candidate DIR DIR ...` (each DIR one run, e.g. `<recipe>-seed<N>`) compares
the two sides' means over their seeds, on the documents every run scored: Δ = mean(candidate) − mean(baseline),
its 95 % CI from the two-level bootstrap (seeds, then documents; the same document draws on both sides:
finbench.compare.study_scores and config_delta, as `finbench study report`). One seed's luck then cannot pass or fail
the gate. McNemar's test is per pair of runs, so with several seeds the verdict is the CI's alone.
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


def _verdict(lo: float, hi: float, higher_is_better: bool, max_drop: float, significant: bool = True) -> str:
    """The module docstring's rule on Δ's CI [lo, hi] (sign-adjusted for lower-is-better metrics)."""
    sign = 1.0 if higher_is_better else -1.0
    s_lo, s_hi = sorted((sign * lo, sign * hi))
    if significant and s_hi < -max_drop:
        return "regressed"
    if significant and s_lo > 0:
        return "improved"
    return "unchanged"


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
    verdict = _verdict(lo, hi, b.higher_is_better, max_drop, significant=p is None or p < alpha)
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


def compare_seeds(
    bases: list, cands: list, task: str, max_drop: float, n_boot: int, seed: int, alpha: float
) -> TaskComparison:
    """One task, each side a list of seed runs (results.Run): Δ of the means over seeds, two-level bootstrap CI."""
    from .compare import CompareError, Configuration, NamedRun, config_delta, run_recipe, study_scores

    def name(runs: list, role: str) -> str:  # the recipe the seeds share, so the draws are the study report's
        configs = {r.config if (r := run_recipe(x)) else None for x in runs}
        return configs.pop() if len(configs) == 1 and None not in configs else role

    names = [name(bases, "baseline"), name(cands, "candidate")]
    if names[0] == names[1]:
        names = ["baseline", "candidate"]
    sides = [
        Configuration(n, [NamedRun(str(r.results_file), r, None) for r in runs], None)
        for n, runs in zip(names, (bases, cands))
    ]
    try:  # study_scores refuses runs that differ in task version or n-shot
        sc = study_scores(sides, task, n_boot=n_boot, seed=seed, alpha=alpha)
        b, c = sc[names[0]], sc[names[1]]
        d = config_delta(c, b, alpha)
    except CompareError as exc:
        raise RegressError(str(exc)) from None
    verdict = _verdict(d.lo, d.hi, b.higher_is_better, max_drop)

    def unshared(runs: list) -> int:  # documents some run of the side scored that not every run did
        return len({x["doc_id"] for r in runs for x in r.samples[task]}) - d.n

    return TaskComparison(
        task, b.metric, b.filter, b.higher_is_better, d.n, unshared(bases), unshared(cands),
        b.value, c.value, d.value, d.lo, d.hi, None, None, None, verdict,
    )  # fmt: skip


def compare(
    base,
    cand,
    tasks: list[str] | None = None,
    max_drop: float = 0.0,
    n_boot: int = N_BOOT,
    seed: int = stats.SEED,
    alpha: float = ALPHA,
) -> list[TaskComparison]:
    """Every task both runs (results.Run) scored with samples, or `tasks`. `base` and `cand` may each be a list of
    seed runs (compare_seeds): then every task every run scored."""
    from . import results

    bases, cands = (x if isinstance(x, list) else [x] for x in (base, cand))
    runs = bases + cands
    groups = set().union(*(set(r.results.get("group_subtasks", {})) for r in runs))
    # a task a baseline scored must be compared: a candidate that lacks it (or has it cut short) fails the gate
    wanted = set(tasks) if tasks else set().union(*(set(b.results["configs"]) for b in bases)) - groups

    def who(role: str, side: list, r) -> str:  # a side of several seed runs names the run
        return role if len(side) == 1 else f"{role} {r.results_file}"

    lost = []
    for role, side in (("baseline", bases), ("candidate", cands)):
        for r in side:
            lost += [
                f"{t} ({who(role, side, r)}: {why})"
                for t, why in sorted(results.incomplete_tasks(r).items())
                if t in wanted
            ]
    lost += [
        f"{t} ({who('candidate', cands, r)}: not evaluated)"
        for r in cands
        for t in sorted(wanted - set(r.results["configs"]) - groups)
        if any(t in b.samples for b in bases)
    ]
    if lost:
        raise RegressError(
            "cannot compare every task the baseline scored, so the gate cannot pass: "
            + "; ".join(lost)
            + ". Re-run the incomplete run (or pass --tasks to compare fewer)"
        )
    shared = sorted(set.intersection(*(set(r.samples) for r in runs)) - groups)
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
            "the runs share no task with logged samples; compare runs of the same tasks, all made with --log_samples"
        )
    if len(bases) == len(cands) == 1:
        return [compare_task(bases[0], cands[0], t, max_drop, n_boot, seed, alpha) for t in shared]
    return [compare_seeds(bases, cands, t, max_drop, n_boot, seed, alpha) for t in shared]


def overall(rows: list[TaskComparison]) -> str:
    verdicts = {r.verdict for r in rows}
    return "regressed" if "regressed" in verdicts else "improved" if "improved" in verdicts else "unchanged"


def _f(x: float | None, spec: str = ".3f") -> str:
    return "–" if x is None or not np.isfinite(x) else format(x, spec)


def markdown(rows: list[TaskComparison], settings: dict) -> str:
    lines = [
        f"# finbench regress: {overall(rows).upper()}",
        "",
        f"baseline: {', '.join(f'`{x}`' for x in settings['baseline'])}  ",
        f"candidate: {', '.join(f'`{x}`' for x in settings['candidate'])}  ",
        (
            f"paired bootstrap over shared samples ({settings['n_boot']} resamples, seed {settings['seed']}), "
            f"{100 * (1 - settings['alpha']):g}% CI; McNemar exact test for 0/1 metrics (alpha {settings['alpha']}); "
            if len(settings["baseline"]) == len(settings["candidate"]) == 1
            else f"mean over each side's seeds ({len(settings['baseline'])} baseline, {len(settings['candidate'])} "
            f"candidate run(s)) on the documents every run scored; Δ's {100 * (1 - settings['alpha']):g}% CI from "
            f"a two-level bootstrap, seeds then documents ({settings['n_boot']} resamples, seed {settings['seed']}); "
        )
        + f"max drop {settings['max_drop']:g}",
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
            "Samples not scored by every run (left out of the comparison): "
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
    bases = [_one_run(Path(p), "baseline") for p in args.baseline]
    cands = [_one_run(Path(p), "candidate") for p in args.candidate]
    seen: dict[Path, str] = {}
    for role, side in (("baseline", bases), ("candidate", cands)):
        for r in side:
            f = r.results_file.resolve()
            if f in seen and seen[f] != role:
                raise RegressError(
                    f"--baseline and --candidate are the same run ({r.results_file}); comparing a run with "
                    "itself always says unchanged. Pass the new run as --candidate"
                )
            if f in seen:
                raise RegressError(f"--{role} {r.results_file} is given twice; each seed run counts once")
            seen[f] = role
    base, cand = bases[0], cands[0]
    tasks = [t for t in (args.tasks or "").split(",") if t] or None
    rows = compare(bases, cands, tasks, args.max_drop, args.n_boot, args.seed, args.alpha)
    settings = {
        "baseline": [str(p) for p in args.baseline],
        "candidate": [str(p) for p in args.candidate],
        "n_boot": args.n_boot,
        "seed": args.seed,
        "alpha": args.alpha,
        "max_drop": args.max_drop,
    }
    md = markdown(rows, settings)
    if len(bases) == len(cands) == 1 and base.results_file.read_bytes() == cand.results_file.read_bytes():
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
    r.add_argument(
        "--baseline",
        required=True,
        nargs="+",
        help="lm-eval output dir (one run) or its results_*.json; several: seeds",
    )
    r.add_argument(
        "--candidate",
        required=True,
        nargs="+",
        help="lm-eval output dir (one run) or its results_*.json; several: seeds",
    )
    r.add_argument("--tasks", default=None, help="comma-separated tasks (default: every task all runs scored)")
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
