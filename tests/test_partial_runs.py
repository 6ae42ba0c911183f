"""A partial run (--limit) says so wherever it is shown: `finbench report`'s table and the leaderboard (cells,
model pages, JSON, flags) read lm-eval's `n-samples` and print "sample of N of M documents"."""

from __future__ import annotations

import io
import json

import pytest

from finbench import results
from helpers import cli, copy_run


def _res(**tasks):
    return {
        "n-samples": {t: {"original": m, "effective": n} for t, (n, m) in tasks.items()},
        "versions": {t: 2.0 for t in tasks},
    }


def test_partial_tasks_and_their_text():
    res = _res(finbench_fpb=(50, 1212), finbench_ner=(98, 98))
    assert results.partial_tasks(res) == {"finbench_fpb": (50, 1212)}
    assert results.sample_text(res, "finbench_fpb") == "sample of 50 of 1,212 documents"
    assert results.sample_text(res, "finbench_ner") is None  # the full test set
    lines = results.partial_lines(res)
    assert "PARTIAL RUN" in lines[1] and lines[2:] == ["  finbench_fpb: sample of 50 of 1,212 documents"]
    assert results.partial_lines(_res(finbench_ner=(98, 98))) == []
    assert results.partial_tasks({}) == {} and results.partial_tasks({"n-samples": {"t": "bad"}}) == {}


def test_version_1_finbench_runs_were_prefixes():
    res = _res(finbench_fiqa_sa=(20, 235))
    res["versions"]["finbench_fiqa_sa"] = 1.0
    assert results.sample_text(res, "finbench_fiqa_sa") == "first 20 of 235 documents"


def _limited(res):
    for n in res["n-samples"].values():
        n["original"] = n["effective"] * 3  # as lm-eval writes it after --limit: the test set was 3x larger


@pytest.mark.slow
def test_report_and_leaderboard_show_partial_runs(tiny_runs, tmp_path):
    full = tiny_runs["plain"]
    part = copy_run(tiny_runs["hint"], tmp_path / "hint_limited", edit_results=_limited)
    out = io.StringIO()
    assert results.report(part, out=out) == 0
    text = out.getvalue()
    assert "PARTIAL RUN" in text and "tiny_recall: sample of 40 of 120 documents" in text
    out = io.StringIO()
    assert results.report(full, out=out) == 0 and "PARTIAL RUN" not in out.getvalue()

    site = tmp_path / "site"
    proc = cli("leaderboard", "build", full, part, "--out", site)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((site / "leaderboard.json").read_text())
    by_run = {r["run"].split("/")[0]: r for r in data["rows"]}
    assert by_run["hint_limited"]["tasks"]["tiny_recall"]["sample"] == "sample of 40 of 120 documents"
    assert "sample" not in by_run[full.name]["tasks"]["tiny_recall"]
    assert any("Partial runs" in f and by_run["hint_limited"]["model"] in f for f in data["flags"])
    assert "sample of 40 of 120 documents" in (site / "index.html").read_text()
    page = (site / by_run["hint_limited"]["page"]).read_text()
    assert "sample of 40 of 120 documents" in page
