"""Load lm-eval output directories into leaderboard entries: one Entry per model (a `results_*.json`, or several of
one model with disjoint tasks: merge_model_runs), one Cell per task (its primary metric recomputed from the
`--log_samples` items, with seeded bootstrap draws), and the run's metadata (lm-eval's own, plus finbench_run.json
and recipe.yaml stored beside it when present).

Only whitelisted fields reach an Entry, with secrets masked and filesystem paths cut to their last component, so
nothing from the environment (keys, paths outside the results) can be rendered. Malformed or partial inputs become
warnings naming the file, never a crash."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .. import compare, results, stats

N_EXAMPLES = 3  # sample outputs shown per task on a model page
N_ANSWERS = 4  # most common extracted answers shown per task on a model page


@dataclass
class Cell:
    """One task of one run: its primary metric, recomputed, with bootstrap draws and the task's version/n-shot."""

    items: results.Items
    value: float
    lo: float
    hi: float
    boot: np.ndarray = field(repr=False)
    version: str
    n_shot: str
    sample: str | None = None  # "sample of N of M documents" when the run evaluated part of the test set
    metrics: dict[str, results.Items] = field(default_factory=dict, repr=False)  # every metric, the primary's filter
    configs: dict = field(default_factory=dict, repr=False)  # the results file's task configs (compare.mixture_task)

    @property
    def n(self) -> int:
        return len(self.items.items)


@dataclass
class Entry:
    """One run (one results file): display name, where it came from (relative to the RESULTS_DIR given), cells."""

    name: str
    label: str
    cells: dict[str, Cell]
    categories: dict[str, str]  # task -> innermost lm-eval group ("" when ungrouped)
    meta: dict[str, str]  # rendered as is (already public)
    recipe: compare.RunRecipe | None  # the recipe.yaml beside the run (finbench.compare.run_recipe)
    examples: dict[str, list[dict[str, str]]]
    slug: str = ""
    answers: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # task -> top extracted answers, counts
    model: tuple = field(default=(), repr=False)  # which model it evaluated (merge key, never rendered)
    run: results.Run | None = field(default=None, repr=False)  # its results and samples (seed-aware scores)


# an absolute, home or relative path with at least two components (so "</b>" or "a/b" ids are not paths)
_PATH = re.compile(r"""(?<![\w.:/<])(?:~|\.{1,2})?/(?:[^\s,'"=}{/<>]+/)+([^\s,'"=}{/<>]+)""")


def public(text) -> str:
    """Text safe to publish: secrets masked (results.redact) and any filesystem path cut to its last component."""
    return _PATH.sub(lambda m: m.group(1), results.redact(text))


