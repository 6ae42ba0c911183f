"""`finbench finetune …` and `finbench sweep …` sub-commands (registered by finbench.cli)."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from pathlib import Path

from finbench.config import DATA_ENV, DataError


def _guarded(fn):
    """Print the fine-tuning module's user errors as one line and exit 2 (like the rest of the CLI)."""

    @functools.wraps(fn)
    def wrapper(args, *rest):
        from .export import ExportError
        from .leakage import LeakageError
        from .recipe import RecipeError

        if getattr(args, "data_dir", None):
            os.environ[DATA_ENV] = args.data_dir
        try:
            return fn(args, *rest)
        except LeakageError as exc:
            print(f"finbench: {exc}", file=sys.stderr)
            return 1
        except (RecipeError, ExportError, DataError) as exc:
            print(f"finbench: {exc}", file=sys.stderr)
            return 2

    return wrapper


@_guarded
def cmd_mix(args: argparse.Namespace) -> int:
    from finbench import artifacts

    from . import leakage, mix, recipe

    r = recipe.load(args.recipe)
    m = mix.build(r, args.split)
    report = leakage.check(m.records) if args.split == "train" else None
    out = Path(args.output)
    artifacts.write_text(out, mix.dumps(m.records))
    dropped = mix.dropped_path(out)
    if args.split == "train":
        artifacts.write_text(dropped, mix.dumps(m.dropped))
    print(json.dumps(m.manifest, indent=2))
    if report is not None:
        print(report.format())
    print(f"wrote {len(m.records)} examples to {args.output}")
    if args.split == "train":
        print(
            f"wrote the {len(m.dropped)} dropped (contaminated) train examples, each with its test document(s), "
            f"to {dropped}"
        )
    return 0


@_guarded
def cmd_check_leakage(args: argparse.Namespace) -> int:
    from . import leakage, mix, recipe

    if args.mixture:
        records = mix.read(Path(args.mixture))
    else:
        records = mix.build(recipe.load(args.recipe), "train").records
    print(leakage.guard(records).format())  # LeakageError (exit 1) carries the report on overlap
    return 0


@_guarded
def cmd_train(args: argparse.Namespace) -> int:
    from . import recipe, train

    out = train.train(
        recipe.load(args.recipe),
        allow_leakage=args.allow_leakage,
        max_steps=args.max_steps,
        export_merged=not args.no_merge,
    )
    print(out)
    return 0


@_guarded
def cmd_export(args: argparse.Namespace) -> int:
    from . import export, recipe, train

    run = Path(args.run_dir)
    if not (run / "adapter" / "adapter_config.json").is_file():
        raise recipe.RecipeError(f"{run}: no trained adapter (adapter/adapter_config.json); train it first")
    r = recipe.load(run / "recipe.yaml")
    diff = export.export(run / "adapter", train.resolve_base(r.base_model), run / "merged")
    print(f"{run / 'merged'} (max |Δ logit| vs base + adapter: {diff:.1e})")
    return 0


@_guarded
def cmd_sweep_plan(args: argparse.Namespace) -> int:
    from . import sweep

    if args.study:
        entries = sweep.plan_study(Path(args.study), Path(args.output))
    elif args.recipes:
        entries = sweep.plan_from_recipes([Path(p) for p in args.recipes], Path(args.output))
    else:
        template = sweep.template_from(args.template)
        tasks = args.tasks.split(",") if args.tasks else [p.task for p in template.mixture.tasks]
        entries = sweep.plan(
            template, tasks, args.variants.split(","), Path(args.output), args.general_share, args.math_share
        )
    print(
        f"wrote {len(entries) - 1} recipes (+ the zero-shot base run) to {args.output}/recipes; "
        f"plan in {args.output}/plan.json"
    )
    return 0


@_guarded
def cmd_sweep_run(args: argparse.Namespace, eval_args: list[str]) -> int:
    from . import sweep

    if args.dry_run:
        print(sweep.dry_run(Path(args.sweep_dir)))
        return 0
    from . import executors

    opts = executors.Options(
        executor=args.executor,
        only=args.only.split(",") if args.only else None,
        allow_leakage=args.allow_leakage,
        resources={
            "gpus": args.gpus_per_run,
            "cpus": args.cpus_per_run,
            "mem_gb": args.mem_gb_per_run,
            "time_min": args.time_min_per_run,
        },
        max_concurrent=args.max_concurrent,
        eval_backend=args.eval_backend,
        eval_model_args=args.eval_model_args or "",
        tensor_parallel_size=args.tensor_parallel_size,
        ray_address=args.ray_address,
        slurm_cluster="local" if args.slurm_local else None,
        slurm_partition=args.slurm_partition,
        slurm_account=args.slurm_account,
        wait=args.wait if args.wait is not None else args.executor != "slurm",
    )
    try:
        n = executors.submit(Path(args.sweep_dir), eval_args, opts)
    except RuntimeError as exc:  # failed runs: named with their logs (the engine has already given up on them)
        print(f"finbench: {exc}", file=sys.stderr)
        return 1
    if opts.wait:
        print(f"[sweep] {n} run(s) completed now")
    return 0


@_guarded
def cmd_sweep_status(args: argparse.Namespace) -> int:
    from . import executors

    rows = executors.status(Path(args.sweep_dir))
    print(executors.format_status(rows))
    return 1 if any(r["state"] == "failed" for r in rows) else 0


