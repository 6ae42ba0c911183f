"""The real `lm_eval` CLI in a subprocess, on finbench's tasks, with the default model.

One run of `finbench_all` with --limit, on the real data when FINBENCH_DATA_DIR points at it and on the sample sets
otherwise: every task must be reported with its metrics and the groups with a score, and every aggregate in the
results file must equal the value recomputed from the logged samples. The loglikelihood variants run on the sample
sets through `finbench eval`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finbench import results
from helpers import ALL_TASKS, TASKS_DIR, assert_recomputed, env, finbench, lm_eval, one_run, real_data_dir

GROUPS = ["finbench_all", "finbench_sentiment", "finbench_classification", "finbench_extraction", "finbench_numeric_qa"]
MC_TASKS = ["finbench_fpb_mc", "finbench_fiqa_sa_mc", "finbench_tfns_mc", "finbench_headline_mc", "finbench_ner_cls_mc"]


def run_finbench_all(model: Path, out: Path, data_dir, limit: int):
    """finbench_all through the real lm_eval CLI (hf backend, chat template, --limit): the one run."""
    lm_eval(
        "--tasks",
        "finbench_all",
        "--model",
        "hf",
        "--model_args",
        f"pretrained={model}",
        "--limit",
        limit,
        "--batch_size",
        "4",
        "--apply_chat_template",
        env=env(data_dir),
        out=out,
    )
    return one_run(out)


@pytest.mark.slow
def test_finbench_all(tmp_path, default_model):
    """One run of finbench_all, on the real data when FINBENCH_DATA_DIR points at it (CI), else on the sample sets:
    every task and group reported with its metrics, the documents --limit takes, versions, the parsed answer logged
    beside the raw one, and every aggregate equal to its recomputation from the logged samples."""
    from finbench import data

    data_dir = real_data_dir() or "sample"
    limit = 3
    run = run_finbench_all(default_model, tmp_path, data_dir, limit=limit)
    res = run.results["results"]
    for task in ALL_TASKS:
        assert task in res, task
        assert "score,extracted" in res[task]
        assert len(run.samples[task]) == limit
    for group in GROUPS:
        assert "score,extracted" in res[group], group
    for name, expected in [
        ("finbench_fpb", {"acc", "macro_f1", "weighted_f1", "mcc", "missing"}),
        ("finbench_headline", {"acc", "avg_f1", "yes_f1", "missing"}),
        ("finbench_ner", {"entity_f1", "doc_f1", "missing", "unplaced"}),
        ("finbench_convfinqa", {"em", "exec_acc", "missing"}),
        ("finbench_tatqa", {"em", "f1", "missing"}),
    ]:
        assert {f"{m},extracted" for m in expected} <= set(res[name]), name
    # --limit evaluates the first documents of finbench's seeded, stratified test order (a sample, not a file prefix)
    for task in ALL_TASKS:
        first = [r["id"] for r in data.load_splits(task[len("finbench_") :], data_dir).splits["test"][:limit]]
        assert [s["doc"]["id"] for s in sorted(run.samples[task], key=lambda s: s["doc_id"])] == first, task
    # every task declares a version, and the parsed answer is logged beside the raw response
    for task in ALL_TASKS:
        assert run.results["versions"][task] == 2.0
        s = run.samples[task][0]
        assert "filtered_resps" in s and "resps" in s
    assert_recomputed(run)


@pytest.mark.slow
def test_finbench_eval_runs_mc_variants_and_prints_cis(tmp_path, default_model):
    """`finbench eval` = the real lm_eval CLI + finbench's table; here on the loglikelihood variants."""
    out = tmp_path / "out"
    proc = finbench(
        "eval",
        "--tasks",
        "finbench_all_mc",
        "--no-apply_chat_template",
        "--limit",
        "3",
        "--batch_size",
        "4",
        "--output_path",
        out,
        env=env(),
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "95% CI" in proc.stdout and "SAMPLE DATA" in proc.stdout
    assert "finbench_all_mc" in proc.stdout and "finbench_tfns_mc" in proc.stdout
    meta = json.loads((out / results.META_FILE).read_text())
    assert meta["sample_data"] is True and meta["tasks"] == "finbench_all_mc"
    run = one_run(out)
    res = run.results["results"]
    for task in MC_TASKS:
        assert {"acc,none", "score,none", "missing,none"} <= set(res[task])
        assert res[task]["missing,none"] == 0  # loglikelihood always picks a label
        assert ("avg_f1,none" if task == "finbench_headline_mc" else "macro_f1,none") in res[task]
    assert "score,none" in res["finbench_all_mc"]
    assert_recomputed(run)
    # `finbench report` reprints the same table from the output dir
    again = finbench("report", out)
    assert again.returncode == 0 and "finbench_tfns_mc" in again.stdout


def test_finbench_eval_missing_data_is_a_clear_message(tmp_path):
    proc = finbench("eval", "--tasks", "finbench_fpb", "--output_path", tmp_path / "out", env=env(tmp_path))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "FINBENCH_DATA_DIR" in proc.stderr and "Sentences_50Agree.txt" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_lm_eval_builds_every_finbench_task_from_its_yaml(sample_data):
    """lm-eval's own TaskManager (finbench's include path only, not its thousands of built-in YAMLs) finds every task
    and group YAML in tasks/ and builds the groups from them: configs, functions and the sample data."""
    import yaml
    from lm_eval.tasks import TaskManager, get_task_dict

    tm = TaskManager(include_path=str(TASKS_DIR), include_defaults=False)
    names = set()
    for f in TASKS_DIR.glob("*.yaml"):
        raw = yaml.safe_load(f.read_text().replace("!function", ""))
        names.add(raw.get("task") if isinstance(raw.get("task"), str) else raw["group"])
    assert names <= set(tm.all_tasks), names - set(tm.all_tasks)
    leaves = set()

    def walk(d):
        for v in d.values():
            walk(v) if isinstance(v, dict) else leaves.add(v.config.task)

    for group in ("finbench_all", "finbench_all_mc", "finbench_extended"):  # overlapping groups: one at a time
        walk(get_task_dict([group], tm))
    assert leaves == set(ALL_TASKS) | set(MC_TASKS) | {"finbench_finqa"}
