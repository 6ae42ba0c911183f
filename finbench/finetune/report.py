"""The study report: `finbench study report RUN_DIR... [--out DIR]` (any lm-eval output dirs or their slim exports,
e.g. a study's committed runs) and `finbench sweep report SWEEP_DIR` (a sweep's finished runs). Markdown tables for
docs/RESULTS.md and a PNG of per-task Δ with CIs; the statistics are finbench.compare's.

- Runs of one recipe with different training seeds (`<recipe>-seed<N>`) are one configuration. Each task's score is
  the mean over seeds on the test documents every run scored, with a two-level (seeds, then documents) bootstrap
  95 % CI (finbench.compare, finbench.stats.resample_seeds). A seed evaluated on fewer tasks (the study evaluates
  the + general seeds 2-3 on the sentiment tasks only) counts on the tasks it scored; such cells say "k of n
  seeds". A run without a recipe (the zero-shot base) is its own configuration with one "seed" (document resampling
  only).
- Δ tables (paired by document: every configuration's draw b resamples the same documents): each configuration −
  the zero-shot base; each multi-task configuration − the single-task configuration of each task (a task's
  `dataset_kwargs.task` names its single-task recipe); ± general and ± math (configurations equal but for that
  share). Negative transfer: the tasks where a multi-task configuration is worse than the single-task one with the
  CI excluding 0.
- Majority class: the best constant answer (compare.majority_score) on the same documents, and Δ(run − it).
- Reference rows: published numbers (finbench.leaderboard.published) on the same task and metric, against each
  configuration's value of that metric with its CI; never part of any Δ.
- Answer distributions per run and task (extracted answers and gold), so a model that collapses to one label shows.
- Domain knowledge (the finbench_knowledge tasks, e.g. the study's `$STUDY/knowledge/<run>/{mmlu,gen}`): every metric
  of each (MMLU's per-subject accuracies, FinanceMath's acc, FinanceBench's numeric subset when no judge was used)
  per configuration, the MMLU majority letter, and Δ vs the zero-shot base per metric.
- A run's tasks may come from several output dirs (RUN_DIR/mmlu and RUN_DIR/gen): one model's results files with
  disjoint tasks are one run (load_runs).
Every seed counts; nothing is selected on test.
"""

from __future__ import annotations

import argparse
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path

from finbench import artifacts, compare, results, stats

from .recipe import RecipeError
from .rundir import DONE

BASE_RUN = "zero-shot"  # = finbench.finetune.sweep.BASE_RUN (imported lazily there: sweep pulls in training code)
FIGURE = "delta_vs_single.png"
TABLES = "RESULTS_tables.md"
TOP_ANSWERS = 4


@dataclass
class Study:
    configs: list[compare.Configuration]
    tasks: list[str]
    scores: dict[str, dict[str, compare.StudyScore]]  # task -> configuration -> score
    n_boot: int
    seed: int
    notes: list[str] = field(default_factory=list)


def _run_name(root: Path, results_file: Path, res: dict) -> str:
    rel = results_file.parent.relative_to(root) if results_file.is_relative_to(root) else Path()
    parts = [p for p in rel.parts if p not in (res.get("model_name_sanitized"), "eval")]
    # a sweep run's output is `<run>/eval`: the run is named by the folder above it
    return "/".join(parts) or (root.parent.name if root.name == "eval" else root.name)


def _leaf_tasks(run: results.Run) -> set[str]:
    return set(run.results["configs"]) - set(run.results.get("group_subtasks") or {})


def _disjoint(runs: list[results.Run]) -> bool:
    tasks = [_leaf_tasks(r) for r in runs]
    return sum(map(len, tasks)) == len(set().union(*tasks))


def _model(res: dict) -> str:
    return str(res.get("model_name_sanitized") or (res.get("config") or {}).get("model_args"))


