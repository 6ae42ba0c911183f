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
import math
import shutil
import statistics
import sys
from pathlib import Path

import yaml

from finbench import artifacts, child, yamlfile
from finbench.config import cache_dir

from . import mix
from .recipe import Part, Recipe, RecipeError, load
from .rundir import DONE

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


def plan(
    template: Recipe,
    tasks: list[str],
    variants: list[str],
    out_dir: Path,
    general_share: float = 1.0,
    math_share: float = 0.5,
) -> list[dict]:
    """Write out_dir/recipes/*.yaml and out_dir/plan.json; returns the plan entries (in run order)."""
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        raise RecipeError(f"--variants: unknown variant {bad[0]!r}; known: {', '.join(VARIANTS)}")
    if len(set(tasks)) != len(tasks) or not tasks:
        raise RecipeError("--tasks: give distinct task names")
    caps = {p.task: p.cap for p in template.mixture.tasks}
    unknown = [t for t in tasks if t not in caps]
    if unknown:
        raise RecipeError(
            f"--tasks: {unknown[0]!r} has no cap in the template recipe {template.source or ''}; "
            f"the template's tasks are {', '.join(caps)}"
        )
    out_dir = Path(out_dir)
    entries: list[dict] = [{"name": BASE_RUN, "kind": "zero-shot", "tasks": [], "variant": None, "recipe": None}]
    recipes: dict[str, Recipe] = {}
    for variant in variants:
        use_general, use_math = VARIANTS[variant]
        for kind, group in subsets(tasks):
            name = _run_name(kind, group, tasks, variant)
            mixture = dataclasses.replace(
                template.mixture,
                tasks=tuple(Part(t, caps[t]) for t in group),
                general=general_share if use_general else 0.0,
                math=math_share if use_math else 0.0,
            )
            recipes[name] = dataclasses.replace(
                template, name=name, mixture=mixture, source="", output_dir=str(out_dir / "runs" / name)
            )
            entries.append(
                {"name": name, "kind": kind, "tasks": list(group), "variant": variant, "recipe": f"recipes/{name}.yaml"}
            )
    with artifacts.staged_dir(out_dir / "recipes") as tmp:
        for name, r in recipes.items():
            (tmp / f"{name}.yaml").write_text(r.to_yaml())
    artifacts.write_text(
        out_dir / "plan.json",
        json.dumps({"template": template.to_dict(), "tasks": tasks, "variants": variants, "runs": entries}, indent=2)
        + "\n",
    )
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
            entries.append(
                {
                    "name": r.name,
                    "kind": "recipe",
                    "tasks": [p.task for p in r.mixture.tasks],
                    "variant": None,
                    "recipe": f"recipes/{r.name}.yaml",
                }
            )
    artifacts.write_text(
        out_dir / "plan.json",
        json.dumps(
            {"template": {"base_model": bases.pop()}, "recipes": [str(p) for p in paths], "runs": entries}, indent=2
        )
        + "\n",
    )
    return entries


