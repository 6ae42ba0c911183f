"""`finbench leaderboard build` on real lm-eval outputs (the tiny non-finbench suite run by the real `lm_eval` CLI):
the table with bootstrap CIs, best cells, exports, byte-identical rebuilds, atomic replacement, flags for runs that
must not be compared, skipped malformed inputs, Δ vs the single-task run, and hostile names rendered inert."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest

from conftest import cli, copy_run
from finbench.leaderboard import build, charts, load, site, table
from helpers import hostile_results, hostile_sample


def build_site(*dirs, out, subprocess_run=False):
    return cli("leaderboard", "build", *dirs, "--out", out, subprocess_run=subprocess_run)


def site_files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_site_from_real_lm_eval_runs(tiny_runs, tmp_path):
    out = tmp_path / "site"
    proc = build_site(tiny_runs["plain"], tiny_runs["hint"], out=out, subprocess_run=True)  # the real entry point
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "leaderboard.json").read_text())
    assert [c["task"] for c in data["columns"]] == ["tiny_compare", "tiny_recall"]
    assert {c["category"] for c in data["columns"]} == {"tiny_suite"}
    assert data["bootstrap"]["resamples"] == 1000 and data["flags"] == [] and data["skipped"] == []
    hint, plain = data["rows"]  # sorted by overall score
    assert hint["run"].startswith("hint/") and plain["run"].startswith("plain/")
    assert hint["tasks"]["tiny_recall"]["value"] == 1.0 and plain["tasks"]["tiny_recall"]["value"] == 0.275
    for row in data["rows"]:
        for cell in [row["overall"], row["categories"]["tiny_suite"], *row["tasks"].values()]:
            lo, hi = cell["ci95"]
            assert lo <= cell["value"] <= hi
        assert row["tasks"]["tiny_recall"]["n"] == 40
    # the recall gap is separated (paired, same documents), the equal compare scores are not
    assert hint["tasks"]["tiny_recall"]["best"] and not plain["tasks"]["tiny_recall"]["best"]
    assert not hint["tasks"]["tiny_compare"]["best"] and not plain["tasks"]["tiny_compare"]["best"]
    assert hint["overall"]["value"] == pytest.approx((1.0 + 0.6) / 2)
    assert hint["overall"]["best"]

    rows = list(csv.reader(io.StringIO((out / "leaderboard.csv").read_text())))
    assert rows[0][:5] == ["model", "run", "overall", "overall ci_lo", "overall ci_hi"]
    assert len(rows) == 3 and float(rows[1][2]) == pytest.approx(0.8)

    html = (out / "index.html").read_text()
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    assert body.count("<tr>") == 2 and body.count(' best"') == 3  # hint: recall, its category average, overall
    assert "td.best::after" in html  # the star is drawn by CSS on cells of class best
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html  # offline
    page = (out / hint["page"]).read_text()
    for text in ("lm-eval version", "0.4.13", "git hash", "date", "backend", "<svg", "tiny_recall", "n-shot"):
        assert text in page, text
    # nothing from the environment: not the model's local path, not the results' own absolute paths
    for f, data_ in site_files(out).items():
        text = data_.decode()
        assert "/root/" not in text and str(tmp_path) not in text and ".cache" not in text, f


@pytest.mark.slow
def test_same_inputs_give_a_byte_identical_site(tiny_runs, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert build_site(tiny_runs["plain"], tiny_runs["hint"], out=a).returncode == 0
    assert build_site(tiny_runs["plain"], tiny_runs["hint"], out=b).returncode == 0
    assert site_files(a) == site_files(b)
    assert build_site(tiny_runs["plain"], tiny_runs["hint"], out=a).returncode == 0  # rebuild in place
    assert site_files(a) == site_files(b)


@pytest.mark.slow
def test_a_crash_never_leaves_half_a_site(tiny_runs, tmp_path, monkeypatch):
    out = tmp_path / "site"
    assert build.build([tiny_runs["plain"]], out) == 0
    before = site_files(out)

    def crash(files, dest):  # the writer dies half-way through the files
        def write_bytes(self, data, _orig=Path.write_bytes):
            if self.name.endswith(".csv"):
                raise OSError("disk full")
            return _orig(self, data)
        monkeypatch.setattr(Path, "write_bytes", write_bytes)
        return real_write(files, dest)

    real_write = build.write_site
    monkeypatch.setattr(build, "write_site", crash)
    with pytest.raises(OSError, match="disk full"):
        build.build([tiny_runs["plain"], tiny_runs["hint"]], out)
    monkeypatch.undo()
    assert site_files(out) == before  # the old site, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]  # no temporary dir left behind
    # a directory this command did not build is never replaced
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    proc = build_site(tiny_runs["plain"], out=foreign)
    assert proc.returncode == 2 and "did not build" in proc.stderr and "Traceback" not in proc.stderr
    assert (foreign / "notes.txt").read_text() == "keep"


@pytest.mark.slow
def test_different_task_versions_or_n_shot_are_flagged_not_compared(tiny_runs, tmp_path):
    def five_shot(res):
        res["n-shot"]["tiny_recall"] = 5
        res["versions"]["tiny_recall"] = 2.0

    other = copy_run(tiny_runs["hint"], tmp_path / "hint5", edit_results=five_shot)
    out = tmp_path / "site"
    proc = build_site(tiny_runs["plain"], other, out=out)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "leaderboard.json").read_text())
    recall = [c for c in data["columns"] if c["task"] == "tiny_recall"]
    assert sorted((c["version"], c["n_shot"]) for c in recall) == [("1.0", "0"), ("2.0", "5")]
    assert len(data["flags"]) == 1 and "tiny_recall" in data["flags"][0] and "never compared" in data["flags"][0]
    assert data["averages"]["tiny_suite"] == [] and data["averages"]["overall"] == []
    for row in data["rows"]:
        assert row["overall"] is None and row["categories"]["tiny_suite"] is None
        assert sum(v is not None for v in row["tasks"].values()) == 2  # each run fills only its own variant
        assert not any(v["best"] for v in row["tasks"].values() if v)  # one run per column: nothing to beat
    assert "Flags: read before comparing" in (out / "index.html").read_text()
    assert "flag: tiny_recall" in proc.stderr


@pytest.mark.slow
def test_malformed_and_partial_results_are_skipped_with_a_warning(tiny_runs, tmp_path):
    bad = tmp_path / "bad"
    broken = copy_run(tiny_runs["hint"], bad / "truncated")
    f = next(broken.rglob("results_*.json"))
    f.write_text(f.read_text()[:200])
    cut = copy_run(tiny_runs["hint"], bad / "cut_samples")
    s = next(cut.rglob("samples_tiny_recall_*.jsonl"))
    s.write_text(s.read_text()[:-100])
    partial = copy_run(tiny_runs["hint"], bad / "partial")
    next(partial.rglob("samples_tiny_compare_*.jsonl")).unlink()
    out = tmp_path / "site"
    proc = build_site(tiny_runs["plain"], bad, out=out)
    assert proc.returncode == 0, proc.stderr
    assert f"bad/truncated/{f.relative_to(broken).as_posix()}: not a readable JSON file" in proc.stderr
    assert "samples_tiny_recall_" in proc.stderr and "malformed samples line" in proc.stderr
    assert "tiny_compare: no samples file beside it" in proc.stderr
    data = json.loads((out / "leaderboard.json").read_text())
    assert len(data["rows"]) == 2 and len(data["skipped"]) == 3
    partial_row = next(r for r in data["rows"] if r["run"].startswith("bad/partial"))
    assert partial_row["tasks"]["tiny_compare"] is None and partial_row["overall"] is None
    assert "/root/" not in (out / "index.html").read_text() and str(tmp_path) not in (out / "index.html").read_text()
    # nothing usable at all: exit 2, no site
    proc = build_site(bad / "truncated", tmp_path / "empty_dir_that_is_missing", out=tmp_path / "none")
    assert proc.returncode == 2 and "nothing usable" in proc.stderr and not (tmp_path / "none").exists()


@pytest.mark.slow
def test_delta_vs_single_task_run_for_runs_sharing_a_base_model(tiny_runs, tmp_path):
    single = copy_run(tiny_runs["plain"], tmp_path / "single")
    (single / "recipe.yaml").write_text("name: single-recall\nbase_model: /models/SmolLM2-135M-Instruct\n"
                                        "mixture:\n  - {task: tiny_recall, cap: 100}\n")
    cocktail = copy_run(tiny_runs["hint"], tmp_path / "cocktail")
    (cocktail / "recipe.yaml").write_text("name: cocktail\nbase_model: /models/SmolLM2-135M-Instruct\n"
                                          "mixture:\n  - {task: tiny_recall, cap: 100}\n  - {task: tiny_compare, "
                                          "cap: 100}\ngeneral: 0.5\n")
    out = tmp_path / "site"
    assert build_site(single, cocktail, out=out).returncode == 0
    data = json.loads((out / "leaderboard.json").read_text())
    rows = {r["model"]: r for r in data["rows"]}
    assert set(rows) == {"single-recall", "cocktail"}
    (delta,) = rows["cocktail"]["delta_vs_single_task"]
    assert delta["task"] == "tiny_recall" and delta["reference"] == "single-recall" and delta["paired"]
    assert delta["delta"] == pytest.approx(0.725) and delta["ci95"][0] > 0 and delta["verdict"] == "helps"
    assert rows["single-recall"]["delta_vs_single_task"] == []
    page = (out / rows["cocktail"]["page"]).read_text()
    assert "Δ vs the single-task run" in page and "helps" in page and page.count("<svg") == 2
    assert "SmolLM2-135M-Instruct" in page and "/models/" not in page  # base model shown without its path
    assert "tiny_compare, tiny_recall · general: 0.5" in page


@pytest.mark.slow
def test_hostile_names_outputs_and_secrets_render_inert(tiny_runs, tmp_path):
    out = tmp_path / "site"
    xss = copy_run(tiny_runs["plain"], tmp_path / "xss", edit_results=hostile_results, edit_sample=hostile_sample)
    assert build_site(xss, out=out).returncode == 0
    files = site_files(out)
    assert json.loads(files["leaderboard.json"])["rows"][0]["model"] == "<script>alert(1)</script>"  # data, kept
    for name, data in files.items():
        text = data.decode()
        assert "sk-live-123" not in text and "/home/alice" not in text, name
        if not name.endswith(".html"):
            continue
        assert "<script>alert" not in text and "<img" not in text and "onerror=alert" not in text.replace(
            "onerror=alert(1)&gt;", "").replace("onerror=alert(2)&gt;", ""), name
    page = next((out / "models").glob("*.html")).read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown, as text
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert page.count("<script>") == 0 and (out / "index.html").read_text().count("<script>") == 1  # the sorter


def test_paths_and_secrets_are_cut_from_published_text():
    assert load.public("pretrained=/root/.cache/finbench/models/Smol,api_key=sk-1") == "pretrained=Smol,api_key=***"
    assert load.public("HuggingFaceTB/SmolLM2-135M") == "HuggingFaceTB/SmolLM2-135M"
    assert load.public("base_url=http://127.0.0.1:8000/v1") == "base_url=http://127.0.0.1:8000/v1"
    assert load.public("~/ckpt/run1 and ./out/x") == "run1 and x"
    assert load.public("<script>alert(1)</script> a/b") == "<script>alert(1)</script> a/b"


def test_recipe_layouts(tmp_path):
    warnings = []

    def warn(f, why):
        warnings.append((f, why))

    f = tmp_path / "recipe.yaml"
    f.write_text("name: r\nmodel: {base: /m/SmolLM2}\nmixture: {tasks: [fpb], general: 0, math: 0}\n")
    r = load.read_recipe(f, warn)
    assert (r.name, r.base_model, r.mixture, r.single_task) == ("r", "SmolLM2", ["fpb"], "fpb")
    f.write_text("base_model: b\nmixture: [{task: fpb, cap: 5}, {task: general, cap: 10}]\n")
    assert load.read_recipe(f, warn).single_task is None  # fpb plus general data is not a single-task run
    f.write_text("mixture: [\n")
    assert load.read_recipe(f, warn) == load.Recipe() and "unreadable recipe" in warnings[-1][1]
    assert table._matches("finbench_fpb", "fpb") and table._matches("finbench_fpb_mc", "fpb")
    assert not table._matches("finbench_fpb", "tfns")


def _score(values, seed_offset=0, sig="s"):
    from finbench import results, stats

    boot = stats.bootstrap_mean_distribution(values, 1000, results.task_seed("t") + seed_offset)
    lo, hi = stats.percentile_ci(boot)
    return table.Score(float(np.mean(values)), lo, hi, boot, sig, len(values))


def test_best_cell_needs_statistical_separation():
    rng = np.random.default_rng(0)
    base = (rng.random(200) < 0.5).astype(float)
    better = base.copy()
    better[np.flatnonzero(base == 0)[:20]] = 1.0  # 20 more right answers on the same documents, none lost
    # paired: the same samples, so a 10-point gain without a single loss is separated even though CIs overlap
    a, b = _score(better), _score(base)
    assert a.lo < b.hi and table.separated(a, b, higher_is_better=True)
    # unpaired (different samples): overlapping CIs are not enough
    a2, b2 = _score(better, sig="x"), _score(base, sig="y")
    assert not table.separated(a2, b2, higher_is_better=True)
    far = _score(np.ones(200), sig="z")
    assert table.separated(far, b2, higher_is_better=True)
    assert table.separated(b2, far, higher_is_better=False)  # lower is better
    scores = [a2, b2, None]
    table._mark_best(scores, True)
    assert not a2.best and not b2.best
    tie = [_score(base), _score(base)]
    table._mark_best(tie, True)
    assert not any(s.best for s in tie)


def test_chart_geometry_is_deterministic_and_handles_empty():
    bars = [{"label": "a", "value": 0.5, "lo": 0.4, "hi": 0.6}, {"label": "b", "value": math.nan, "lo": 0, "hi": 0}]
    c = charts.bar_chart(bars)
    assert c == charts.bar_chart(bars) and len(c["bars"]) == 1 and c["bars"][0]["text"] == "0.500"
    assert float(c["bars"][0]["lo"]) < float(c["bars"][0]["x"]) + float(c["bars"][0]["w"]) < float(c["bars"][0]["hi"])
    assert charts.bar_chart([]) is None
    d = charts.bar_chart([{"label": "d", "value": -0.2, "lo": -0.3, "hi": -0.1}], signed=True)
    assert d["bars"][0]["text"] == "-0.200" and float(d["bars"][0]["x"]) < float(d["zero"])


def test_csv_cells_never_run_as_formulas():
    assert site._csv_text("=HYPERLINK(1)") == "'=HYPERLINK(1)" and site._csv_text("-0.5") == "-0.5"
    assert site._csv_text("model") == "model"


def test_templates_escape_everything():
    env = site._env()
    assert env.autoescape is True
    assert "&lt;b&gt;" in env.from_string("{{ x }}").render(x="<b>")