def _short(text, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _model_name(res: dict) -> str:
    cfg = res.get("config") or {}
    args = cfg.get("model_args")
    name = res.get("model_name")
    if not name and isinstance(args, dict):
        name = args.get("pretrained") or args.get("model")
    if not name and isinstance(args, str):
        found = re.search(r"(?:pretrained|model)=([^,]+)", args)
        name = found.group(1) if found else None
    return public(name or cfg.get("model") or "unknown model")


def _label(root: Path, results_file: Path, res: dict) -> str:
    """Where a run came from, for humans: the RESULTS_DIR's name and the path below it, without lm-eval's
    per-model folder (its name encodes the model's full local path)."""
    rel = results_file.relative_to(root) if results_file != root else Path(results_file.name)
    parts = [p for p in rel.parts if p != res.get("model_name_sanitized")]
    return "/".join([root.name, *parts]) if root.is_dir() else results_file.name


def _date(res: dict) -> str:
    try:
        return datetime.fromtimestamp(float(res["date"]), tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return ""


def _innermost_groups(res: dict) -> dict[str, str]:
    out: dict[str, str] = {}
    for group, children in sorted((res.get("group_subtasks") or {}).items()):
        for child in children or []:
            out.setdefault(child, group)
    return out


def read_recipe(run: results.Run, warn) -> compare.RunRecipe | None:
    """The run's recipe (finbench.compare.run_recipe); an invalid one is a warning and no recipe metadata."""
    from ..finetune.recipe import RecipeError

    try:
        return compare.run_recipe(run)
    except RecipeError as exc:
        warn(compare.recipe_file(run), f"invalid recipe ({exc}); metadata from it ignored")
        return None


def recipe_meta(recipe: compare.RunRecipe | None) -> dict[str, str]:
    """The recipe's fields as the model page shows them (public text)."""
    if recipe is None:
        return {}
    extras = [f"{k}: {v:g}" for k, v in (("general", recipe.general), ("math", recipe.math)) if v]
    seed = {} if recipe.seed is None else {"training seed": str(recipe.seed)}
    return {
        "recipe": public(recipe.name),
        "base model": public(recipe.base_model),
        "mixture": " · ".join([", ".join(recipe.tasks), *extras]),
        **seed,
    }


def _examples(samples: list[dict]) -> list[dict[str, str]]:
    out = []
    for s in sorted(samples, key=lambda s: s["doc_id"])[:N_EXAMPLES]:
        args = results.sample_field(s, "arguments") or {}
        first = next(iter(args.values()), {}) if isinstance(args, dict) else (args[0] if args else {})
        prompt = first.get("arg_0", "") if isinstance(first, dict) else first
        resp = results.sample_field(s, "filtered_resps", results.sample_field(s, "resps", ""))
        if isinstance(resp, list) and len(resp) == 1:
            resp = resp[0]
        out.append(
            {
                "doc_id": str(s["doc_id"]),
                "prompt": _short(prompt, 600),
                "target": _short(results.sample_field(s, "target", ""), 200),
                "response": _short(resp, 400),
            }
        )
    return out


def _answers(run: results.Run, task: str, filt: str) -> list[tuple[str, int]]:
    """The most common extracted answers (compare.answer_distribution), so a run that collapsed to one label shows;
    the rest summed as "other"."""
    counts, _ = compare.answer_distribution(run, task, filt)
    top = [(_short(public(a), 40), n) for a, n in counts.most_common(N_ANSWERS)]
    rest = sum(counts.values()) - sum(n for _, n in top)
    return top + ([("(other answers)", rest)] if rest else [])


def load_entry(root: Path, results_file: Path, n_boot: int, seed: int, warn) -> Entry | None:
    """One results file -> Entry (None, with a warning, when it is malformed or has no usable task)."""
    try:
        run = results.load_run(results_file, lazy=True)
    except results.ResultsError as exc:
        warn(results_file, str(exc).split(": ", 1)[-1] if str(exc).startswith(str(results_file)) else str(exc))
        return None
    res = run.results
    tasks = [t for t in sorted(res["configs"]) if t not in (res.get("group_subtasks") or {})]
    cells: dict[str, Cell] = {}
    incomplete = results.incomplete_tasks(run)
    for task in tasks:
        if task not in run.samples:
            warn(results_file, f"{task}: no samples file beside it (run lm_eval with --log_samples); task skipped")
            continue
        if task in incomplete:  # a cut samples file would score a subset of the documents as if it were all
            warn(results_file, f"{task}: {incomplete[task]}; task skipped (re-run the evaluation)")
            continue
        try:
            items = results.primary_items(run, task)
        except (KeyError, TypeError, ValueError) as exc:
            warn(results_file, f"{task}: malformed samples ({type(exc).__name__}: {exc}); task skipped")
            continue
        if items is None or not items.items:
            warn(results_file, f"{task}: no metric that can be recomputed from the samples; task skipped")
            continue
        try:
            value = float(items.fn(items.items))
            boot = results.draws(items.items, items.fn, n_boot, results.task_seed(task, seed))
        except Exception as exc:  # an aggregation on malformed items: any error type is possible
            warn(results_file, f"{task}: cannot score the samples ({type(exc).__name__}: {exc}); task skipped")
            continue
        lo, hi = stats.percentile_ci(boot)
        metrics = {i.metric: i for i in results.metric_items(run, task) if i.filter == items.filter}
        cells[task] = Cell(
            items,
            value,
            lo,
            hi,
            boot,
            str(res.get("versions", {}).get(task, "")),
            str(res.get("n-shot", {}).get(task, "")),
            results.sample_text(res, task),
            metrics,
            res["configs"],
        )
    if not cells:
        warn(results_file, "no task with usable samples; run skipped")
        return None
    cfg = res.get("config") or {}
    fb = results.run_meta(run) if results.sidecar(run, results.META_FILE) else {}
    recipe = read_recipe(run, warn)
    meta = {
        **recipe_meta(recipe),
        "backend": public(cfg.get("model", "")),
        "model args": _short(public(cfg.get("model_args", "")), 300),
        "lm-eval version": public(res.get("lm_eval_version", "")),
        "transformers version": public(res.get("transformers_version", "")),
        "git hash": public(res.get("git_hash") or ""),
        "finbench git hash": public(fb.get("git_hash") or ""),
        "date": _date(res),
        "limit": public(cfg.get("limit") if cfg.get("limit") is not None else ""),
        "chat template": "yes" if res.get("chat_template_sha") else "no",
        "data": "finbench SAMPLE data (a smoke test, not benchmark scores)" if fb.get("sample_data") else "",
        "documents": "; ".join(f"{t}: {c.sample}" for t, c in cells.items() if c.sample),
    }
    meta = {k: v for k, v in meta.items() if v not in ("", "None", "{}")}
    name = public(recipe.label) if recipe else _model_name(res)  # seeds of one recipe apart: `<recipe>-seed<N>`
    groups = _innermost_groups(res)
    return Entry(
        name=name,
        label=_label(root, results_file, res),
        cells=cells,
        categories={t: groups.get(t, "") for t in cells},
        meta=meta,
        recipe=recipe,
        examples={t: _examples(run.samples[t]) for t in cells},
        answers={t: _answers(run, t, c.items.filter) for t, c in cells.items()},
        # the recipe a model was trained from, else lm-eval's name of the model (its local path, sanitized)
        model=("recipe", recipe) if recipe else ("model", str(res.get("model_name_sanitized") or name)),
        run=results.Run(run.results_file, res, {t: run.samples[t] for t in cells}),  # the tasks it scores
    )


def _where(entry: Entry) -> str:
    """The label's folders (a merged entry: each part's, joined)."""
    return " + ".join(p.rsplit("/", 1)[0] if "/" in p else p for p in entry.label.split(" + "))


def _merged_meta(parts: list[Entry]) -> dict[str, str]:
    """Each field once where every part agrees; else each value followed by the parts it came from."""
    out: dict[str, str] = {}
    for key in dict.fromkeys(k for e in parts for k in e.meta):
        having = [e for e in parts if key in e.meta]
        values = {e.meta[key] for e in having}
        if len(having) == len(parts) and len(values) == 1:
            out[key] = parts[0].meta[key]
        elif key == "documents":  # already names its tasks
            out[key] = "; ".join(e.meta[key] for e in having)
        else:
            where: dict[str, list[str]] = {}
            for e in having:
                where.setdefault(e.meta[key], []).append(_where(e))
            out[key] = "; ".join(f"{v} ({', '.join(w)})" for v, w in where.items())
    return out


def merge_model_runs(entries: list[Entry]) -> list[Entry]:
    """One row per model: the results files of one model (the same recipe, else the same lm-eval model name) whose
    tasks are disjoint, e.g. a model's task evaluation and its knowledge tasks run into other output dirs, are one
    Entry (cells side by side, labels joined with " + ", metadata merged by _merged_meta), as `finbench study
    report` reads them (finbench.finetune.report.load_runs). A model whose files share a task keeps one row per
    file: those are repeated evaluations, not parts of one."""
    groups: dict[tuple, list[Entry]] = {}
    for e in entries:
        groups.setdefault(e.model, []).append(e)
    out = []
    for group in groups.values():
        tasks = [t for e in group for t in e.cells]
        if len(group) == 1 or len(tasks) != len(set(tasks)):
            out += group
            continue
        group = sorted(group, key=lambda e: e.label)
        first = group[0]
        out.append(
            Entry(
                name=first.name,
                label=" + ".join(e.label for e in group),
                cells={t: c for e in group for t, c in e.cells.items()},
                categories={t: c for e in group for t, c in e.categories.items()},
                meta=_merged_meta(group),
                recipe=first.recipe,
                examples={t: x for e in group for t, x in e.examples.items()},
                answers={t: a for e in group for t, a in e.answers.items()},
                model=first.model,
                run=results.merge_runs([e.run for e in group]) if all(e.run for e in group) else None,
            )
        )
    return out


def _slug(entry: Entry) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", entry.name.lower()).strip("-")[:40] or "run"
    return f"{base}-{hashlib.sha1(entry.label.encode()).hexdigest()[:8]}"


def load(paths: list[Path], n_boot: int, seed: int) -> tuple[list[Entry], list[tuple[str, str]]]:
    """Every run under the given RESULTS_DIRs (or results files), a model's disjoint parts merged into one
    (merge_model_runs). Returns (entries, warnings); a warning is (file as a label relative to its RESULTS_DIR,
    reason). Display names are made unique by adding the label."""
    entries: list[Entry] = []
    warnings: list[tuple[str, str]] = []
    for raw in paths:
        root = Path(raw)
        base = root.parent if root.is_file() else root

        def warn(f: Path, reason: str, base=base) -> None:
            try:
                shown = "/".join([base.name, *Path(f).relative_to(base).parts])
            except ValueError:
                shown = Path(f).name
            warnings.append((shown, reason.replace(str(base), base.name)))

        if not root.exists():
            warnings.append((root.name, "does not exist; skipped"))
            continue
        files = results.results_files(root)
        if not files:
            warnings.append((root.name, "no lm-eval results_*.json found under it; skipped"))
        for f in files:
            entry = load_entry(base, f, n_boot, seed, warn)
            if entry is not None:
                entries.append(entry)
    entries = merge_model_runs(entries)
    counts: dict[str, int] = {}
    for e in entries:
        counts[e.name] = counts.get(e.name, 0) + 1
    for e in entries:
        if counts[e.name] > 1:
            e.name = f"{e.name} ({_where(e)})"
    counts = {}
    for e in entries:
        counts[e.name] = counts.get(e.name, 0) + 1
    for e in entries:
        if counts[e.name] > 1:
            e.name = f"{e.name} [{e.label.rsplit('/', 1)[-1]}]"
        e.slug = _slug(e)
    entries.sort(key=lambda e: (e.name, e.label))
    return entries, warnings


def finite(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)
