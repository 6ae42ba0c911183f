"""The knowledge group through the real lm_eval CLI on the real data (judge off), and `finbench eval` with the
FinanceBench judge served by a real `vllm serve` of the default model on 127.0.0.1 (plus the calibration set, as a
smoke test only: a 135M model is not a judge)."""

from __future__ import annotations

import json
import math

import pytest

from finbench import data, judge, results
from helpers import env, finbench, lm_eval, one_run, real_data_dir

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        real_data_dir() is None or not (real_data_dir() / "knowledge").is_dir(), reason="needs the real knowledge data"
    ),
]
TASKS = ["finbench_mmlu_finance", "finbench_financemath", "finbench_financebench"]
GEN = ["--gen_kwargs", "max_gen_toks=48"]  # short replies: CPU time goes to the path, not to long generations


def _recomputed_equal_reported(run) -> list:
    rows = results.metric_rows(run, n_boot=50)
    for r in rows:
        assert r.reported is not None and (math.isnan(r.value) or r.value == pytest.approx(r.reported, abs=1e-9)), r
    return rows


def test_lm_eval_knowledge_group_on_real_data_judge_off(tmp_path, default_model):
    lm_eval(
        "--tasks",
        "finbench_knowledge",
        "--model",
        "hf",
        "--model_args",
        f"pretrained={default_model}",
        "--limit",
        "2",  # FinanceBench's first two documents: one numeric question, one open-ended (both cases checked below)
        "--apply_chat_template",
        "--batch_size",
        "4",
        *GEN,
        env=env(real_data_dir()),
        out=tmp_path,
        timeout=3600,
    )
    run = one_run(tmp_path)
    res = run.results["results"]
    assert "score,extracted" in res["finbench_knowledge"]
    for task in TASKS:
        assert len(run.samples[task]) == 2 and "score,extracted" in res[task], task
        assert run.results["configs"][task]["metadata"]["version"] == 1.0
    assert set(run.results["configs"]) == set(TASKS)  # nothing of finbench_all
    assert {"acc,extracted", "macro_f1,extracted"} <= set(res["finbench_mmlu_finance"])
    # judge none: only the numeric FinanceBench questions carry a score; no verdict is logged
    fb = run.samples["finbench_financebench"]
    docs = {r["id"]: r for r in data.load_splits("financebench", real_data_dir()).splits["test"]}
    assert {docs[s["doc"]["id"]]["numeric"] for s in fb} == {True, False}
    assert all(("score" in s) == docs[s["doc"]["id"]]["numeric"] for s in fb)
    assert not any("judge_acc" in s for s in fb)
    rows = _recomputed_equal_reported(run)
    groups = {g.task: g for g in results.group_rows(run, rows)}
    assert groups["finbench_knowledge"].value == pytest.approx(res["finbench_knowledge"]["score,extracted"])


def test_finbench_eval_with_a_local_vllm_judge(tmp_path, default_model, vllm_port):
    # the judge is the session's `vllm serve` of the default model (conftest.vllm_port)
    base_url = f"http://127.0.0.1:{vllm_port}/v1"
    meta = json.dumps(
        {"judge": str(default_model), "judge_base_url": base_url, "judge_cache": str(tmp_path / "judge.sqlite")}
    )
    proc = finbench(
        "eval",
        "--tasks",
        "finbench_knowledge",
        "--limit",
        "2",
        "--batch_size",
        "4",
        "--output_path",
        tmp_path / "out",
        "--metadata",
        meta,
        *GEN,
        timeout=3600,
        env=env(real_data_dir(), FINBENCH_JUDGE_API_KEY="sk-judge-not-logged-0123456789"),
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    run = one_run(tmp_path / "out")
    fb = run.samples["finbench_financebench"]
    judged = [s for s in fb if "judge_acc" in s]
    assert judged, "the first documents hold an open-ended question"
    for s in judged:
        v = s["judge_acc"]
        assert v["judge"] == str(default_model) and v["served"] == str(default_model)
        assert v["prompt_version"] == judge.PROMPT_VERSION and v["verdict"] in (0, 1) and isinstance(v["raw"], str)
        assert s["score"] == v["verdict"]
    cfg = run.results["configs"]["finbench_financebench"]["metadata"]
    assert cfg["judge"] == str(default_model) and cfg["judge_base_url"] == base_url
    for f in run.results_file.parent.iterdir():
        assert "sk-judge-not-logged" not in f.read_text(errors="replace"), f
    assert "judge_acc,extracted" in run.results["results"]["finbench_financebench"]
    _recomputed_equal_reported(run)

    # the calibration set, graded by the 135M model: a smoke test of the path, not a judge's quality check
    records = {r["id"]: r for r in data.load_splits("financebench", real_data_dir()).splits["test"]}
    report = judge.calibrate(judge.Judge(str(default_model), base_url, str(tmp_path / "judge.sqlite")), records)
    assert report["n"] == len(judge.CALIBRATION) and 0.0 <= report["agreement"] <= 1.0
    assert all(r["served"] == str(default_model) for r in report["results"])
    print(f"SmolLM2-135M judge calibration agreement: {report['agreement']:.2f} (not a judge)")
