"""A sweep's results as markdown: per-task scores of every run with 95 % bootstrap CIs, and per-task paired deltas
of each multi-task run against the single-task run of that task (and against the zero-shot base).

Pairing: every run's per-task bootstrap uses the same seed per task (finbench.results), so draw i resamples the same
documents in every run once the samples are aligned by doc_id; a delta's draws are the difference of the two runs'
draws. Runs are compared on the documents of each task that all of them were evaluated on (their --limit may differ).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from finbench import results, stats

from .sweep import BASE_RUN, read_plan


@dataclass
class RunScores:
    name: str
    tasks: list[str]  # the recipe's mixture tasks ([] for zero-shot)
    single: bool  # one task, no general/math
    rows: dict[str, results.MetricRow]  # task or group -> its `score` row
    doc_ids: dict[str, list]


def _latest(eval_dir: Path) -> results.Run:
    found = results.find_runs(eval_dir, lazy=True)
    if not found:
        raise FileNotFoundError(f"{eval_dir}: no lm-eval results (run `finbench sweep run` first)")
    return found[-1]


def run_scores(name: str, run: results.Run, recipe_file: Path, shared: dict[str, set] | None = None) -> RunScores:
    """Scores of one run; with `shared`, each task is restricted to those doc ids (runs evaluated with different
    --limit values are compared on the documents they have in common, never on different ones)."""
    for task in list(run.samples):
        kept = [s for s in run.samples[task] if shared is None or s["doc_id"] in shared.get(task, ())]
        run.samples[task] = sorted(kept, key=lambda s: s["doc_id"])
    rows = [r for r in results.metric_rows(run) if r.metric == "score"]
    rows += results.group_rows(run, rows)
    tasks, single = [], False
    if recipe_file.exists():
        mixture = yaml.safe_load(recipe_file.read_text())["mixture"]
        tasks = [p["task"] for p in mixture["tasks"]]
        single = len(tasks) == 1 and not mixture.get("general") and not mixture.get("math")
    return RunScores(name, tasks, single, {r.task: r for r in rows},
                     {t: [s["doc_id"] for s in ss] for t, ss in run.samples.items()})


def shared_docs(runs: list[results.Run]) -> dict[str, set]:
    """Per task, the doc ids that every run evaluated on that task has (a run may skip tasks: `--tasks`)."""
    shared: dict[str, set] = {}
    for run in runs:
        for t, ss in run.samples.items():
            docs = {s["doc_id"] for s in ss}
            shared[t] = shared[t] & docs if t in shared else docs
    return shared


def _cell(r: results.MetricRow | None) -> str:
    return "–" if r is None else f"{r.value:.3f} [{r.lo:.3f}, {r.hi:.3f}]"


def _delta(a: RunScores, b: RunScores, task: str) -> str:
    ra, rb = a.rows.get(task), b.rows.get(task)
    if ra is None or rb is None:
        return "–"
    leaves = [task] if task in a.doc_ids else [t for t in a.doc_ids if t in b.doc_ids]  # a group: its tasks
    for t in leaves:
        if a.doc_ids[t] != b.doc_ids.get(t):
            raise ValueError(f"{task}: {a.name} and {b.name} were evaluated on different documents; "
                             f"evaluate both with the same --limit")
    diff = ra.boot - rb.boot
    lo, hi = stats.percentile_ci(diff)
    mark = " ▲" if lo > 0 else (" ▼" if hi < 0 else "")
    return f"{ra.value - rb.value:+.3f} [{lo:+.3f}, {hi:+.3f}]{mark}"


def markdown(sweep_dir: Path) -> str:
    sweep_dir = Path(sweep_dir)
    plan = read_plan(sweep_dir)
    names = [e["name"] for e in plan["runs"] if (sweep_dir / "runs" / e["name"] / "DONE.json").exists()]
    if not names:
        raise FileNotFoundError(f"{sweep_dir}: no finished runs")
    dirs = [sweep_dir / "runs" / n / "eval" for n in names]
    loaded = [_latest(d) for d in dirs]  # each run's files are read once
    shared = shared_docs(loaded)
    runs = [run_scores(n, run, d / "recipe.yaml", shared) for n, run, d in zip(names, loaded, dirs)]
    tasks = sorted({t for r in runs for t in r.rows if t in r.doc_ids})
    groups = sorted({t for r in runs for t in r.rows if t not in r.doc_ids})
    n_docs = {t: len(next(r.doc_ids[t] for r in runs if t in r.doc_ids)) for t in tasks}
    out = [f"Score (`score` of each task: the suite's headline metric) with 95 % percentile-bootstrap CIs, "
           f"{results.N_BOOT} resamples; documents per task: "
           + ", ".join(f"{t.removeprefix('finbench_')} {n_docs[t]}" for t in tasks) + ".", ""]
    header = "| run | " + " | ".join(t.removeprefix("finbench_") for t in groups + tasks) + " |"
    out += [header, "|---" * (1 + len(groups) + len(tasks)) + "|"]
    for r in runs:
        out.append(f"| {r.name} | " + " | ".join(_cell(r.rows.get(t)) for t in groups + tasks) + " |")
    singles = {r.tasks[0]: r for r in runs if r.single}
    base = next((r for r in runs if r.name == BASE_RUN), None)
    multi = [r for r in runs if r.tasks and not r.single]
    if singles and multi:
        out += ["", "Δ(multi-task run − single-task run of the task), paired bootstrap over the same documents, 95 % CI "
                "(▲/▼: the CI excludes 0).", ""]
        cols = [t for t in tasks if t.removeprefix("finbench_") in singles]
        out += ["| run | " + " | ".join(f"{t.removeprefix('finbench_')} (vs {singles[t.removeprefix('finbench_')].name})"
                                        for t in cols) + " |", "|---" * (1 + len(cols)) + "|"]
        for r in multi:
            out.append(f"| {r.name} | " + " | ".join(_delta(r, singles[t.removeprefix("finbench_")], t)
                                                    for t in cols) + " |")
    if base is not None:
        others = [r for r in runs if r is not base]
        out += ["", f"Δ(run − {BASE_RUN}), paired, 95 % CI.", "",
                "| run | " + " | ".join(t.removeprefix("finbench_") for t in groups + tasks) + " |",
                "|---" * (1 + len(groups) + len(tasks)) + "|"]
        for r in others:
            out.append(f"| {r.name} | " + " | ".join(_delta(r, base, t) for t in groups + tasks) + " |")
    return "\n".join(out) + "\n"
