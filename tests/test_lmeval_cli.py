"""The real `lm_eval` CLI in a subprocess, on finbench's tasks, with the default model.

On the sample sets (always) and, when FINBENCH_DATA_DIR points at the real data, on real data with --limit; every
task of `finbench_all` must be reported with its metrics and the groups with a score, and every aggregate in the
results file must equal the value recomputed from the logged samples.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, real_data_dir
from finbench import results

ALL_TASKS = ["finbench_fpb", "finbench_fiqa_sa", "finbench_tfns", "finbench_headline", "finbench_ner_cls",
             "finbench_ner", "finbench_convfinqa", "finbench_tatqa"]
GROUPS = ["finbench_all", "finbench_sentiment", "finbench_classification", "finbench_extraction",
          "finbench_numeric_qa"]
MC_TASKS = ["finbench_fpb_mc", "finbench_fiqa_sa_mc", "finbench_tfns_mc", "finbench_headline_mc",
            "finbench_ner_cls_mc"]


def run_lm_eval(tasks: str, model: Path, out: Path, data_dir: str, limit: int, chat: bool = True) -> dict:
    env = dict(os.environ, FINBENCH_DATA_DIR=data_dir, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    cmd = [sys.executable, "-m", "lm_eval", "--tasks", tasks, "--include_path", str(ROOT / "tasks"),
           "--model", "hf", "--model_args", f"pretrained={model}", "--limit", str(limit),
           "--log_samples", "--output_path", str(out), "--batch_size", "4"]
    if chat:
        cmd.append("--apply_chat_template")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-4000:]
    runs = results.find_runs(out)
    assert len(runs) == 1
    return runs[0]


def assert_recomputed(run) -> None:
    rows = results.metric_rows(run, n_boot=50)
    declared = {(task, m["metric"]) for task, samples in run.samples.items()
                for m in run.results["configs"][task]["metric_list"]}
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


@pytest.mark.slow
def test_finbench_all_on_sample_data(tmp_path, default_model):
    run = run_lm_eval("finbench_all", default_model, tmp_path, "sample", limit=3)
    res = run.results["results"]
    for task in ALL_TASKS:
        assert task in res, task
        assert "score,extracted" in res[task]
        assert len(run.samples[task]) == 3
    for group in GROUPS:
        assert "score,extracted" in res[group], group
    for name, expected in [("finbench_fpb", {"acc", "macro_f1", "weighted_f1", "mcc", "missing"}),
                           ("finbench_headline", {"acc", "avg_f1", "yes_f1", "missing"}),
                           ("finbench_ner", {"entity_f1", "doc_f1", "missing", "unplaced"}),
                           ("finbench_convfinqa", {"em", "exec_acc", "missing"}),
                           ("finbench_tatqa", {"em", "f1", "missing"})]:
        assert {f"{m},extracted" for m in expected} <= set(res[name]), name
    # every task declares a version, and the parsed answer is logged beside the raw response
    # --limit evaluates the first documents of finbench's seeded, stratified test order (a sample, not a file prefix)
    from finbench import data

    for task in ALL_TASKS:
        first = [r["id"] for r in data.load_splits(task[len("finbench_"):], "sample").splits["test"][:3]]
        assert [s["doc"]["id"] for s in sorted(run.samples[task], key=lambda s: s["doc_id"])] == first, task
    for task in ALL_TASKS:
        assert run.results["versions"][task] == 2.0
        s = run.samples[task][0]
        assert "filtered_resps" in s and "resps" in s
    assert_recomputed(run)


@pytest.mark.slow
def test_finbench_eval_runs_mc_variants_and_prints_cis(tmp_path, default_model):
    """`finbench eval` = the real lm_eval CLI + finbench's table; here on the loglikelihood variants."""
    env = dict(os.environ, FINBENCH_DATA_DIR="sample", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "finbench.cli", "eval", "--tasks", "finbench_all_mc",
                           "--no-apply_chat_template", "--limit", "3", "--batch_size", "4", "--output_path", str(out)],
                          env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "95% CI" in proc.stdout and "SAMPLE DATA" in proc.stdout
    assert "finbench_all_mc" in proc.stdout and "finbench_tfns_mc" in proc.stdout
    meta = json.loads((out / results.META_FILE).read_text())
    assert meta["sample_data"] is True and meta["tasks"] == "finbench_all_mc"
    (run,) = results.find_runs(out)
    res = run.results["results"]
    for task in MC_TASKS:
        assert {"acc,none", "score,none", "missing,none"} <= set(res[task])
        assert res[task]["missing,none"] == 0  # loglikelihood always picks a label
        assert ("avg_f1,none" if task == "finbench_headline_mc" else "macro_f1,none") in res[task]
    assert "score,none" in res["finbench_all_mc"]
    assert_recomputed(run)
    # `finbench report` reprints the same table from the output dir
    again = subprocess.run([sys.executable, "-m", "finbench.cli", "report", str(out)], capture_output=True, text=True)
    assert again.returncode == 0 and "finbench_tfns_mc" in again.stdout


@pytest.mark.slow
@pytest.mark.realdata
def test_finbench_all_on_real_data(tmp_path, default_model):
    real = real_data_dir()
    if real is None:
        pytest.skip("FINBENCH_DATA_DIR does not point at the real data")
    run = run_lm_eval("finbench_all", default_model, tmp_path, str(real), limit=4)
    for task in ALL_TASKS:
        assert len(run.samples[task]) == 4
    for group in GROUPS:
        assert "score,extracted" in run.results["results"][group]
    assert_recomputed(run)


def test_finbench_eval_missing_data_is_a_clear_message(tmp_path):
    env = dict(os.environ, FINBENCH_DATA_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "finbench.cli", "eval", "--tasks", "finbench_fpb",
                           "--output_path", str(tmp_path / "out")], env=env, capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "FINBENCH_DATA_DIR" in proc.stderr and "Sentences_50Agree.txt" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_lm_eval_validates_every_finbench_config():
    env = dict(os.environ, FINBENCH_DATA_DIR="sample")
    proc = subprocess.run([sys.executable, "-m", "lm_eval", "validate", "--tasks",
                           "finbench_all,finbench_all_mc,finbench_extended", "--include_path", str(ROOT / "tasks")],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_unknown_task_is_lm_evals_error(tmp_path):
    env = dict(os.environ, FINBENCH_DATA_DIR="sample")
    proc = subprocess.run([sys.executable, "-m", "lm_eval", "--tasks", "finbench_nope", "--include_path",
                           str(ROOT / "tasks"), "--model", "hf", "--model_args", "pretrained=x"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert "finbench_nope" in proc.stderr + proc.stdout
