"""`finbench regress` on recorded real lm-eval outputs (tests/fixtures/recorded/tiny: the tiny non-finbench suite run
by the real `lm_eval` CLI, plain prompt and answer-hint prompt): the same run twice is unchanged, the answer-hint run
is improved, the other way round is regressed (exit 1); unusable input exits 2 with a message that says what to
do."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from conftest import cli as finbench
from conftest import copy_run
from finbench import regress, results
from recorded import TINY


@pytest.fixture
def tiny_runs(tmp_path):
    """The recorded runs, and `plain_again`: the plain run's output copied (the same run twice)."""
    return {**TINY, "plain_again": copy_run(TINY["plain"], tmp_path / "plain_again")}


def test_same_model_twice_is_unchanged(tiny_runs, tmp_path):
    proc = finbench(
        "regress",
        "--baseline",
        tiny_runs["plain"],
        "--candidate",
        tiny_runs["plain_again"],
        "--json",
        tmp_path / "r.json",
        "--markdown",
        tmp_path / "r.md",
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["verdict"] == "unchanged"
    assert {t["task"]: t["verdict"] for t in report["tasks"]} == {
        "tiny_compare": "unchanged",
        "tiny_recall": "unchanged",
    }
    for t in report["tasks"]:
        assert t["n"] == 40 and t["delta"] == 0 and t["mcnemar_p"] == 1.0
    assert (tmp_path / "r.md").read_text() == proc.stdout
    assert "finbench regress: UNCHANGED" in proc.stdout
    assert "identical copies" in proc.stdout  # a copy of the same results file is called out


def test_clearly_better_run_is_improved_and_reverse_regresses(tiny_runs, tmp_path):
    up = finbench(
        "regress", "--baseline", tiny_runs["plain"], "--candidate", tiny_runs["hint"], "--json", tmp_path / "up.json"
    )
    assert up.returncode == 0, up.stderr
    report = json.loads((tmp_path / "up.json").read_text())
    assert report["verdict"] == "improved"
    by_task = {t["task"]: t for t in report["tasks"]}
    recall = by_task["tiny_recall"]
    assert recall["verdict"] == "improved" and recall["delta"] > 0.5
    assert 0 < recall["lo"] <= recall["delta"] <= recall["hi"]
    assert recall["mcnemar_p"] < 1e-3 and recall["losses"] == 0 and recall["wins"] > 20
    assert by_task["tiny_compare"]["verdict"] == "unchanged"  # the same prompt in both variants

    down = finbench(
        "regress", "--baseline", tiny_runs["hint"], "--candidate", tiny_runs["plain"], subprocess_run=True
    )  # the real entry point
    assert down.returncode == 1, down.stderr
    assert "REGRESSED" in down.stdout and "| tiny_recall |" in down.stdout
    # a tolerated drop larger than the whole CI turns the verdict into a pass
    lenient = finbench(
        "regress",
        "--baseline",
        tiny_runs["hint"],
        "--candidate",
        tiny_runs["plain"],
        "--max-drop",
        "0.95",
        "--tasks",
        "tiny_recall",
    )
    assert lenient.returncode == 0 and "UNCHANGED" in lenient.stdout and "tiny_compare" not in lenient.stdout


def test_paired_bootstrap_matches_the_stats_module(tiny_runs):
    """regress's vectorised paired draws give the same CI as finbench.stats' paired mean delta (same indices)."""
    base, cand = (results.find_runs(tiny_runs[k])[0] for k in ("plain", "hint"))
    (row,) = regress.compare(base, cand, tasks=["tiny_recall"], n_boot=2000)
    b = [s["acc"] for s in sorted(base.samples["tiny_recall"], key=lambda s: s["doc_id"])]
    c = [s["acc"] for s in sorted(cand.samples["tiny_recall"], key=lambda s: s["doc_id"])]
    from finbench import stats

    delta, lo, hi = stats.paired_bootstrap_mean_delta(c, b, n_boot=2000, seed=results.task_seed("tiny_recall"))
    assert (row.delta, row.lo, row.hi) == pytest.approx((delta, lo, hi), abs=1e-12)


def test_unusable_inputs_exit_2_with_a_clear_message(tiny_runs, tmp_path):
    def version2(res):
        res["versions"]["tiny_recall"] = 2.0

    other_version = copy_run(tiny_runs["plain"], tmp_path / "v2", edit_results=version2)

    def new_docs(task, sample):
        sample["doc_hash"] = "0" * 64

    other_docs = copy_run(tiny_runs["plain"], tmp_path / "docs", edit_sample=new_docs)
    both = tmp_path / "both"
    copy_run(tiny_runs["plain"], both / "a")
    copy_run(tiny_runs["hint"], both / "b")
    cases = [
        (other_version, "differ in task version"),
        (other_docs, "share no samples"),
        (both, "2 runs under it"),
        (tmp_path / "nowhere", "no such file or directory"),
        (tmp_path, "runs under it"),
    ]
    for candidate, message in cases:
        proc = finbench("regress", "--baseline", tiny_runs["plain"], "--candidate", candidate)
        assert proc.returncode == 2, (candidate, proc.stdout, proc.stderr)
        assert message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    proc = finbench("regress", "--baseline", tiny_runs["plain"], "--candidate", tiny_runs["hint"], "--tasks", "nope")
    assert proc.returncode == 2 and "--tasks nope" in proc.stderr


def test_verdict_rules():
    row = regress.TaskComparison("t", "acc", "none", True, 100, 0, 0, 0.5, 0.5, 0.0, -0.1, 0.1, 0.5, 3, 3, "unchanged")
    assert regress.overall([row]) == "unchanged"
    assert regress.overall([row, replace(row, verdict="improved")]) == "improved"
    assert regress.overall([replace(row, verdict="improved"), replace(row, verdict="regressed")]) == "regressed"
    p, wins, losses = regress._mcnemar([1, 1, 0, 0, 1], [1, 0, 1, 1, 1])
    assert (wins, losses) == (2, 1) and p == pytest.approx(1.0)
    p, wins, losses = regress._mcnemar([0] * 12, [1] * 12)
    assert (wins, losses) == (12, 0) and p == pytest.approx(2 * 0.5**12)
