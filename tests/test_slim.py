"""finbench.slim (`finbench export-slim`): a compact copy of lm-eval output dirs that report, leaderboard and regress
read exactly like the original (same scores and CIs), without prompts or documents, written atomically."""

from __future__ import annotations

import gzip
import json

import pytest

from conftest import cli
from finbench import results, slim
from recorded import SENTIMENT, TINY


def _files(d):
    return {p.relative_to(d).as_posix(): p for p in sorted(d.rglob("*")) if p.is_file()}


def test_slim_export_drops_prompts_and_keeps_every_metric_item(tmp_path):
    out = tmp_path / "slim"
    proc = cli("export-slim", SENTIMENT, out)
    assert proc.returncode == 0, proc.stderr
    assert " MB (from " in proc.stderr
    files = _files(out)
    assert "finbench_run.json" in files and slim.MARKER in files
    full = results.find_runs(SENTIMENT)[0]
    thin = results.find_runs(out)[0]
    assert set(thin.samples) == set(full.samples) == {"finbench_fpb", "finbench_fiqa_sa", "finbench_tfns"}
    for task, rows in full.samples.items():
        f = results.samples_file(thin, task)
        assert f.name.endswith(".jsonl.gz") and f.exists()
        kept = [json.loads(line) for line in gzip.decompress(f.read_bytes()).splitlines()]
        for a, b in zip(sorted(rows, key=lambda s: s["doc_id"]), sorted(kept, key=lambda s: s["doc_id"])):
            assert set(b) == set(a) - set(slim.DROPPED)
            assert {k: a[k] for k in b} == b  # every kept value unchanged
    assert thin.results["results"] == full.results["results"]
    assert thin.results["finbench_slim"]["dropped_sample_fields"] == list(slim.DROPPED)
    size = sum(p.stat().st_size for p in files.values())
    assert size < sum(p.stat().st_size for p in _files(SENTIMENT).values()) / 2


@pytest.mark.parametrize("run", ["plain", "hint"])
def test_report_and_leaderboard_read_a_slim_export_like_the_original(run, tmp_path):
    out = tmp_path / run
    slim.export(TINY[run], out)
    full, thin = cli("report", TINY[run]), cli("report", out)
    assert full.returncode == thin.returncode == 0
    drop = lambda text: [line for line in text.splitlines() if not line.startswith("results: ")]  # noqa: E731
    assert drop(full.stdout) == drop(thin.stdout) and "95% CI" in thin.stdout
    a, b = tmp_path / "site_full", tmp_path / "site_slim"
    assert cli("leaderboard", "build", TINY[run], "--out", a).returncode == 0
    assert cli("leaderboard", "build", out, "--out", b).returncode == 0
    assert (a / "leaderboard.json").read_bytes() == (b / "leaderboard.json").read_bytes()


def test_regress_reads_slim_exports_like_the_original(tmp_path):
    base, cand = tmp_path / "plain", tmp_path / "hint"
    slim.export(TINY["plain"], base)
    slim.export(TINY["hint"], cand)
    a = cli("regress", "--baseline", TINY["plain"], "--candidate", TINY["hint"], "--json", tmp_path / "a.json")
    b = cli("regress", "--baseline", base, "--candidate", cand, "--json", tmp_path / "b.json")
    assert a.returncode == b.returncode == 0
    ja, jb = (json.loads((tmp_path / f).read_text()) for f in ("a.json", "b.json"))
    assert ja["tasks"] == jb["tasks"] and jb["verdict"] == "improved"


def test_export_is_atomic_and_never_replaces_a_foreign_directory(tmp_path, monkeypatch):
    out = tmp_path / "slim"
    slim.export(TINY["plain"], out)
    before = {k: p.read_bytes() for k, p in _files(out).items()}
    slim.export(TINY["plain"], out)  # an earlier export is replaced whole
    assert {k: p.read_bytes() for k, p in _files(out).items()} == before

    calls = []

    def dies(line):
        calls.append(line)
        if len(calls) > 5:
            raise OSError("disk full")
        return real(line)

    real = slim.slim_line
    monkeypatch.setattr(slim, "slim_line", dies)
    with pytest.raises(OSError, match="disk full"):
        slim.export(TINY["hint"], out)
    monkeypatch.undo()
    assert {k: p.read_bytes() for k, p in _files(out).items()} == before  # the old export, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slim"]  # nothing half-written left beside it

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    proc = cli("export-slim", TINY["plain"], foreign)
    assert proc.returncode == 2 and "not a slim export" in proc.stderr and "Traceback" not in proc.stderr
    assert (foreign / "notes.txt").read_text() == "keep"
    proc = cli("export-slim", tmp_path / "nothing", tmp_path / "x")
    assert proc.returncode == 2 and "no lm-eval results_*.json" in proc.stderr
