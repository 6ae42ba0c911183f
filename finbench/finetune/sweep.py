"""The ablation grid: plan recipe files for task subsets x data variants, and run them train -> merge -> evaluate.

`plan` writes, for N tasks, the paper's grid of N singles, N(N-1)/2 pairs, N leave-one-out and 1 all (55 distinct
subsets for N = 9; duplicates are dropped for N <= 3), each crossed with the variants asked for (`base`, `general`,
`math`, `general_math`), as recipe files derived from a template recipe, plus a zero-shot entry for the base model.
`plan_from_recipes` makes a plan of hand-picked recipes instead (the CPU study of docs/RESULTS.md is one).
`run` executes the plan in order and is resumable: a run whose DONE.json exists is skipped, training resumes from its
last complete checkpoint, and an evaluation killed midway is discarded and redone (it is written to a temporary dir
and moved into place when lm-eval has finished).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from finbench import artifacts
from finbench.config import cache_dir

from . import mix
from .recipe import Part, Recipe, RecipeError, load

VARIANTS = {"base": (False, False), "general": (True, False), "math": (False, True), "general_math": (True, True)}
BASE_RUN = "zero-shot"
THROUGHPUT_FILE = "train_throughput.json"  # written by benchmarks/train_throughput.py into finbench's cache


def subsets(tasks: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    """(kind, tasks) for singles, pairs, leave-one-out and all, in that order, without repeated task sets."""
    n = len(tasks)
    grid = [("single", (t,)) for t in tasks]
    grid += [("pair", p) for p in itertools.combinations(tasks, 2)]
    grid += [("loo", tuple(t for t in tasks if t != left)) for left in tasks] if n > 2 else []
    grid += [("all", tuple(tasks))]
    seen, out = set(), []
    for kind, group in grid:
        if frozenset(group) not in seen:
            seen.add(frozenset(group))
            out.append((kind, group))
    return out


def _run_name(kind: str, group: tuple[str, ...], all_tasks: list[str], variant: str) -> str:
    if kind == "loo":
        left = next(t for t in all_tasks if t not in group)
        stem = f"loo-no_{left}"
    elif kind == "all":
        stem = "all"
    else:
        stem = f"{kind}-{'+'.join(group)}"
    return stem if variant == "base" else f"{stem}__{variant}"


def plan(template: Recipe, tasks: list[str], variants: list[str], out_dir: Path,
         general_share: float = 1.0, math_share: float = 0.5) -> list[dict]:
    """Write out_dir/recipes/*.yaml and out_dir/plan.json; returns the plan entries (in run order)."""
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        raise RecipeError(f"--variants: unknown variant {bad[0]!r}; known: {', '.join(VARIANTS)}")
    if len(set(tasks)) != len(tasks) or not tasks:
        raise RecipeError("--tasks: give distinct task names")
    caps = {p.task: p.cap for p in template.mixture.tasks}
    unknown = [t for t in tasks if t not in caps]
    if unknown:
        raise RecipeError(f"--tasks: {unknown[0]!r} has no cap in the template recipe {template.source or ''}; "
                          f"the template's tasks are {', '.join(caps)}")
    out_dir = Path(out_dir)
    entries: list[dict] = [{"name": BASE_RUN, "kind": "zero-shot", "tasks": [], "variant": None, "recipe": None}]
    recipes: dict[str, Recipe] = {}
    for variant in variants:
        use_general, use_math = VARIANTS[variant]
        for kind, group in subsets(tasks):
            name = _run_name(kind, group, tasks, variant)
            mixture = dataclasses.replace(
                template.mixture, tasks=tuple(Part(t, caps[t]) for t in group),
                general=general_share if use_general else 0.0, math=math_share if use_math else 0.0)
            recipes[name] = dataclasses.replace(template, name=name, mixture=mixture, source="",
                                                output_dir=str(out_dir / "runs" / name))
            entries.append({"name": name, "kind": kind, "tasks": list(group), "variant": variant,
                            "recipe": f"recipes/{name}.yaml"})
    with artifacts.staged_dir(out_dir / "recipes") as tmp:
        for name, r in recipes.items():
            (tmp / f"{name}.yaml").write_text(r.to_yaml())
    artifacts.write_text(out_dir / "plan.json", json.dumps(
        {"template": template.to_dict(), "tasks": tasks, "variants": variants, "runs": entries}, indent=2) + "\n")
    return entries


def plan_from_recipes(paths: list[Path], out_dir: Path) -> list[dict]:
    """A plan of hand-picked recipes (a study rather than a grid): copies them with output dirs in the sweep."""
    out_dir = Path(out_dir)
    recipes = [load(p) for p in paths]
    names = [r.name for r in recipes]
    if len(set(names)) != len(names):
        raise RecipeError(f"--recipes: two recipes share a name ({', '.join(sorted(names))}); names must be unique")
    bases = {r.base_model for r in recipes}
    if len(bases) != 1:
        raise RecipeError(f"--recipes: one base model per sweep (the zero-shot run), got {', '.join(sorted(bases))}")
    entries: list[dict] = [{"name": BASE_RUN, "kind": "zero-shot", "tasks": [], "variant": None, "recipe": None}]
    with artifacts.staged_dir(out_dir / "recipes") as tmp:
        for r in recipes:
            r = dataclasses.replace(r, output_dir=str(out_dir / "runs" / r.name), source="")
            (tmp / f"{r.name}.yaml").write_text(r.to_yaml())
            entries.append({"name": r.name, "kind": "recipe", "tasks": [p.task for p in r.mixture.tasks],
                            "variant": None, "recipe": f"recipes/{r.name}.yaml"})
    artifacts.write_text(out_dir / "plan.json", json.dumps(
        {"template": {"base_model": bases.pop()}, "recipes": [str(p) for p in paths], "runs": entries},
        indent=2) + "\n")
    return entries


def read_plan(sweep_dir: Path) -> dict:
    path = Path(sweep_dir) / "plan.json"
    if not path.is_file():
        raise RecipeError(f"{sweep_dir}: no plan.json; create one with `finbench sweep plan … -o {sweep_dir}`")
    return json.loads(path.read_text())


def measured_tokens_per_second(sweep_dir: Path) -> tuple[float | None, str]:
    """Training throughput from this sweep's finished runs (median), else from benchmarks/train_throughput.py."""
    rates = []
    for summary in Path(sweep_dir).glob("runs/*/train_summary.json"):
        rate = json.loads(summary.read_text()).get("train_tokens_per_second")
        if rate:
            rates.append(rate)
    if rates:
        return statistics.median(rates), f"median of {len(rates)} finished run(s) of this sweep"
    bench = cache_dir() / THROUGHPUT_FILE
    if bench.is_file():
        rec = json.loads(bench.read_text())
        return rec["tokens_per_second"], f"benchmarks/train_throughput.py on {rec.get('date', '?')}"
    return None, "not measured yet: run benchmarks/train_throughput.py (or one run of the sweep)"