def load_runs(paths: list[Path]) -> tuple[list[compare.NamedRun], list[str]]:
    """Every run under `paths` with its recipe; tasks that cannot be scored in full are dropped, with a note.

    A run whose tasks were evaluated in several output dirs is one run: results files of one recipe (its name), or
    without a recipe the files of one model under one RUN_DIR (named by their common folder, else RUN_DIR's name),
    whose tasks are disjoint (e.g. `<run>/mmlu` and `<run>/gen` of the study's knowledge tasks). A RUN_DIR holding
    only such files is that run, named by RUN_DIR (`knowledge/zero-shot` is `zero-shot`; with one output dir in it,
    a run is named by that dir, as before). Files whose tasks overlap stay separate runs (and two runs of one name
    are refused by compare.configurations)."""
    loaded = []  # (name, run, recipe)
    for root in map(Path, paths):
        files = results.results_files(root)
        if not files:
            raise compare.CompareError(f"{root}: no lm-eval results_*.json under it")
        base = root if root.is_dir() else root.parent
        mine = []
        for f in files:
            run = results.load_run(f, lazy=True)
            try:
                recipe = compare.run_recipe(run)
            except RecipeError as exc:
                raise compare.CompareError(f"{f}: its recipe is invalid ({exc})") from None
            mine.append([recipe.label if recipe else _run_name(base, f, run.results), run, recipe])
        by_model: dict[str, list] = {}
        for entry in mine:
            if entry[2] is None:
                by_model.setdefault(_model(entry[1].results), []).append(entry)
        only = len(by_model) == 1 and all(e[2] is None for e in mine)  # RUN_DIR is one recipe-less run
        for group in by_model.values():
            if len(group) < 2 or not _disjoint([e[1] for e in group]):
                continue
            names = [e[0].split("/") for e in group]
            common = [] if only else [p[0] for p in zip(*names) if len(set(p)) == 1]
            for e in group:
                e[0] = "/".join(common) or base.name
        loaded += mine
    runs, notes = [], []
    by_name: dict[str, list] = {}
    for entry in loaded:
        by_name.setdefault(entry[0], []).append(entry)
    for name, group in by_name.items():
        recipes = {e[2] for e in group}
        parts = [[e] for e in group]
        if len(group) > 1 and len(recipes) == 1 and _disjoint([e[1] for e in group]):
            parts = [group]
        for part in parts:
            for _, run, _ in part:
                groups = set(run.results.get("group_subtasks") or {})
                for task, why in sorted(results.incomplete_tasks(run).items()):
                    if task not in groups:
                        notes.append(f"{name}: {task} left out ({why})")
                    run.samples.pop(task, None)
            runs.append(compare.NamedRun(name, results.merge_runs([e[1] for e in part]), part[0][2]))
    return runs, notes


def study(
    runs: list[compare.NamedRun], n_boot: int = results.N_BOOT, seed: int = results.SEED, notes: list[str] | None = None
) -> Study:
    configs = sorted(
        compare.configurations(runs),  # the base first, then single-task, then multi-task
        key=lambda c: (c.recipe is not None, c.recipe is not None and not c.recipe.single_task, c.name),
    )
    groups = {g for r in runs for g in (r.run.results.get("group_subtasks") or {})}
    tasks = sorted({t for r in runs for t in r.run.samples} - groups)
    scores = {t: compare.study_scores(configs, t, n_boot=n_boot, seed=seed) for t in tasks}
    return Study(configs, tasks, scores, n_boot, seed, list(notes or []))


def _short(task: str) -> str:
    return task.removeprefix("finbench_")


def _cell(s: compare.StudyScore | None) -> str:
    return "–" if s is None else f"{s.value:.3f} [{s.lo:.3f}, {s.hi:.3f}]"


def _seeds_cell(c: compare.Configuration, s: compare.StudyScore | None) -> str:
    """A score cell, saying "k of n seeds" where only some of the configuration's seeds scored the task."""
    if s is None or len(s.runs) >= len(c.runs):
        return _cell(s)
    return f"{_cell(s)} ({len(s.runs)} of {len(c.runs)} seeds)"