def plan_study(path: Path, out_dir: Path) -> list[dict]:
    """A study file (finetune/recipes/study/plan.yaml): recipes x training seeds, each run's evaluation tasks.

    Each (recipe, seed) is its own run, `<recipe name>-seed<seed>`; its recipe file (the recipe with that seed, its
    output dir in the sweep) is copied into the sweep, so resuming reads nothing from the checkout, and the run dir's
    recipe.yaml keeps the recipe's own name: runs group by recipe name. `samples: {task: N}` evaluates the first N
    documents of a task's test split, which finbench orders by a seeded, label-stratified shuffle (finbench.data.order):
    a seeded sample (lm-eval's `--samples`, shown as partial in every report), never a prefix of the file."""
    path, out_dir = Path(path), Path(out_dir)
    try:
        study = yamlfile.load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise RecipeError(f"{path}: cannot read the study file ({exc})") from None
    if not isinstance(study, dict) or not isinstance(study.get("runs"), list) or not study["runs"]:
        raise RecipeError(
            f"{path}: a study file maps `runs` to a list of {{recipe, seeds, eval}} "
            "(see finetune/recipes/study/plan.yaml)"
        )
    samples = study.get("samples") or {}
    if not isinstance(samples, dict) or not all(isinstance(n, int) and n > 0 for n in samples.values()):
        raise RecipeError(f"{path}: samples must map lm-eval task names to a positive number of documents")

    def tasks_of(item: dict, where: str) -> list[str]:
        tasks = item.get("eval")
        if not isinstance(tasks, list) or not tasks or not all(isinstance(t, str) for t in tasks):
            raise RecipeError(f"{where}.eval: list the lm-eval tasks to evaluate this run on (e.g. [finbench_fpb])")
        return tasks

    zero = study.get("zero_shot") or {}
    entries: list[dict] = [
        {
            "name": BASE_RUN,
            "kind": "zero-shot",
            "tasks": [],
            "variant": None,
            "recipe": None,
            "eval_tasks": tasks_of(zero, f"{path}: zero_shot"),
        }
    ]
    recipes: dict[str, Recipe] = {}
    for i, item in enumerate(study["runs"]):
        where = f"{path}: runs[{i}]"
        if not isinstance(item, dict) or set(item) - {"recipe", "seeds", "eval"} or "recipe" not in item:
            raise RecipeError(
                f"{where}: must be a mapping {{recipe: <file beside the study file>, seeds: [...], eval: [...]}}"
            )
        r = load(path.parent / item["recipe"])
        seeds = item.get("seeds") or [r.seed]
        if (
            not isinstance(seeds, list)
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in seeds)
            or len(set(seeds)) != len(seeds)
        ):
            raise RecipeError(f"{where}.seeds: give distinct integer training seeds, e.g. [1, 2, 3]")
        eval_tasks = tasks_of(item, where)
        for seed in seeds:
            name = f"{r.name}-seed{seed}"
            if name in recipes:
                raise RecipeError(f"{where}: run {name} is planned twice")
            recipes[name] = dataclasses.replace(
                r, training={**r.training, "seed": seed}, source="", output_dir=str(out_dir / "runs" / name)
            )
            entries.append(
                {
                    "name": name,
                    "kind": "recipe",
                    "recipe_name": r.name,
                    "seed": seed,
                    "tasks": [p.task for p in r.mixture.tasks],
                    "variant": None,
                    "recipe": f"recipes/{name}.yaml",
                    "eval_tasks": eval_tasks,
                }
            )
    bases = {r.base_model for r in recipes.values()}
    if len(bases) != 1:
        raise RecipeError(f"{path}: one base model per study (the zero-shot run), got {', '.join(sorted(bases))}")
    with artifacts.staged_dir(out_dir / "recipes") as tmp:
        for name, r in recipes.items():
            (tmp / f"{name}.yaml").write_text(r.to_yaml())
    artifacts.write_text(
        out_dir / "plan.json",
        json.dumps(
            {"template": {"base_model": bases.pop()}, "study": str(path), "samples": samples, "runs": entries}, indent=2
        )
        + "\n",
    )
    return entries


def eval_args_for(entry: dict, plan: dict, eval_args: list[str]) -> list[str]:
    """The evaluation's arguments for one run: the sweep's, with the run's own tasks and seeded samples if planned."""
    tasks = entry.get("eval_tasks")
    if not tasks:
        return list(eval_args)
    args, skip = [], False
    for a in eval_args:  # the plan's tasks replace a --tasks given to `sweep run`
        if skip:
            skip = False
            continue
        if a == "--tasks":
            skip = True
            continue
        if a.startswith("--tasks="):
            continue
        args.append(a)
    args += ["--tasks", ",".join(tasks)]
    samples = {t: list(range(n)) for t, n in (plan.get("samples") or {}).items() if t in tasks}
    if samples:
        if any(a == "--limit" or a.startswith("--limit=") for a in args):
            raise RecipeError(
                "--limit: this plan evaluates seeded samples of some tasks (lm-eval --samples); "
                "lm-eval takes one or the other, so drop --limit"
            )
        args += ["--samples", json.dumps(samples, separators=(",", ":"))]
    return args


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


def _prompt_tokens(tokenizer, task: str, n: int | None) -> tuple[int, int]:
    """(documents, chat-template prompt tokens) of the first n documents (None: all) of an lm-eval task's test split
    in finbench's evaluation order."""
    from finbench import data, prompts

    docs = data.load_splits(task.removeprefix("finbench_")).splits["test"][:n]
    chats = [[{"role": "user", "content": prompts.prompt(task.removeprefix("finbench_"), d)}] for d in docs]
    ids = tokenizer.apply_chat_template(chats, tokenize=True, add_generation_prompt=True, return_dict=True)
    return len(docs), sum(len(x) for x in ids["input_ids"])