def dry_run(sweep_dir: Path, tokenizer_source: str | None = None) -> str:
    """The plan as a table: examples, training tokens and estimated training time per run."""
    from transformers import AutoTokenizer

    from .train import resolve_base

    sweep_dir = Path(sweep_dir)
    p = read_plan(sweep_dir)
    rate, how = measured_tokens_per_second(sweep_dir)
    tokenizer = None
    lines = [f"{'run':<44} {'examples':>8} {'tokens':>10} {'est. train':>10}  status"]
    total_tokens = 0
    for e in p["runs"]:
        status = "done" if (sweep_dir / "runs" / e["name"] / "DONE.json").exists() else "pending"
        if e["recipe"] is None:
            lines.append(f"{e['name']:<44} {'-':>8} {'-':>10} {'-':>10}  {status} (evaluate the base model)")
            continue
        r = load(sweep_dir / e["recipe"])
        if tokenizer is None:
            tokenizer = AutoTokenizer.from_pretrained(tokenizer_source or resolve_base(r.base_model))
        records = mix.build(r, "train").records
        lens = [len(x) for x in tokenizer.apply_chat_template([x["messages"] for x in records], tokenize=True,
                                                               return_dict=True)["input_ids"]]
        tokens = int(sum(n for n in lens if n <= r.training.max_length) * r.training.epochs)
        total_tokens += tokens
        est = f"{tokens / rate / 60:.1f} min" if rate else "?"
        lines.append(f"{e['name']:<44} {len(records):>8} {tokens:>10} {est:>10}  {status}")
    total = f"{total_tokens / rate / 3600:.1f} h" if rate else "unknown"
    lines.append(f"{len(p['runs'])} runs, {total_tokens} training tokens, estimated training time {total} "
                 f"(throughput: {f'{rate:.0f} tokens/s, ' if rate else ''}{how}); evaluation time not included")
    return "\n".join(lines)