def _delta_cell(d: compare.StudyDelta | None) -> str:
    if d is None:
        return "–"
    mark = {"better": " ▲", "worse": " ▼"}.get(d.direction, "")
    return f"{d.value:+.3f} [{d.lo:+.3f}, {d.hi:+.3f}]{mark}"


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    def row(cells: list[str]) -> str:  # a newline or a pipe in a cell (an answer's text) would break the table
        return "| " + " | ".join(c.replace("\n", "⏎").replace("|", "\\|") for c in cells) + " |"

    return [row(head), "|---" * len(head) + "|"] + [row(r) for r in rows]


def _configs_on(st: Study, task: str) -> dict[str, compare.StudyScore]:
    return st.scores.get(task, {})


def single_for(st: Study, task: str) -> compare.Configuration | None:
    """The single-task configuration trained on the task lm-eval task `task` evaluates (None if not exactly one)."""
    return compare.single_config(st.configs, task)


def deltas(st: Study, a: str, b: str) -> dict[str, compare.StudyDelta]:
    """Δ a − b per task both configurations scored."""
    out = {}
    for t in st.tasks:
        sc = _configs_on(st, t)
        if a in sc and b in sc:
            out[t] = compare.config_delta(sc[a], sc[b])
    return out


def base_config(st: Study) -> compare.Configuration | None:
    return next((c for c in st.configs if c.name == BASE_RUN), None) or (
        next(iter(c for c in st.configs if c.recipe is None), None)
        if sum(c.recipe is None for c in st.configs) == 1
        else None
    )


def multi_configs(st: Study) -> list[compare.Configuration]:
    return [c for c in st.configs if c.recipe and not c.recipe.single_task]


def vs_single(st: Study) -> dict[str, dict[str, compare.StudyDelta]]:
    """multi-task configuration -> task -> Δ(configuration − the task's single-task configuration)."""
    out = {}
    for c in multi_configs(st):
        row = {}
        for t in st.tasks:
            single = single_for(st, t)
            if single is not None and c.name in _configs_on(st, t) and single.name in _configs_on(st, t):
                row[t] = compare.config_delta(_configs_on(st, t)[c.name], _configs_on(st, t)[single.name])
        out[c.name] = row
    return out


def share_pairs(st: Study) -> list[tuple[str, compare.Configuration, compare.Configuration]]:
    """(what differs, with, without): configurations equal but for a general or a math share (with share > 0)."""
    out = []
    for a in st.configs:
        for b in st.configs:
            if a is b or not a.recipe or not b.recipe:
                continue
            ra, rb = a.recipe, b.recipe
            if (ra.base_model, ra.tasks) != (rb.base_model, rb.tasks):
                continue
            if ra.general > 0 and rb.general == 0 and ra.math == rb.math:
                out.append(("+ general", a, b))
            if ra.math > 0 and rb.math == 0 and ra.general == rb.general:
                out.append(("+ math", a, b))
    return out


def majority_of(st: Study, task: str, like: compare.StudyScore) -> compare.StudyScore | None:
    """compare.majority_score of `like` (a configuration's score of `task`, any metric), the gold labels of 0/1
    accuracy items taken from the task's label-pair metric."""
    run = next(r.run for c in st.configs for r in c.runs if task in r.run.samples)
    golds = compare.gold_labels(run, task, like.items.keys) if like.items is not None else None
    return compare.majority_score(like, st.seed, golds=golds)


def knowledge_tasks(st: Study) -> list[str]:
    from finbench import registry

    return [t for t in st.tasks if t in registry.TASKS and registry.TASKS[t].suite == registry.KNOWLEDGE]