def eval_time_model(measured: list[tuple[int, float]]) -> tuple[float, float] | None:
    """(fixed seconds per evaluation, prompt tokens/s) from finished evaluations' (prompt tokens, seconds): a
    least-squares line, since every evaluation pays an engine start that a 235-document run spends most of its time
    on; with fewer than two sizes or a line that makes no sense (negative cost), the median rate and no fixed cost.
    None without a measurement."""
    if not measured:
        return None
    sizes = {t for t, _ in measured}
    if len(sizes) >= 2:
        import numpy as np

        slope, fixed = np.polyfit([t for t, _ in measured], [s for _, s in measured], 1)
        if slope > 0 and fixed >= 0:
            return float(fixed), float(1 / slope)
    return 0.0, statistics.median(t / s for t, s in measured)


def measured_eval_time(sweep_dir: Path, tokens_of) -> tuple[tuple[float, float] | None, str]:
    """The evaluation-time model (eval_time_model) of this sweep's finished evaluations (generation included), and
    how it was measured. The fine-tuned runs' evaluations when there are any: the base model's is no guide to theirs
    (on the study, the base took 2,381 s on the eight tasks, the finance cocktail 708 s on the same documents)."""
    base = {e["name"] for e in read_plan(sweep_dir)["runs"] if e["recipe"] is None}
    measured, of_base = [], []
    for done in Path(sweep_dir).glob(f"runs/*/{DONE}"):
        args = json.loads(done.read_text()).get("eval_args", [])
        results = sorted(done.parent.glob("eval/**/results_*.json"))
        if "--tasks" not in args or not results:
            continue
        seconds = float(json.loads(results[-1].read_text()).get("total_evaluation_time_seconds") or 0)
        if seconds > 0:
            (of_base if done.parent.name in base else measured).append((tokens_of(args), seconds))
    measured = measured or of_base
    model = eval_time_model(measured)
    if model is None:
        return None, "not measured yet (no finished evaluation of this sweep)"
    fixed, rate = model
    how = f"{len(measured)} finished evaluation(s) of this sweep{' (the base model)' if measured is of_base else ''}"
    if fixed:
        return model, f"{fixed:.0f} s per evaluation + {rate:.0f} prompt tokens/s, a least-squares fit over {how}"
    return model, f"{rate:.0f} prompt tokens/s, median of {how}"


def dry_run(sweep_dir: Path, tokenizer_source: str | None = None) -> str:
    """The plan as a table: examples, training tokens, estimated training and evaluation time per run.

    Training: tokens (examples within max_length x epochs) plus dev-loss passes (dev tokens x evaluations, a forward
    pass costing about a third of a training step's) at the measured training rate. Evaluation: the chat-template
    prompt tokens of the run's evaluation documents (planned samples: their first N) by the measured evaluation-time
    model (a fixed cost per evaluation + a prompt-token rate, measured_eval_time)."""
    from transformers import AutoTokenizer

    from .train import resolve_base

    sweep_dir = Path(sweep_dir)
    p = read_plan(sweep_dir)
    rate, how = measured_tokens_per_second(sweep_dir)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source or resolve_base(p["template"]["base_model"]))
    samples = p.get("samples") or {}
    cache: dict[str, tuple[int, int]] = {}

    def eval_tokens(tasks: list[str]) -> tuple[int, int]:
        for t in tasks:
            if t not in cache:
                cache[t] = _prompt_tokens(tokenizer, t, samples.get(t))
        return sum(cache[t][0] for t in tasks), sum(cache[t][1] for t in tasks)

    def tokens_of(args: list[str]) -> int:
        return eval_tokens(args[args.index("--tasks") + 1].split(","))[1]

    eval_model, eval_how = measured_eval_time(sweep_dir, tokens_of)
    lines = [f"{'run':<36} {'examples':>8} {'tokens':>9} {'est. train':>10} {'eval docs':>9} {'est. eval':>9}  status"]
    total_train = total_eval = 0.0
    train_tokens = 0
    for e in p["runs"]:
        status = "done" if (sweep_dir / "runs" / e["name"] / DONE).exists() else "pending"
        docs, etoks = eval_tokens(e["eval_tasks"]) if e.get("eval_tasks") else (None, None)
        est_eval = eval_model[0] + etoks / eval_model[1] if etoks and eval_model else None
        eval_cols = (
            f"{docs if docs is not None else '-':>9} "
            f"{f'{est_eval / 60:.0f} min' if est_eval else ('?' if etoks else '-'):>9}"
        )
        if status == "pending" and est_eval:
            total_eval += est_eval
        if e["recipe"] is None:
            lines.append(f"{e['name']:<36} {'-':>8} {'-':>9} {'-':>10} {eval_cols}  {status} (the base model)")
            continue
        r = load(sweep_dir / e["recipe"])
        t = r.training

        def lengths(records: list[dict], t: dict = t) -> list[int]:
            ids = tokenizer.apply_chat_template([x["messages"] for x in records], tokenize=True, return_dict=True)
            return [len(x) for x in ids["input_ids"] if len(x) <= t["max_length"]]

        lens = lengths(mix.build(r, "train").records)
        tokens = int(sum(lens) * t["num_train_epochs"])
        steps = math.ceil(
            len(lens) * t["num_train_epochs"] / (t["per_device_train_batch_size"] * t["gradient_accumulation_steps"])
        )
        if t.get("max_steps", -1) > 0:
            steps = t["max_steps"]
        n_evals = steps // int(t.get("eval_steps") or t["save_steps"])
        dev_cost = sum(lengths(mix.build(r, "dev").records)) * n_evals / 3
        train_tokens += tokens
        est = (tokens + dev_cost) / rate if rate else None
        if status == "pending" and est:
            total_train += est
        lines.append(
            f"{e['name']:<36} {len(lens):>8} {tokens:>9} {f'{est / 60:.0f} min' if est else '?':>10} "
            f"{eval_cols}  {status}"
        )

    def hours(x: float, known: bool) -> str:
        return f"{x / 3600:.1f} h" if known else "unknown"

    lines.append(
        f"{len(p['runs'])} runs, {train_tokens} training tokens; still to run: training "
        f"{hours(total_train, bool(rate))} + evaluation {hours(total_eval, bool(eval_model))} = "
        f"{hours(total_train + total_eval, bool(rate and eval_model))}"
    )
    lines.append(f"  training rate: {f'{rate:.0f} tokens/s, ' if rate else ''}{how}")
    lines.append(f"  evaluation time: {eval_how}")
    return "\n".join(lines)


