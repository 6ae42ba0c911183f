"""The leaderboard table: columns (one per task and its version/n-shot), category averages and an overall score
with bootstrap CIs, the best cell per column (marked only where the statistics separate it from the runner-up),
comparability flags, Δ vs the single-task run for runs that share a base model (finbench.compare), and published
reference numbers (published.py) with each run's own value of their metric.

Rules (docs/DESIGN.md):
- A task whose runs differ in task version or n-shot becomes one column per variant, flagged; averages over it
  are left blank, so different variants are never averaged or compared.
- Category = the innermost lm-eval group that lists the task; its average (and the overall score, the mean over
  all task columns, as lm-eval averages a group of groups) is shown only for runs that have every column of it,
  and only over higher-is-better metrics. Its draws are the mean of the task draws, index by index.
- Best cell: the top and the runner-up are compared with a paired bootstrap when they were scored on the same
  samples (same doc ids and hashes, so the same resample indices: the Δ draws are the difference of the draws),
  else by non-overlap of their 95 % CIs (top's lower bound beyond the runner-up's upper bound)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from .. import compare, stats
from . import published
from .load import Cell, Entry, public


@dataclass
class Column:
    key: str  # unique id (the task name, or task@version,n-shot when a task has several variants)
    task: str
    metric: str
    filter: str
    version: str
    n_shot: str
    higher_is_better: bool
    category: str
    variant: bool = False  # this task has several versions/n-shots across runs

    @property
    def label(self) -> str:
        return f"{self.task} [v{self.version}, {self.n_shot}-shot]" if self.variant else self.task


@dataclass
class Score:
    value: float
    lo: float
    hi: float
    boot: np.ndarray = field(repr=False)
    sig: str  # which samples it was scored on (equal sig -> paired comparison possible)
    n: int = 0
    best: bool = False
    cell: Cell | None = field(default=None, repr=False)

    @property
    def sample(self) -> str | None:
        return self.cell.sample if self.cell is not None else None


@dataclass
class Delta:
    task: str
    reference: Entry | ConfigRow  # the single-task run, or configuration (seed-aware)
    value: float  # on the documents both runs scored
    lo: float
    hi: float
    n: int  # documents both scored (always paired: finbench.compare.paired)
    higher_is_better: bool

    @property
    def verdict(self) -> str:
        return {"better": "helps", "worse": "hurts"}.get(
            compare.direction(self.lo, self.hi, self.higher_is_better), "no clear difference"
        )


@dataclass
class Row:
    entry: Entry
    tasks: dict[str, Score | None]  # column key -> score
    categories: dict[str, Score | None]
    overall: Score | None
    deltas: list[Delta] = field(default_factory=list)


@dataclass
class ConfigRow:
    """A recipe trained with several seeds (runs `<recipe>-seed<N>`): per task column, the mean over the seeds that
    scored it, with the two-level (seeds, then documents) 95 % CI of finbench.compare.study_scores; Δ vs the
    single-task configuration of each task (seed-aware, paired by document)."""

    name: str
    recipe: compare.RunRecipe
    runs: list[str]  # its seed runs' display names
    tasks: dict[str, Score | None] = field(default_factory=dict)  # column key -> score
    seeds: dict[str, list[str]] = field(default_factory=dict)  # column key -> the runs that scored it
    deltas: list[Delta] = field(default_factory=list)


@dataclass
class Table:
    columns: list[Column]
    categories: list[str]
    rows: list[Row]
    flags: list[str]
    n_boot: int
    seed: int
    averaged: dict[str, list[str]]  # category (or "overall") -> the column keys it averages; [] = not comparable
    references: list = field(default_factory=list)  # Reference rows (published numbers on the table's tasks)
    configurations: list[ConfigRow] = field(default_factory=list)  # recipes with several seeds


def _sig(keys: list[str]) -> str:
    return hashlib.sha1("\n".join(keys).encode()).hexdigest()


def _variant_key(cell: Cell) -> tuple:
    return (cell.items.metric, cell.items.filter, cell.version, cell.n_shot)


def _columns(entries: list[Entry]) -> tuple[list[Column], list[str], list[str]]:
    variants: dict[str, dict[tuple, list[Entry]]] = {}
    category: dict[str, str] = {}
    for e in entries:
        for task, cell in e.cells.items():
            variants.setdefault(task, {}).setdefault(_variant_key(cell), []).append(e)
            if e.categories.get(task):
                category.setdefault(task, e.categories[task])
    columns, flags = [], []
    for task in sorted(variants):
        kinds = variants[task]
        several = len(kinds) > 1
        if several:
            desc = "; ".join(f"{m},{f} v{v} {s}-shot: {len(es)} run(s)" for (m, f, v, s), es in sorted(kinds.items()))
            flags.append(
                f"{task}: runs differ in task version, n-shot or metric ({desc}); shown as separate "
                "columns and left out of every average, never compared."
            )
        for (metric, filt, version, n_shot), es in sorted(kinds.items()):
            hib = es[0].cells[task].items.higher_is_better
            key = f"{task}@v{version},{n_shot}-shot,{metric},{filt}" if several else task
            columns.append(Column(key, task, metric, filt, version, n_shot, hib, category.get(task, ""), several))
    cats = sorted({c.category for c in columns})
    return columns, cats, flags


def _cell_for(entry: Entry, col: Column) -> Cell | None:
    cell = entry.cells.get(col.task)
    return (
        cell if cell is not None and _variant_key(cell) == (col.metric, col.filter, col.version, col.n_shot) else None
    )


def _average(scores: list[Score]) -> Score:
    boot = np.mean(np.stack([s.boot for s in scores]), axis=0)
    lo, hi = stats.percentile_ci(boot)
    return Score(
        float(np.mean([s.value for s in scores])), lo, hi, boot, _sig([s.sig for s in scores]), sum(s.n for s in scores)
    )


def separated(top: Score, second: Score, higher_is_better: bool) -> bool:
    """Does the evidence separate `top` from `second`? Paired bootstrap when both were scored on the same samples
    (the Δ draws' 95 % CI excludes 0), else non-overlapping 95 % CIs."""
    sign = 1.0 if higher_is_better else -1.0
    if top.sig == second.sig:
        lo, _ = stats.percentile_ci(sign * (top.boot - second.boot))
        return lo > 0
    return top.lo > second.hi if higher_is_better else top.hi < second.lo


def _mark_best(scores: list[Score | None], higher_is_better: bool) -> None:
    present = sorted(
        (s for s in scores if s is not None and np.isfinite(s.value)), key=lambda s: s.value, reverse=higher_is_better
    )
    if len(present) >= 2 and present[0].value != present[1].value:
        present[0].best = separated(present[0], present[1], higher_is_better)


def _deltas(rows: list[Row], columns: list[Column], n_boot: int, seed: int, flags: list[str]) -> None:
    """For runs sharing a base model: Δ on each task vs the single-task run trained on that task (finbench.compare:
    the task's `dataset_kwargs.task` names the mixture task; paired on the documents both runs scored)."""
    by_base: dict[str, list[Row]] = {}
    for r in rows:
        if r.entry.recipe is not None:
            by_base.setdefault(r.entry.recipe.base_model, []).append(r)
    for base, group in sorted(by_base.items()):
        for col in columns:
            scored = [r for r in group if r.tasks.get(col.key) is not None]
            configs = scored[0].tasks[col.key].cell.configs if scored else {}
            picked = set(compare.single_task_runs({i: r.entry.recipe for i, r in enumerate(scored)}, configs, col.task))
            refs = [r for i, r in enumerate(scored) if i in picked]
            if len(refs) > 1:
                seeds = len({r.entry.recipe.config for r in refs}) == 1
                flags.append(
                    f"{col.label}: {len(refs)} single-task runs on base model {public(base)} "
                    f"({', '.join(r.entry.name for r in refs)}); no Δ computed for this task"
                    + (
                        "; they are seeds of one recipe: the configurations table gives the seed-aware Δ."
                        if seeds
                        else "."
                    )
                )
            if len(refs) != 1:
                continue
            ref = refs[0]
            ref_cell = ref.tasks[col.key].cell
            for r in group:
                score = r.tasks.get(col.key)
                if r is ref or score is None:
                    continue
                try:
                    d = compare.paired(score.cell.items, ref_cell.items, n_boot, seed)
                except compare.CompareError:
                    flags.append(
                        f"{col.label}: {r.entry.name} and its single-task run {ref.entry.name} share no "
                        "documents; no Δ computed."
                    )
                    continue
                r.deltas.append(Delta(col.label, ref.entry, d.delta, d.lo, d.hi, d.n, col.higher_is_better))


@dataclass
class Reference:
    """A published number (finbench.leaderboard.published) on a task column, and each run's own value of its
    metric against it. Never averaged, ranked or paired."""

    published: published.Published
    column: Column
    runs: list[tuple[Row, published.Versus]]
    configurations: list[tuple[ConfigRow, published.Versus]] = field(default_factory=list)


def _references(
    rows: list[Row],
    columns: list[Column],
    refs: list[published.Published],
    n_boot: int,
    seed: int,
    groups: list[compare.Configuration],
    configs: list[ConfigRow],
) -> list[Reference]:
    out = []
    for ref in refs:
        for col in columns:
            if col.task != ref.task:
                continue
            vs = [
                (r, published.versus(ref, r.tasks[col.key].cell.metrics[ref.metric], n_boot, seed))
                for r in rows
                if r.tasks.get(col.key) is not None and ref.metric in r.tasks[col.key].cell.metrics
            ]
            mine = []
            if groups and not col.variant:
                try:
                    sc = compare.study_scores(groups, ref.task, ref.metric, n_boot, seed)
                except compare.CompareError:
                    sc = {}
                mine = [(c, published.place(ref, s.value, s.lo, s.hi, s.n)) for c in configs if (s := sc.get(c.name))]
            out.append(Reference(ref, col, vs, mine))
    return out


def _configurations(
    rows: list[Row], columns: list[Column], n_boot: int, seed: int, flags: list[str]
) -> tuple[list[compare.Configuration], list[ConfigRow]]:
    """The recipes with several seed runs among the rows (compare.configurations) and their seed-aware scores and
    Δs. Columns of a task with several variants are left out (never compared); a task the seeds cannot be scored
    on together (compare.CompareError) is flagged and left blank."""
    named = [
        compare.NamedRun(r.entry.name, r.entry.run, r.entry.recipe)
        for r in rows
        if r.entry.recipe is not None and r.entry.run is not None
    ]
    try:
        groups = [c for c in compare.configurations(named) if len(c.runs) > 1]
    except compare.CompareError as exc:
        flags.append(f"No seed-aware configuration scores: {exc}.")
        return [], []
    out = [ConfigRow(c.name, c.recipe, [r.name for r in c.runs]) for c in groups]
    scores: dict[str, dict[str, compare.StudyScore]] = {}
    for col in columns:
        sc: dict[str, compare.StudyScore] = {}
        if groups and not col.variant:
            try:
                sc = compare.study_scores(groups, col.task, n_boot=n_boot, seed=seed)
            except compare.CompareError as exc:
                flags.append(f"{col.label}: no seed-aware configuration scores ({exc}).")
        scores[col.key] = sc
        first = {r.entry.name: r.tasks.get(col.key) for r in rows}
        for row in out:
            s = sc.get(row.name)
            seed1 = first.get(s.runs[0]) if s else None  # its first seed's cell: which documents (sample text)
            cell = seed1.cell if seed1 is not None else None
            row.tasks[col.key] = None if s is None else Score(s.value, s.lo, s.hi, s.boot, "", s.n, cell=cell)
            row.seeds[col.key] = list(s.runs) if s else []
    by_name = {c.name: c for c in out}
    for row, c in zip(out, groups):
        if c.recipe.single_task:
            continue
        for col in columns:
            sc = scores[col.key]
            if row.name not in sc:
                continue
            single = compare.single_config([g for g in groups if g.name in sc], col.task, c.recipe.base_model)
            if single is not None:
                d = compare.config_delta(sc[row.name], sc[single.name])
                row.deltas.append(
                    Delta(col.label, by_name[single.name], d.value, d.lo, d.hi, d.n, col.higher_is_better)
                )
    return groups, out


def build_table(entries: list[Entry], n_boot: int, seed: int, refs: list[published.Published] | None = None) -> Table:
    """`refs`: published numbers to show as reference rows (default: the package's published.yaml)."""
    columns, cats, flags = _columns(entries)
    rows = []
    for e in entries:
        tasks = {}
        for col in columns:
            cell = _cell_for(e, col)
            tasks[col.key] = (
                None
                if cell is None
                else Score(cell.value, cell.lo, cell.hi, cell.boot, _sig(cell.items.keys), cell.n, cell=cell)
            )
        rows.append(Row(e, tasks, {}, None))
    flagged = {c.task for c in columns if c.variant}
    averaged: dict[str, list[str]] = {}
    for cat in cats + ["overall"]:
        cols = [c for c in columns if cat in ("overall", c.category)]
        ok = cols and not any(c.task in flagged for c in cols) and all(c.higher_is_better for c in cols)
        averaged[cat] = [c.key for c in cols] if ok else []
        for r in rows:
            scores = [r.tasks[k] for k in averaged[cat]]
            avg = _average(scores) if scores and all(s is not None for s in scores) else None
            if cat == "overall":
                r.overall = avg
            else:
                r.categories[cat] = avg
    for col in columns:
        _mark_best([r.tasks[col.key] for r in rows], col.higher_is_better)
    for cat in cats:
        _mark_best([r.categories[cat] for r in rows], True)
    _mark_best([r.overall for r in rows], True)
    samples = {}
    for col in columns:
        sigs = {r.tasks[col.key].sig for r in rows if r.tasks[col.key] is not None}
        if len(sigs) > 1:
            samples[col.label] = len(sigs)
    if samples:
        flags.append(
            "Runs scored on different samples (e.g. another --limit or --samples): "
            + ", ".join(f"{t} ({k} sample sets)" for t, k in sorted(samples.items()))
            + "; their cells are compared by CI overlap only, not paired."
        )
    partial = [r.entry.name for r in rows if any(s is not None and s.sample for s in r.tasks.values())]
    if partial:
        flags.append(
            "Partial runs, scored on a sample of the test sets (--limit or --samples), not the full test sets: "
            + ", ".join(partial)
            + "; hover a cell for its 'sample of N of M documents'."
        )
    _deltas(rows, columns, n_boot, seed, flags)

    def order(r: Row):
        o = r.overall.value if r.overall is not None else -np.inf
        return (-o, r.entry.name, r.entry.label)

    rows.sort(key=order)
    groups, configs = _configurations(rows, columns, n_boot, seed, flags)
    references = _references(rows, columns, published.load() if refs is None else refs, n_boot, seed, groups, configs)
    return Table(columns, cats, rows, flags, n_boot, seed, averaged, references, configs)