def knowledge_scores(st: Study) -> list[tuple[str, str, dict[str, compare.StudyScore]]]:
    """(task, metric, configuration -> score) for every metric but `score` (the primary again) of each knowledge
    task that every run scoring the task logged (FinanceBench's judge_acc only with a judge), registry order."""
    from finbench import registry

    out = []
    for t in knowledge_tasks(st):
        for m in dict.fromkeys(m.name for m in registry.TASKS[t].metrics if m.name != "score"):
            try:
                found = compare.study_scores(st.configs, t, m, st.n_boot, st.seed)
            except compare.CompareError:
                continue
            if found:
                out.append((t, m, found))
    return out


def _judge_line(st: Study, task: str) -> str:
    runs = [r.run for c in st.configs for r in c.runs if task in r.run.samples]
    judges = sorted(
        {str(((r.results["configs"].get(task) or {}).get("metadata") or {}).get("judge") or "none") for r in runs}
    )
    scored = [i for i in results.metric_items(runs[0], task) if i.metric == "score"]
    n_all = len({s["doc_id"] for s in runs[0].samples[task]})
    n_scored = len(scored[0].keys) if scored else 0
    if judges == ["none"]:
        return (
            f"{_short(task)}, judge off (`judge: none`, every run): its score is the numeric subset only, "
            f"{n_scored} of the {n_all} questions evaluated, by the numeric-QA rule (numeric_acc); the open "
            "questions are not scored without an LLM judge (`--metadata '{\"judge\": ...}'`), so this is not "
            "the FinanceBench score of the judged benchmark."
        )
    return f"{_short(task)}: judge {', '.join(judges)}; score = numeric questions by the numeric-QA rule and open ones by the judge."


def knowledge_section(st: Study) -> list[str]:
    """The knowledge tasks' every metric per configuration (MMLU's per-subject accuracies included), the majority
    constant beside them, and Δ vs the zero-shot base per metric."""
    rows = knowledge_scores(st)
    if not rows:
        return []
    base = base_config(st)
    out = [
        "",
        "Domain knowledge (finbench_knowledge: does task fine-tuning move it?): every metric of each knowledge "
        "task, per configuration, on the documents every run scored (n), 95 % CI (seeds × documents). "
        "acc_accounting / acc_econometrics / acc_macro / acc_micro: MMLU accuracy on that subject's questions only "
        "(professional accounting, econometrics, high-school macro- and microeconomics); majority: the most common "
        "gold letter of those documents as a constant answer (compare.majority_score), same document draws.",
    ]
    out += [f"{_judge_line(st, t)}" for t in knowledge_tasks(st) if t == "finbench_financebench"]
    out += [""]
    names = [c.name for c in st.configs]
    table = []
    for t, m, sc in rows:
        first = next(iter(sc.values()))
        maj = majority_of(st, t, first)
        table.append(
            [
                _short(t),
                m,
                str(first.n),
                *(_cell(sc.get(n)) for n in names),
                f"{_cell(maj)} (`{maj.label}`)" if maj else "–",
            ]
        )
    out += _table(["task", "metric", "n", *names, "majority"], table)
    if base is not None:
        others = [n for n in names if n != base.name]
        out += ["", f"Domain knowledge: Δ(configuration − {base.name}) per metric, paired by document, 95 % CI.", ""]
        out += _table(
            ["task", "metric", "n", *others],
            [
                [
                    _short(t),
                    m,
                    str(next(iter(sc.values())).n),
                    *(
                        _delta_cell(compare.config_delta(sc[n], sc[base.name])) if n in sc and base.name in sc else "–"
                        for n in others
                    ),
                ]
                for t, m, sc in rows
            ],
        )
    return out


def _answers_line(counts, total: int) -> str:
    top = counts.most_common(TOP_ANSWERS)
    shown = ", ".join(f"`{a[:24]}` {n}" for a, n in top)
    rest = total - sum(n for _, n in top)
    return shown + (f", other {rest}" if rest else "")


