"""Training end to end on the sample sets with the real default model: the loss mask, a kill and a resume, dev
selection, the verified merged export, evaluation of the merged checkpoint through the real `lm_eval` CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from finbench import artifacts
from finbench.finetune import export, train
from finbench.finetune.train import complete_checkpoints
from helpers import tiny_llama

SMOKE = ROOT / "finetune" / "recipes" / "smoke.yaml"
ENV = {**os.environ, "FINBENCH_DATA_DIR": "sample", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def _finbench(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "finbench.cli", *args], env=ENV, capture_output=True, text=True, **kw)


def test_loss_is_on_the_assistant_turn_only(default_model, sample_data):
    """TRL's prompt-completion format masks the prompt: the trained tokens are the answer and its end-of-turn."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    tok = AutoTokenizer.from_pretrained(default_model)
    msgs = [{"role": "user", "content": "Sentiment? Text: profit rose"}, {"role": "assistant", "content": "positive"}]
    rows, dropped = train._to_prompt_completion([{"messages": msgs}], tok, 512)
    assert dropped == 0
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(default_model),
        processing_class=tok,
        args=SFTConfig(output_dir="/tmp/unused", use_cpu=True, report_to="none", max_length=512),
        train_dataset=Dataset.from_list(rows),
    )
    row = trainer.train_dataset[0]
    trained = [t for t in row["labels"] if t != -100]
    assert tok.decode(trained).strip() == "positive<|im_end|>"
    assert row["labels"][: len(row["labels"]) - len(trained)] == [-100] * (len(row["labels"]) - len(trained))
    full = tok.apply_chat_template(msgs, tokenize=True, return_dict=True)["input_ids"]
    assert row["input_ids"] == full[: len(row["input_ids"])]
    long_rows, long_dropped = train._to_prompt_completion([{"messages": msgs}], tok, 8)
    assert long_rows == [] and long_dropped == 1  # too long: dropped and counted, never cut


def test_staged_dir_keeps_the_old_version_on_failure(tmp_path):
    final = tmp_path / "merged"
    final.mkdir()
    (final / "weights").write_text("old")
    with pytest.raises(OSError):
        with artifacts.staged_dir(final) as tmp:
            (tmp / "weights").write_text("half")
            raise OSError(28, "No space left on device")
    assert (final / "weights").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["merged"]
    with artifacts.staged_dir(final) as tmp:
        (tmp / "weights").write_text("new")
    assert (final / "weights").read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["merged"]


def test_complete_checkpoints_ignore_partial_saves(tmp_path):
    for step, state in ((2, "{}"), (4, "{}"), (6, None), (8, "{trunc")):
        d = tmp_path / f"checkpoint-{step}"
        d.mkdir()
        (d / "adapter_model.safetensors").write_text("x")
        if state is not None:
            (d / "trainer_state.json").write_text(state)
    assert [p.name for p in complete_checkpoints(tmp_path)] == ["checkpoint-2", "checkpoint-4"]