@_guarded
def cmd_sweep_report(args: argparse.Namespace) -> int:
    from finbench import artifacts

    from . import report

    try:
        text = report.markdown(Path(args.sweep_dir))
    except (FileNotFoundError, ValueError) as exc:
        print(f"finbench: {exc}", file=sys.stderr)
        return 2
    if args.output:
        artifacts.write_text(Path(args.output), text)
    print(text, end="")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    data_help = f"overrides ${DATA_ENV}"
    f = sub.add_parser("finetune", help="LoRA fine-tuning on task mixtures (recipes in finetune/recipes/)")
    fsub = f.add_subparsers(dest="finetune_cmd", required=True)

    m = fsub.add_parser("mix", help="write a recipe's mixture as chat-messages JSONL (train splits only)")
    m.add_argument("recipe")
    m.add_argument("-o", "--output", required=True)
    m.add_argument("--split", choices=("train", "dev"), default="train", help="dev: the checkpoint-selection set")
    m.add_argument("--data-dir", default=None, help=data_help)
    m.set_defaults(func=cmd_mix)

    c = fsub.add_parser("check-leakage", help="check a recipe's mixture against every test split (exit 1: overlap)")
    c.add_argument("recipe", nargs="?")
    c.add_argument("--mixture", default=None, help="check this mixture JSONL instead of building the recipe's")
    c.add_argument("--data-dir", default=None, help=data_help)
    c.set_defaults(func=cmd_check_leakage)

    t = fsub.add_parser("train", help="train (or resume) a recipe's LoRA adapter, select on dev, export merged")
    t.add_argument("recipe")
    t.add_argument("--allow-leakage", action="store_true", help="train even if examples overlap a test split")
    t.add_argument("--max-steps", type=int, default=None, help="override training.max_steps (smoke runs)")
    t.add_argument("--no-merge", action="store_true", help="keep the adapter only")
    t.add_argument("--data-dir", default=None, help=data_help)
    t.set_defaults(func=cmd_train)

    e = fsub.add_parser("export", help="(re)write RUN_DIR/merged from RUN_DIR/adapter, verified against base+adapter")
    e.add_argument("run_dir")
    e.set_defaults(func=cmd_export)

    s = sub.add_parser("sweep", help="the ablation grid: plan recipes, run train -> merge -> evaluate")
    ssub = s.add_subparsers(dest="sweep_cmd", required=True)
    p = ssub.add_parser("plan", help="write the grid's recipes (singles, pairs, leave-one-out, all) x variants")
    p.add_argument("--tasks", default=None, help="comma-separated tasks (default: the template's)")
    p.add_argument("--variants", default="base", help="comma-separated: base, general, math, general_math")
    p.add_argument("--template", default=None, help="recipe giving caps, LoRA and training (default: cocktail)")
    p.add_argument("--general-share", type=float, default=1.0)
    p.add_argument("--math-share", type=float, default=0.5)
    p.add_argument("--recipes", nargs="+", default=None, help="plan these recipe files instead of a grid")
    p.add_argument(
        "--study",
        default=None,
        help="plan a study file (recipes x seeds, per-run evaluation tasks: finetune/recipes/study/plan.yaml)",
    )
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_sweep_plan)

    r = ssub.add_parser("run", help="run a planned sweep (resumable); other flags go to `finbench eval`")
    r.add_argument("sweep_dir")
    r.add_argument("--dry-run", action="store_true", help="print the plan with token counts and time estimates")
    r.add_argument("--only", default=None, help="comma-separated run names")
    r.add_argument("--allow-leakage", action="store_true")
    r.add_argument("--data-dir", default=None, help=data_help)
    c = r.add_argument_group("where the runs execute (finetune/README.md: Running a sweep on a cluster)")
    c.add_argument(
        "--executor",
        choices=("local", "ray", "slurm"),
        default="local",
        help="local: one run after another here; ray: Ray tasks; slurm: submitit job arrays",
    )
    c.add_argument("--gpus-per-run", type=int, default=None, help="overrides the recipes' resources.gpus")
    c.add_argument("--cpus-per-run", type=int, default=None, help="overrides resources.cpus")
    c.add_argument("--mem-gb-per-run", type=int, default=None, help="overrides resources.mem_gb")
    c.add_argument("--time-min-per-run", type=int, default=None, help="overrides resources.time_min (Slurm)")
    c.add_argument(
        "--max-concurrent",
        type=int,
        default=None,
        help="runs at once (Slurm: the array's %%N; Ray: a finbench_run resource per run)",
    )
    c.add_argument(
        "--eval-backend",
        choices=("auto", "hf", "vllm"),
        default="auto",
        help="auto: vLLM when a run has GPUs (data-parallel over them), else hf",
    )
    c.add_argument(
        "--eval-model-args",
        default=None,
        help="extra model_args for every evaluation, after pretrained=<run's model> (e.g. vLLM on CPU: "
        "dtype=float32,max_model_len=4096,enforce_eager=True)",
    )
    c.add_argument(
        "--tensor-parallel-size",
        type=int,
        default=None,
        help="vLLM GPUs per model replica (default 1; data_parallel_size = GPUs / this)",
    )
    c.add_argument("--ray-address", default=None, help="an existing Ray cluster (default: start a local one)")
    c.add_argument("--slurm-partition", default=None)
    c.add_argument("--slurm-account", default=None)
    c.add_argument(
        "--slurm-local",
        action="store_true",
        help="submitit's local executor instead of sbatch (same code path, no Slurm needed)",
    )
    c.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="wait for the runs to finish (default: yes, except for Slurm, which submits and returns)",
    )
    r.set_defaults(func=cmd_sweep_run, passthrough=True)

    st = ssub.add_parser("status", help="each run: pending, queued, running, done or failed, with its log")
    st.add_argument("sweep_dir")
    st.set_defaults(func=cmd_sweep_status)

    rep = ssub.add_parser("report", help="markdown: per-task scores with CIs, paired deltas vs single-task runs")
    rep.add_argument("sweep_dir")
    rep.add_argument("-o", "--output", default=None, help="also write the markdown to this file")
    rep.set_defaults(func=cmd_sweep_report)
