"""What many test modules share (no test module imports another): the repo paths, the environment a subprocess of
finbench or lm-eval gets, the one helper that runs the real `lm_eval` CLI, the check that every aggregate lm-eval
reported equals finbench's recomputation from the logged samples, in-process `finbench` calls, and copies of real
output dirs edited into bad or hostile inputs."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASKS_DIR = ROOT / "tasks"
SMOKE = ROOT / "finetune" / "recipes" / "smoke.yaml"
# the smoke sweep's evaluation: one FPB document, a short reply (the smallest real unit of evaluation)
SMOKE_EVAL = ["--tasks", "finbench_fpb", "--limit", "1", "--gen_kwargs", "max_gen_toks=8"]

# the eight generative tasks of finbench_all and its groups
ALL_TASKS = [
    "finbench_fpb",
    "finbench_fiqa_sa",
    "finbench_tfns",
    "finbench_headline",
    "finbench_ner_cls",
    "finbench_ner",
    "finbench_convfinqa",
    "finbench_tatqa",
]


def real_data_dir() -> Path | None:
    raw = os.environ.get("FINBENCH_DATA_DIR")
    if not raw or raw == "sample" or not Path(raw).is_dir():
        return None
    return Path(raw)


def env(data_dir: str | Path | None = "sample", **extra: str | None) -> dict[str, str]:
    """This process's environment, offline (HF hub and datasets), with FINBENCH_DATA_DIR=`data_dir` (None: unset) and
    `extra` applied (a None value unsets the variable). Built at call time, so a monkeypatched variable is seen."""
    out = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    for key, value in {"FINBENCH_DATA_DIR": None if data_dir is None else str(data_dir), **extra}.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def finbench(*args, env: dict | None = None, timeout: float = 1800, **kw) -> subprocess.CompletedProcess:
    """The real `finbench` console entry point in a subprocess (text output captured)."""
    return subprocess.run(
        [sys.executable, "-m", "finbench.cli", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kw,
    )


def lm_eval(
    *args,
    env: dict,
    out: Path | None = None,
    module: str = "lm_eval",
    include_path: Path | None = TASKS_DIR,
    cwd: Path | None = None,
    log: Path | None = None,
    timeout: float = 1800,
    check: bool = True,
):
    """The real lm-eval CLI (`python -m lm_eval run ...`; module="finbench.lmeval" for the entry point that also
    registers finbench's models) with --include_path and, given `out`, --log_samples --output_path out.

    Returns the CompletedProcess (`check`: asserting exit 0, with the stderr tail), or with `log` the running Popen,
    its output going to that file (a pipe nobody reads would fill and block it)."""
    cmd = [sys.executable, "-m", module, "run", *map(str, args)]
    if include_path is not None:
        cmd += ["--include_path", str(include_path)]
    if out is not None:
        cmd += ["--log_samples", "--output_path", str(out)]
    if log is not None:
        return subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True
        )
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def one_run(out: Path):
    """The single lm-eval run under an output dir (finbench.results.Run)."""
    from finbench import results

    runs = results.find_runs(out)
    assert len(runs) == 1, runs
    return runs[0]


def assert_recomputed(run) -> None:
    """Every metric each task declares is recomputed from the logged samples and equals what lm-eval reported; every
    CI holds its value; every group average equals lm-eval's."""
    import pytest

    from finbench import results

    rows = results.metric_rows(run, n_boot=50)
    declared = {(task, m["metric"]) for task in run.samples for m in run.results["configs"][task]["metric_list"]}
    assert {(r.task, r.metric) for r in rows} == declared  # every declared metric was recomputed, none skipped
    for r in rows:
        assert r.reported is not None, f"{r.task} {r.metric},{r.filter} missing from the results file"
        if math.isnan(r.value):
            assert math.isnan(r.reported)
        else:
            assert r.value == pytest.approx(r.reported, abs=1e-9), (r.task, r.metric)
        assert r.lo <= r.value + 1e-9 and r.value <= r.hi + 1e-9 or math.isnan(r.value)
    for g in results.group_rows(run, rows):
        assert g.value == pytest.approx(g.reported, abs=1e-9), g.task


def outputs(run) -> dict:
    """(task, doc_id) -> the raw model response, for every logged sample."""
    return {(task, s["doc_id"]): s["resps"][0][0] for task, samples in run.samples.items() for s in samples}


def cli(*args, subprocess_run: bool = False):
    """`finbench ARGS`: in this process (fast), or as the real console entry point in a subprocess."""
    import contextlib
    import io
    from types import SimpleNamespace

    from finbench.cli import main

    args = [str(a) for a in args]
    if subprocess_run:
        return subprocess.run([sys.executable, "-m", "finbench.cli", *args], capture_output=True, text=True)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(args)
    return SimpleNamespace(returncode=rc, stdout=out.getvalue(), stderr=err.getvalue())


def copy_run(src: Path, dst: Path, edit_results=None, edit_sample=None) -> Path:
    """A copy of a real lm-eval output dir, optionally edited: edit_results(results dict) and
    edit_sample(task, sample dict) change the copy in place (to make bad or hostile inputs from real ones)."""
    shutil.copytree(src, dst)
    for f in dst.rglob("results_*.json"):
        if edit_results:
            res = json.loads(f.read_text())
            edit_results(res)
            f.write_text(json.dumps(res))
    if edit_sample:
        for f in dst.rglob("samples_*.jsonl"):
            task = f.name[len("samples_") :].rsplit("_", 1)[0]
            rows = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
            for row in rows:
                edit_sample(task, row)
            f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return dst


def hostile_results(res: dict) -> None:
    """edit_results for copy_run: a model name that is markup and model_args that hold a path and a key."""
    res["model_name"] = "<script>alert(1)</script>"
    res["config"]["model_args"] = "pretrained=/home/alice/ckpt,api_key=sk-live-123"


def hostile_sample(task: str, sample: dict) -> None:
    """edit_sample for copy_run: model outputs and prompts full of markup."""
    sample["filtered_resps"] = ["<img src=x onerror=alert(2)> </pre><script>alert(3)</script>"]
    sample["arguments"]["gen_args_0"]["arg_0"] = "</details><script>alert(4)</script>"


def tiny_llama(seed: int):
    """A randomly initialised 2-layer Llama (hidden 64, vocab 128): a real architecture in milliseconds."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=128,
    )
    return LlamaForCausalLM(cfg)