def _evaluate(model_dir: str, out: Path, eval_args: list[str], recipe_file: Path | None, model: str = "hf",
              model_args: str = "") -> None:
    """`finbench eval` (the real lm_eval CLI) on one model; results land in `out` only when it has finished.

    model/model_args: the lm-eval backend and its extra arguments (vLLM's tensor/data parallelism on GPUs)."""
    tmp = out.parent / f".{out.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)  # a previous evaluation killed midway
    cmd = [sys.executable, "-m", "finbench.cli", "eval", "--model", model,
           "--model_args", ",".join(a for a in (f"pretrained={model_dir}", model_args) if a),
           "--output_path", str(tmp), *eval_args]
    print("[sweep] " + " ".join(cmd), flush=True)
    rc = subprocess.run(cmd).returncode
    if rc != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"evaluation of {model_dir} failed (exit {rc}); see the output above")
    if recipe_file is not None:  # the recipe beside lm-eval's output, for the leaderboard and for provenance
        shutil.copy(recipe_file, tmp / "recipe.yaml")
        summary = recipe_file.parent / "train_summary.json"
        if summary.exists():
            shutil.copy(summary, tmp / "train_summary.json")
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)


def run(sweep_dir: Path, eval_args: list[str], only: list[str] | None = None, allow_leakage: bool = False,
        model: str = "hf", model_args: str = "") -> int:
    """Execute the plan here; returns the number of runs completed now (finished ones are skipped).

    finbench.finetune.executors calls it once per run (`only=[name]`) as the unit of work of a cluster engine."""
    from .train import resolve_base, train

    sweep_dir = Path(sweep_dir)
    p = read_plan(sweep_dir)
    completed = 0
    for e in p["runs"]:
        if only and e["name"] not in only:
            continue
        run_dir = sweep_dir / "runs" / e["name"]
        done = run_dir / "DONE.json"
        if done.exists():
            print(f"[sweep] {e['name']}: done, skipped", flush=True)
            continue
        if e["recipe"] is None:
            base = resolve_base(p["template"]["base_model"])
            run_dir.mkdir(parents=True, exist_ok=True)
            _evaluate(base, run_dir / "eval", eval_args, None, model, model_args)
        else:
            r = load(sweep_dir / e["recipe"])
            trained = (run_dir / "train_summary.json").exists() and (run_dir / "adapter" / "adapter_config.json").exists()
            if trained and not (run_dir / "merged" / "config.json").exists():  # killed between training and export
                from .export import export

                print(f"[sweep] {e['name']}: trained; exporting the merged model", flush=True)
                export(run_dir / "adapter", resolve_base(r.base_model), run_dir / "merged")
            elif not trained:
                train(r, allow_leakage=allow_leakage)
            _evaluate(str(run_dir / "merged"), run_dir / "eval", eval_args, run_dir / "recipe.yaml", model, model_args)
        artifacts.write_text(done, json.dumps({"name": e["name"], "eval_args": eval_args}, indent=2) + "\n")
        completed += 1
        print(f"[sweep] {e['name']}: done", flush=True)
    return completed


def template_from(path: str | None) -> Recipe:
    if path:
        return load(path)
    default = Path(__file__).resolve().parents[2] / "finetune" / "recipes" / "cocktail.yaml"
    if default.is_file():
        return load(default)
    raise RecipeError("--template: give a recipe to derive the grid from (e.g. finetune/recipes/cocktail.yaml)")