def _mixture(r: compare.RunRecipe | None) -> str:
    if r is None:
        return "(no recipe: not fine-tuned)"
    return ", ".join(r.tasks) + "".join(f" + {k} {v:g}" for k, v in (("general", r.general), ("math", r.math)) if v)


def render(st: Study) -> str:
    """The study's markdown tables."""
    from finbench.leaderboard import published

    out = [
        f"Scores: each task's primary metric (finbench's `score`), mean over training seeds on the test documents "
        f"every run scored; 95 % CI from a two-level bootstrap (seeds, then documents; {st.n_boot} draws, seed "
        f"{st.seed}; finbench.compare). Δs are paired by document. ▲/▼: the CI excludes 0.",
        "",
    ]
    out += ["Configurations:", ""]
    out += _table(
        ["configuration", "seeds", "runs", "base model", "mixture"],
        [
            [
                c.name,
                str(len(c.runs)),
                ", ".join(r.name for r in c.runs),
                c.recipe.base_model if c.recipe else "–",
                _mixture(c.recipe),
            ]
            for c in st.configs
        ],
    )
    parts = [
        (r.name, r.run.results["finbench_parts"])
        for c in st.configs
        for r in c.runs
        if "finbench_parts" in r.run.results
    ]
    if parts:
        out += ["", "Runs whose tasks come from several lm-eval results files (one run, tasks side by side):", ""]
        out += [f"- {name}: " + ", ".join(f"`{Path(f).parent.parent.name}/`" for f in files) for name, files in parts]
    n_docs = {t: next(iter(s.n for s in _configs_on(st, t).values()), 0) for t in st.tasks}
    metric = {t: next(iter(s.metric for s in _configs_on(st, t).values()), "") for t in st.tasks}
    partial = {
        t: next(
            (
                x
                for c in st.configs
                for r in c.runs
                if t in r.run.samples
                for x in [results.sample_text(r.run.results, t)]
                if x
            ),
            None,
        )
        for t in st.tasks
    }
    out += [
        "",
        "Documents per task (shared by every run): "
        + ", ".join(
            f"{_short(t)} {n_docs[t]} ({metric[t]}{'; PARTIAL RUN: ' + partial[t] if partial[t] else ''})"
            for t in st.tasks
        )
        + ".",
        "",
    ]
    out += _table(
        ["configuration", *map(_short, st.tasks)],
        [[c.name, *(_seeds_cell(c, _configs_on(st, t).get(c.name)) for t in st.tasks)] for c in st.configs],
    )
    fewer = sorted(
        {
            f"{c.name} on {_short(t)}: {', '.join(s.runs)}"
            for c in st.configs
            for t in st.tasks
            if (s := _configs_on(st, t).get(c.name)) and len(s.runs) < len(c.runs)
        }
    )
    if fewer:
        out += [
            "",
            "Scored by some of their seeds only (the plan evaluates those seeds on fewer tasks): "
            + "; ".join(fewer)
            + ".",
        ]
    majority = {t: majority_of(st, t, next(iter(_configs_on(st, t).values()))) for t in st.tasks if _configs_on(st, t)}
    if any(majority.values()):
        out += [
            "",
            "Majority class: the best constant answer on each task's shared documents (its most common gold "
            "label), and Δ(run − it), paired by document, 95 % CI.",
            "",
        ]
        out += _table(
            ["", *map(_short, st.tasks)],
            [
                [
                    "majority class",
                    *(f"{_cell(m)} (`{m.label}`)" if (m := majority.get(t)) else "–" for t in st.tasks),
                ]
            ]
            + [
                [
                    c.name,
                    *(
                        _delta_cell(compare.config_delta(_configs_on(st, t)[c.name], majority[t]))
                        if majority.get(t) and c.name in _configs_on(st, t)
                        else "–"
                        for t in st.tasks
                    ),
                ]
                for c in st.configs
            ],
        )
    base = base_config(st)
    if base is not None:
        others = [c for c in st.configs if c is not base]
        out += ["", f"Δ(run − {base.name}), paired, 95 % CI.", ""]
        out += _table(
            ["configuration", *map(_short, st.tasks)],
            [[c.name, *(_delta_cell(deltas(st, c.name, base.name).get(t)) for t in st.tasks)] for c in others],
        )
    out += knowledge_section(st)
    singles = vs_single(st)
    cols = [t for t in st.tasks if single_for(st, t) is not None]
    negative = []
    if singles and cols:
        out += ["", "Δ(multi-task configuration − the single-task configuration of the task), paired, 95 % CI.", ""]
        out += _table(
            ["configuration", *(f"{_short(t)} (vs {single_for(st, t).name})" for t in cols)],
            [[name, *(_delta_cell(row.get(t)) for t in cols)] for name, row in singles.items()],
        )
        negative = [(name, d) for name, row in singles.items() for d in row.values() if d.direction == "worse"]
        out += ["", "Negative transfer (multi-task worse than single-task, CI excluding 0):", ""]
        out += (
            _table(
                ["configuration", "task", "vs", "Δ [95 % CI]"],
                [[name, _short(d.task), d.b, _delta_cell(d)] for name, d in negative],
            )
            if negative
            else ["none."]
        )
    pairs = share_pairs(st)
    if pairs:
        out += [
            "",
            "Δ of adding general-instruction or math data (configurations equal but for that share), paired, 95 % CI.",
            "",
        ]
        out += _table(
            ["Δ", "configuration − without", *map(_short, st.tasks)],
            [
                [what, f"{a.name} − {b.name}", *(_delta_cell(deltas(st, a.name, b.name).get(t)) for t in st.tasks)]
                for what, a, b in pairs
            ],
        )
    refs = [r for r in published.load() if r.task in st.tasks]
    if refs:
        out += [
            "",
            f"Reference rows: published numbers ({published.NOTE}), against each configuration's own value "
            "of the same metric on the same task (seeds × documents CI). Above/below: the CI excludes the "
            "published value.",
            "",
        ]
        rows = []
        for ref in refs:
            rows.append(
                [
                    f"**{ref.model}** (published)",
                    _short(ref.task),
                    ref.metric,
                    f"{ref.value:.3f}",
                    f"{ref.split}; {ref.source}",
                ]
            )
            try:
                mine = compare.study_scores(st.configs, ref.task, ref.metric, st.n_boot, st.seed)
            except compare.CompareError:
                continue
            for name, s in mine.items():
                verdict = "above" if s.lo > ref.value else "below" if s.hi < ref.value else "CI includes it"
                rows.append([name, _short(ref.task), ref.metric, _cell(s), f"{verdict} ({s.n} documents)"])
        out += _table(["model", "task", "metric", "score", "split / source · verdict"], rows)
    out += [
        "",
        "Answer distributions (extracted answers per run; `gold`: the targets), so a collapse to one answer "
        "is visible:",
        "",
    ]
    rows = []
    for t in st.tasks:
        gold = None
        for c in st.configs:
            for r in c.runs:
                if t not in r.run.samples:
                    continue
                answers, golds = compare.answer_distribution(r.run, t)
                gold = gold or golds
                total = sum(answers.values())
                top_share = answers.most_common(1)[0][1] / total if total else 0.0
                rows.append(
                    [
                        _short(t),
                        r.name,
                        str(total),
                        str(len(answers)),
                        f"{top_share:.0%}",
                        _answers_line(answers, total),
                    ]
                )
        if gold:
            total = sum(gold.values())
            rows.append(
                [
                    _short(t),
                    "gold",
                    str(total),
                    str(len(gold)),
                    f"{gold.most_common(1)[0][1] / total:.0%}",
                    _answers_line(gold, total),
                ]
            )
    out += _table(["task", "run", "n", "distinct", "most common", "answers"], rows)
    if st.notes:
        out += ["", "Left out:", *(f"- {n}" for n in st.notes)]
    return "\n".join(out) + "\n"