def _evaluate(
    model_dir: str, out: Path, eval_args: list[str], recipe_file: Path | None, model: str = "hf", model_args: str = ""
) -> None:
    """`finbench eval` (the real lm_eval CLI) on one model; results land in `out` only when it has finished.

    model/model_args: the lm-eval backend and its extra arguments (vLLM's tensor/data parallelism on GPUs)."""
    with artifacts.staged_dir(out) as tmp:  # also removes what an evaluation killed midway left
        cmd = [
            sys.executable,
            "-m",
            "finbench.cli",
            "eval",
            "--model",
            model,
            "--model_args",
            ",".join(a for a in (f"pretrained={model_dir}", model_args) if a),
            "--output_path",
            str(tmp),
            *eval_args,
        ]
        print("[sweep] " + " ".join(cmd), flush=True)
        rc = child.run(cmd).returncode
        if rc != 0:
            raise RuntimeError(f"evaluation of {model_dir} failed (exit {rc}); see the output above")
        if recipe_file is not None:  # the recipe beside lm-eval's output, for the leaderboard and for provenance
            shutil.copy(recipe_file, tmp / "recipe.yaml")
            summary = recipe_file.parent / "train_summary.json"
            if summary.exists():
                shutil.copy(summary, tmp / "train_summary.json")


def run(
    sweep_dir: Path,
    eval_args: list[str],
    only: list[str] | None = None,
    allow_leakage: bool = False,
    model: str = "hf",
    model_args: str = "",
) -> int:
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
        done = run_dir / DONE
        if done.exists():
            print(f"[sweep] {e['name']}: done, skipped", flush=True)
            continue
        args = eval_args_for(e, p, eval_args)
        if e["recipe"] is None:
            base = resolve_base(p["template"]["base_model"])
            run_dir.mkdir(parents=True, exist_ok=True)
            _evaluate(base, run_dir / "eval", args, None, model, model_args)
        else:
            r = load(sweep_dir / e["recipe"])
            trained = (run_dir / "train_summary.json").exists() and (
                run_dir / "adapter" / "adapter_config.json"
            ).exists()
            if trained and not (run_dir / "merged" / "config.json").exists():  # killed between training and export
                from .export import export

                print(f"[sweep] {e['name']}: trained; exporting the merged model", flush=True)
                export(run_dir / "adapter", resolve_base(r.base_model), run_dir / "merged")
            elif not trained:
                train(r, allow_leakage=allow_leakage)
            _evaluate(str(run_dir / "merged"), run_dir / "eval", args, run_dir / "recipe.yaml", model, model_args)
        artifacts.write_text(done, json.dumps({"name": e["name"], "eval_args": args}, indent=2) + "\n")
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
