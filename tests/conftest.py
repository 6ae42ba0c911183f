"""Shared fixtures: the default model (prepared once per session), the repo paths, real-data detection."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def real_data_dir() -> Path | None:
    raw = os.environ.get("FINBENCH_DATA_DIR")
    if not raw or raw == "sample" or not Path(raw).is_dir():
        return None
    return Path(raw)


@pytest.fixture(scope="session")
def default_model() -> Path:
    from finbench.default_model import prepare

    return prepare()


@pytest.fixture
def sample_data(monkeypatch):
    monkeypatch.setenv("FINBENCH_DATA_DIR", "sample")
    from finbench import data

    data.clear_cache()
    yield


TINY = ROOT / "tests" / "fixtures" / "lmeval_tiny"


def run_tiny(variant: str, model: Path, out: Path) -> Path:
    """The real `lm_eval` CLI on the tiny non-finbench task suite (tests/fixtures/lmeval_tiny/<variant>), with
    --log_samples; run from the fixture dir, where the task configs find their JSONL data. Returns `out`."""
    import subprocess
    import sys

    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    cmd = [sys.executable, "-m", "lm_eval", "--tasks", "tiny_suite", "--include_path", variant,
           "--model", "hf", "--model_args", f"pretrained={model},dtype=float32", "--device", "cpu",
           "--batch_size", "8", "--log_samples", "--output_path", str(out)]
    proc = subprocess.run(cmd, cwd=TINY, env=env, capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory, default_model) -> dict[str, Path]:
    """Three real lm-eval runs of the default model on the tiny suite: `plain`, `plain_again` (the same run
    repeated) and `hint` (the prompt shows the answer to tiny_recall: a clearly better run on the same documents)."""
    base = tmp_path_factory.mktemp("tiny_runs")
    return {name: run_tiny(variant, default_model, base / name)
            for name, variant in [("plain", "plain"), ("plain_again", "plain"), ("hint", "hint")]}


def copy_run(src: Path, dst: Path, edit_results=None, edit_sample=None) -> Path:
    """A copy of a real lm-eval output dir, optionally edited: edit_results(results dict) and
    edit_sample(task, sample dict) change the copy in place (to make bad or hostile inputs from real ones)."""
    import json
    import shutil

    shutil.copytree(src, dst)
    for f in dst.rglob("results_*.json"):
        if edit_results:
            res = json.loads(f.read_text())
            edit_results(res)
            f.write_text(json.dumps(res))
    if edit_sample:
        for f in dst.rglob("samples_*.jsonl"):
            task = f.name[len("samples_"):].rsplit("_", 1)[0]
            rows = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
            for row in rows:
                edit_sample(task, row)
            f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return dst


def cli(*args, subprocess_run: bool = False):
    """`finbench ARGS`: in this process (fast), or as the real console entry point in a subprocess."""
    import contextlib
    import io
    import subprocess
    import sys
    from types import SimpleNamespace

    from finbench.cli import main

    args = [str(a) for a in args]
    if subprocess_run:
        return subprocess.run([sys.executable, "-m", "finbench.cli", *args], capture_output=True, text=True)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(args)
    return SimpleNamespace(returncode=rc, stdout=out.getvalue(), stderr=err.getvalue())