def figure(st: Study, path: Path) -> bool:
    """PNG: per task, Δ(multi-task − single-task) with its 95 % CI, one marker per multi-task configuration. False
    (nothing written) when there is no such Δ."""
    singles = vs_single(st)
    series = {name: row for name, row in singles.items() if row}
    if not series:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = [t for t in st.tasks if any(t in row for row in series.values())]
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(tasks) * max(1, len(series)) + 1.5))
    step = 0.8 / len(series)
    for k, (name, row) in enumerate(sorted(series.items())):
        ys, xs, lo, hi = [], [], [], []
        for i, t in enumerate(tasks):
            if t in row:
                d = row[t]
                ys.append(i + k * step - 0.4 + step / 2)
                xs.append(d.value)
                lo.append(d.value - d.lo)
                hi.append(d.hi - d.value)
        ax.errorbar(xs, ys, xerr=[lo, hi], fmt="o", capsize=3, label=name)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(tasks)), [_short(t) for t in tasks])
    ax.invert_yaxis()
    ax.set_xlabel("Δ score vs the single-task run (mean over seeds; 95 % CI, seeds × documents)")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=120, metadata={"Software": None})
    plt.close(fig)
    artifacts.write_bytes(path, png.getvalue())
    return True


def markdown(sweep_dir: Path) -> str:
    """The report of a sweep's finished runs (runs/<name>/eval; recipe.yaml beside each)."""
    from .sweep import read_plan

    sweep_dir = Path(sweep_dir)
    plan = read_plan(sweep_dir)
    names = [e["name"] for e in plan["runs"] if (sweep_dir / "runs" / e["name"] / DONE).exists()]
    if not names:
        raise FileNotFoundError(f"{sweep_dir}: no finished runs")
    runs, notes = [], []
    for name in names:
        found, why = load_runs([sweep_dir / "runs" / name / "eval"])
        if not found:
            raise FileNotFoundError(f"{sweep_dir}/runs/{name}/eval: no lm-eval results (run `finbench sweep run`)")
        r = found[-1]
        runs.append(compare.NamedRun(r.recipe.label if r.recipe else name, r.run, r.recipe))
        notes += why
    return render(study(runs, notes=notes))