@pytest.mark.slow
def test_smoke_recipe_kill_resume_merge_and_evaluate(default_model, tmp_path):
    raw = yaml.safe_load(SMOKE.read_text())
    raw["output_dir"] = str(tmp_path / "run")
    recipe_file = tmp_path / "smoke.yaml"
    recipe_file.write_text(yaml.safe_dump(raw))
    run = tmp_path / "run"

    # 1. train, and kill -9 right after the first checkpoint is complete
    proc = subprocess.Popen(
        [sys.executable, "-m", "finbench.cli", "finetune", "train", str(recipe_file)],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    first = run / "checkpoints" / "checkpoint-2" / "trainer_state.json"
    deadline = time.time() + 600
    while not first.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert first.exists(), proc.stdout.read()
    assert not (run / "train_summary.json").exists() and not (run / "adapter").exists()
    assert (run / "mixture.jsonl").exists() and (run / "recipe.yaml").exists()
    # and a later checkpoint cut short mid-save (weights written, trainer state not yet)
    partial = run / "checkpoints" / "checkpoint-4"
    partial.mkdir(exist_ok=True)
    (partial / "trainer_state.json").unlink(missing_ok=True)
    (partial / "adapter_model.safetensors").write_bytes(b"\0" * 10)

    # 2. the same command resumes from the last complete checkpoint and finishes
    again = _finbench("finetune", "train", str(recipe_file), timeout=900)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    log = again.stdout + again.stderr
    assert "discarded incomplete checkpoint(s) checkpoint-4" in log
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["resumed_from"].endswith("checkpoint-2") and summary["global_steps"] == 6
    assert summary["leakage"]["clean"] and summary["examples"] > 0
    # the loss curve spans the whole run, across the kill
    curve = [json.loads(line) for line in (run / "loss.jsonl").read_text().splitlines()]
    assert [r["step"] for r in curve if "loss" in r] == [1, 2, 3, 4, 5, 6]
    assert (run / "loss.png").stat().st_size > 1000
    # selection on dev loss: the selected checkpoint has the lowest dev loss seen
    losses = {int(k): v for k, v in summary["dev_losses"].items()}
    assert set(losses) == {2, 4, 6}
    assert summary["selected_checkpoint"].endswith(f"checkpoint-{min(losses, key=losses.get)}")
    assert summary["selected_dev_loss"] == pytest.approx(min(losses.values()))

    # 3. the merged checkpoint reproduces base + adapter on a prompt the export check did not use
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(run / "merged")
    assert tok.chat_template
    ids = tok.apply_chat_template(
        [{"role": "user", "content": "Is gold up? Headline: gold rises 1%"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    merged = AutoModelForCausalLM.from_pretrained(run / "merged", dtype=torch.float32).eval()
    adapted = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(default_model, dtype=torch.float32), run / "adapter"
    ).eval()
    base = AutoModelForCausalLM.from_pretrained(default_model, dtype=torch.float32).eval()
    with torch.no_grad():
        a, b, c = merged(**ids).logits, adapted(**ids).logits, base(**ids).logits
    assert float((a - b).abs().max()) <= export.ATOL
    assert float((a - c).abs().max()) > 10 * export.ATOL  # the adapter changed the model

    # 4. re-export through the CLI is idempotent and verified
    exp = _finbench("finetune", "export", str(run), timeout=600)
    assert exp.returncode == 0 and "max |Δ logit|" in exp.stdout, exp.stderr

    # 5. the merged checkpoint evaluates through the real lm_eval CLI (hf backend) on the suite
    out = tmp_path / "eval"
    ev = subprocess.run(
        [
            sys.executable,
            "-m",
            "lm_eval",
            "run",
            "--model",
            "hf",
            "--model_args",
            f"pretrained={run / 'merged'},dtype=float32",
            "--device",
            "cpu",
            "--tasks",
            "finbench_all",
            "--include_path",
            str(ROOT / "tasks"),
            "--limit",
            "2",
            "--apply_chat_template",
            "--log_samples",
            "--output_path",
            str(out),
        ],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert ev.returncode == 0, ev.stderr[-3000:]
    results = json.loads(next(out.rglob("results_*.json")).read_text())["results"]
    assert {"finbench_all", "finbench_fpb", "finbench_convfinqa"} <= set(results)
    assert 0.0 <= results["finbench_all"]["score,extracted"] <= 1.0


def test_training_refuses_leakage_and_missing_base_before_writing(tmp_path, sample_data, monkeypatch):
    from finbench.finetune import recipe
    from finbench.finetune.leakage import LeakageError
    from finbench.finetune.recipe import RecipeError

    r = recipe.from_dict(
        {
            "name": "x",
            "output_dir": str(tmp_path / "run"),
            "base_model": str(tmp_path / "nope"),
            "mixture": {"tasks": [{"task": "fpb", "cap": 4}]},
        }
    )
    (tmp_path / "nope").mkdir()
    with pytest.raises(RecipeError, match="no config.json"):
        train.train(r)
    missing = recipe.from_dict(
        {
            "name": "x",
            "output_dir": str(tmp_path / "run"),
            "base_model": "no-org/no-model",
            "mixture": {"tasks": [{"task": "fpb", "cap": 4}]},
        }
    )
    with pytest.raises(RecipeError, match="neither a local model directory"):
        train.train(missing)
    assert not (tmp_path / "run").exists()
    # a mixture that overlaps a test split (decontamination off, a test sentence planted in the train split)
    from finbench import data
    from finbench.finetune import leakage

    test_doc = data.load_splits("fpb").splits["test"][0]
    planted = dict(data.load_splits("fpb").splits["train"][0], text=test_doc["text"])
    assert leakage.leaked("fpb", planted, leakage.test_index()) == {"fpb"}
    monkeypatch.setattr(
        leakage,
        "check",
        lambda records: leakage.Report(len(records), Counter({("fpb", "fpb"): 1}), {("fpb", "fpb"): ["fpb/x"]}, []),
    )
    ok = recipe.from_dict(
        {"name": "x", "output_dir": str(tmp_path / "run"), "mixture": {"tasks": [{"task": "fpb", "cap": 4}]}}
    )
    with pytest.raises(LeakageError, match="Training stopped"):
        train.train(ok)
    assert not (tmp_path / "run").exists()


def test_output_dir_of_another_recipe_is_refused(tmp_path, sample_data, default_model):
    from finbench.finetune import recipe
    from finbench.finetune.recipe import RecipeError

    a = recipe.from_dict(
        {"name": "a", "output_dir": str(tmp_path / "run"), "mixture": {"tasks": [{"task": "fpb", "cap": 4}]}}
    )
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "recipe.yaml").write_text(a.to_yaml())
    b = recipe.from_dict(
        {"name": "a", "output_dir": str(tmp_path / "run"), "mixture": {"tasks": [{"task": "fpb", "cap": 5}]}}
    )
    with pytest.raises(RecipeError, match="holds a run of a different recipe"):
        train.train(b)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["recipe.yaml"]


def test_bf16_choice():
    assert train.use_bf16("bf16") and not train.use_bf16("fp32")
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    import torch

    if not torch.cuda.is_available():
        assert train.use_bf16("auto") == ("avx512_bf16" in flags or "amx_bf16" in flags)


@pytest.mark.slow
def test_two_process_launch_through_accelerate(default_model, tmp_path):
    """The multi-device path: `accelerate launch` with two CPU processes (gloo) trains, and only the main process
    writes the run files (a second writer would race on the staged dirs)."""
    raw = yaml.safe_load(SMOKE.read_text())
    raw["output_dir"] = str(tmp_path / "run")
    recipe_file = tmp_path / "smoke.yaml"
    recipe_file.write_text(yaml.safe_dump(raw))
    accelerate = Path(sys.executable).parent / "accelerate"
    proc = subprocess.run(
        [
            str(accelerate),
            "launch",
            "--cpu",
            "--num_processes",
            "2",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "-m",
            "finbench.cli",
            "finetune",
            "train",
            str(recipe_file),
            "--max-steps",
            "2",
        ],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = tmp_path / "run"
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["global_steps"] == 2
    assert (run / "merged" / "config.json").exists() and (run / "adapter" / "adapter_config.json").exists()
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]  # no temp dirs left by a second writer


def test_label_positions_only_gives_the_same_loss_gradients_and_metrics():
    """finbench.finetune.lm_head: on CPU TRL's fused head then projects only the label positions; the loss, the LoRA
    gradients and the per-token fields TRL's metrics use (log-prob, entropy, top-1) must equal the every-position
    path's, and the switch must actually be taken (the head sees only the label rows) and be undone afterwards."""
    import torch
    import trl.trainer.utils as tu
    from peft import LoraConfig, get_peft_model
    from trl.trainer.utils import add_fused_lm_head

    from finbench.finetune.lm_head import label_positions_only

    model = tiny_llama(0)
    add_fused_lm_head(model, outputs=("log_probs", "entropy", "is_top1"))
    model = get_peft_model(
        model,
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], lora_dropout=0.0, task_type="CAUSAL_LM"),
    )
    for n, p in model.named_parameters():  # LoRA's B starts at 0: give the gradients of A something to carry
        if "lora_B" in n:
            torch.nn.init.normal_(p, std=0.1)
    ids = torch.randint(0, 128, (3, 12))
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0  # a padded row
    labels = torch.full_like(ids, -100)
    labels[0, 10:] = ids[0, 10:]
    labels[1, 7:9] = ids[1, 7:9]
    labels[2, 4:6] = ids[2, 4:6]  # 6 of 36 positions carry a label
    seen = []
    head_in = model.get_base_model().lm_head.weight
    orig_apply = tu._ChunkedLogProbFunction.apply

    def run():
        model.zero_grad()
        out = model(input_ids=ids, attention_mask=mask, labels=labels, fused_lm_head=True, num_items_in_batch=6)
        out.loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        return out, grads

    def spy(hidden, weight, *a):
        assert weight is head_in
        seen.append(hidden.shape[0])
        return orig_apply(hidden, weight, *a)

    tu._ChunkedLogProbFunction.apply = spy
    try:
        full, full_grads = run()
        with label_positions_only():
            compact, compact_grads = run()
        after, _ = run()
    finally:
        tu._ChunkedLogProbFunction.apply = orig_apply
    assert seen == [33, 6, 33]  # every shifted position, then the label positions only, then every one again
    assert torch.allclose(full.loss, compact.loss, atol=1e-6) and full.loss.item() > 0
    for field in ("log_probs", "entropy", "is_top1"):
        a, b = getattr(full, field), getattr(compact, field)
        m = full.label_mask
        assert torch.allclose(a[m].float(), b[m].float(), atol=1e-5), field
    assert full_grads.keys() == compact_grads.keys() and len(full_grads) == 8  # 2 layers x q,v x A,B
    for n, g in full_grads.items():
        assert torch.allclose(g, compact_grads[n], atol=1e-6), n
        assert g.abs().sum() > 0, n
    assert torch.allclose(after.loss, full.loss)