def cmd_study_report(args: argparse.Namespace) -> int:
    from finbench import artifacts

    if args.n_boot < 1:
        print(f"finbench study report: --n-boot must be >= 1, got {args.n_boot}", file=sys.stderr)
        return 2
    runs, notes = load_runs([Path(p) for p in args.run_dirs])
    st = study(runs, args.n_boot, args.seed, notes)
    text = render(st)
    if args.out:
        out = Path(args.out)
        artifacts.write_text(out / TABLES, text)
        if figure(st, out / FIGURE):
            print(f"{out / FIGURE}: per-task Δ vs the single-task runs", file=sys.stderr)
    print(text, end="")
    return 0


def add_parser(sub) -> None:
    """Register `study report` on the `finbench` sub-command parser."""
    s = sub.add_parser("study", help="the cocktail-vs-single study's statistics over lm-eval runs")
    ssub = s.add_subparsers(dest="study_cmd", required=True)
    r = ssub.add_parser(
        "report",
        help="tables (seeds x documents CIs, paired Δs, negative transfer, reference "
        "rows, answer distributions) and a PNG of per-task Δ",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="lm-eval output dirs or slim exports")
    r.add_argument("--out", default=None, metavar="DIR", help=f"also write DIR/{TABLES} and DIR/{FIGURE}")
    r.add_argument("--n-boot", type=int, default=results.N_BOOT, help=f"bootstrap draws (default {results.N_BOOT})")
    r.add_argument("--seed", type=int, default=stats.SEED, help="bootstrap seed (default 0)")
    r.set_defaults(func=cmd_study_report)
