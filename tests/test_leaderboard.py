"""`finbench leaderboard build` on recorded real lm-eval outputs (tests/fixtures/recorded: the tiny non-finbench
suite run by the real `lm_eval` CLI, and the study runs): the table with bootstrap CIs, best cells, exports,
byte-identical rebuilds, atomic replacement, flags for runs that must not be compared, skipped malformed inputs, Δ
vs the single-task run, published reference rows, and hostile names rendered inert."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import cli, copy_run
from finbench import compare
from finbench.finetune import report
from finbench.leaderboard import build, charts, load, published, site, table
from helpers import hostile_results, hostile_sample
from recorded import RECORDED, STUDY, TINY

KNOWLEDGE = RECORDED / "knowledge"  # <run>/mmlu and <run>/gen: one model's tasks in two output dirs


@pytest.fixture
def tiny_runs():
    return TINY


def build_site(*dirs, out, subprocess_run=False):
    return cli("leaderboard", "build", *dirs, "--out", out, subprocess_run=subprocess_run)


def site_files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


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


def test_same_inputs_give_a_byte_identical_site(tiny_runs, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert build_site(tiny_runs["plain"], tiny_runs["hint"], out=a).returncode == 0
    assert build_site(tiny_runs["plain"], tiny_runs["hint"], out=b).returncode == 0
    assert site_files(a) == site_files(b)
    assert build_site(tiny_runs["plain"], tiny_runs["hint"], out=a).returncode == 0  # rebuild in place
    assert site_files(a) == site_files(b)


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


def test_delta_vs_single_task_run_for_runs_sharing_a_base_model(tmp_path):
    """Δ on each task vs the single-task run of that task (by the task's dataset_kwargs.task), paired on the
    documents both scored, for runs whose recipes share a base model; the recipe is read by recipe.load."""
    out = tmp_path / "site"
    runs = [STUDY / n for n in ("single-fpb-seed1", "single-tfns-seed1", "cocktail-seed1", "zero-shot")]
    assert build_site(*runs, out=out).returncode == 0
    data = json.loads((out / "leaderboard.json").read_text())
    rows = {r["model"]: r for r in data["rows"]}
    assert set(rows) == {"single-fpb-seed1", "single-tfns-seed1", "cocktail-seed1", "SmolLM2-135M-Instruct"}
    deltas = {d["task"]: d for d in rows["cocktail-seed1"]["delta_vs_single_task"]}
    assert set(deltas) == {"finbench_fpb", "finbench_tfns"}  # no single-task run of fiqa_sa among these
    assert deltas["finbench_fpb"]["reference"] == "single-fpb-seed1"
    tfns = deltas["finbench_tfns"]
    assert tfns["reference"] == "single-tfns-seed1" and tfns["n_paired"] == 12
    assert tfns["delta"] < -0.5 and tfns["ci95"][1] < 0 and tfns["verdict"] == "hurts"  # the cocktail collapsed
    # the Δ is the same paired statistic as finbench.compare's on the two runs' items
    from finbench import results

    a, b = (results.find_runs(STUDY / n, lazy=True)[0] for n in ("cocktail-seed1", "single-tfns-seed1"))
    d = compare.paired(results.primary_items(a, "finbench_tfns"), results.primary_items(b, "finbench_tfns"))
    assert (tfns["delta"], *tfns["ci95"]) == pytest.approx((d.delta, d.lo, d.hi), abs=1e-6)
    # each single-task run is compared on the other task's column, never on its own; a run without a recipe never
    assert [d["task"] for d in rows["single-fpb-seed1"]["delta_vs_single_task"]] == ["finbench_tfns"]
    assert [d["task"] for d in rows["single-tfns-seed1"]["delta_vs_single_task"]] == ["finbench_fpb"]
    assert rows["SmolLM2-135M-Instruct"]["delta_vs_single_task"] == []
    page = (out / rows["cocktail-seed1"]["page"]).read_text()
    assert "Δ vs the single-task run" in page and "hurts" in page and page.count("<svg") == 2
    assert "fiqa_sa, fpb, tfns" in page and "training seed" in page
    assert "<code>neutral</code> 12</td>" in page  # its TFNS answers: one label, all 12 times (collapse shows)


def test_a_models_output_dirs_with_disjoint_tasks_are_one_row(tmp_path):
    """The study's knowledge layout: each model's MMLU (hf) and generative tasks (vLLM) in two output dirs, each
    with the recipe beside it. One row per model with all three tasks, as `study report` reads them; the cells
    are the ones each part alone gives; a field the parts disagree on says which part each value came from."""
    proc = build_site(KNOWLEDGE, out=tmp_path / "site")
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "site" / "leaderboard.json").read_text())
    names = ["zero-shot", "single_fpb-seed1", "cocktail-seed1", "cocktail_general-seed1", "cocktail_general_math-seed1"]
    rows = {r["model"]: r for r in data["rows"]}
    assert len(data["rows"]) == 5 and set(rows) == {"SmolLM2-135M-Instruct", *names[1:]}
    tasks = {"finbench_mmlu_finance", "finbench_financemath", "finbench_financebench"}
    for row in data["rows"]:
        assert {t for t, v in row["tasks"].items() if v is not None} == tasks
        parts = row["run"].split(" + ")
        assert len(parts) == 2 and [p.split("/")[2] for p in parts] == ["gen", "mmlu"], row["run"]
        assert row["overall"] is not None  # every column: the row has an overall score
    # each part alone: the same cells
    for name in names:
        alone = tmp_path / name
        assert build_site(KNOWLEDGE / name / "mmlu", KNOWLEDGE / name / "gen", out=alone).returncode == 0
        (row,) = json.loads((alone / "leaderboard.json").read_text())["rows"]
        for task in sorted(tasks):
            single = tmp_path / f"{name}-{task}"
            part = "mmlu" if task == "finbench_mmlu_finance" else "gen"
            assert build_site(KNOWLEDGE / name / part, out=single).returncode == 0
            (own,) = json.loads((single / "leaderboard.json").read_text())["rows"]
            assert row["tasks"][task] == own["tasks"][task]
    page = (tmp_path / "site" / rows["cocktail-seed1"]["page"]).read_text()
    assert "6.0 (knowledge/cocktail-seed1/gen); 8.0 (knowledge/cocktail-seed1/mmlu)" in page  # each part's --limit
    assert "training seed" in page


def test_a_model_evaluated_twice_on_a_task_keeps_a_row_per_file(tmp_path):
    run = tmp_path / "cocktail-seed1"
    shutil.copytree(KNOWLEDGE / "cocktail-seed1", run)
    shutil.copytree(run / "mmlu", run / "mmlu-again")
    proc = build_site(run, out=tmp_path / "site")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((tmp_path / "site" / "leaderboard.json").read_text())["rows"]
    assert len(rows) == 3 and all(" + " not in r["run"] for r in rows)  # repeats are not parts of one run
    assert len({r["model"] for r in rows}) == 3  # told apart by where they came from


def test_merged_metadata_names_where_each_differing_value_came_from():
    def entry(label, **meta):
        return load.Entry(label.split("/")[0], label, {}, {}, meta, None, {})

    parts = [
        entry("k/a/gen/results.json", backend="vllm", date="d1", documents="t1: sample of 3 of 9 documents"),
        entry("k/a/mmlu/results.json", backend="hf", date="d1", limit="5"),
        entry("k/a/more/results.json", backend="vllm", date="d1"),
    ]
    assert load._merged_meta(parts) == {
        "backend": "vllm (k/a/gen, k/a/more); hf (k/a/mmlu)",
        "date": "d1",
        "documents": "t1: sample of 3 of 9 documents",
        "limit": "5 (k/a/mmlu)",
    }


def test_several_single_task_seeds_are_flagged_not_guessed(tmp_path):
    proc = build_site(STUDY, out=tmp_path / "site")
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "site" / "leaderboard.json").read_text())
    flag = next(f for f in data["flags"] if f.startswith("finbench_fpb: 3 single-task runs"))
    assert "seeds of one recipe" in flag and "configurations table" in flag
    cocktail = next(r for r in data["rows"] if r["model"] == "cocktail-seed1")
    assert [d["task"] for d in cocktail["delta_vs_single_task"]] == ["finbench_fiqa_sa"]  # its one single-task run


def test_recipes_with_several_seeds_get_seed_aware_configuration_rows(tmp_path):
    """The configurations table: per task the mean over seeds of the seed rows' own scores, the two-level CI and
    the seed-aware Δ vs the single-task configuration that `finbench study report` gives, and the configurations'
    values against the published numbers."""
    out = tmp_path / "site"
    assert build_site(STUDY, out=out).returncode == 0
    data = json.loads((out / "leaderboard.json").read_text())
    configs = {c["configuration"]: c for c in data["configurations"]}
    assert set(configs) == {"single-fpb", "single-tfns", "cocktail", "cocktail-general"}  # one seed: no row
    rows = {r["model"]: r for r in data["rows"]}
    cocktail = configs["cocktail"]
    assert cocktail["runs"] == ["cocktail-seed1", "cocktail-seed2", "cocktail-seed3"]
    runs, _ = report.load_runs([STUDY])
    st = report.study(runs)
    for task in ("finbench_fpb", "finbench_fiqa_sa", "finbench_tfns"):
        mine = cocktail["tasks"][task]
        seeds = [rows[f"cocktail-seed{k}"]["tasks"][task]["value"] for k in (1, 2, 3)]
        assert mine["value"] == pytest.approx(np.mean(seeds)) and mine["seeds"] == cocktail["runs"]
        s = st.scores[task]["cocktail"]
        assert mine["ci95"] == pytest.approx([s.lo, s.hi]) and mine["n"] == s.n
    (d,) = [d for d in cocktail["delta_vs_single_task"] if d["task"] == "finbench_tfns"]
    want = compare.config_delta(st.scores["finbench_tfns"]["cocktail"], st.scores["finbench_tfns"]["single-tfns"])
    assert d["reference"] == "single-tfns" and d["verdict"] == "hurts"
    assert (d["delta"], *d["ci95"]) == pytest.approx((want.value, want.lo, want.hi))
    assert {d["task"] for d in cocktail["delta_vs_single_task"]} == {"finbench_fpb", "finbench_tfns"}
    assert configs["single-fpb"]["delta_vs_single_task"] == []  # a single-task configuration has none
    ref = next(x for x in data["references"] if x["task"] == "finbench_fpb" and x["model"] == "GPT-4o")
    (c,) = [c for c in ref["configurations"] if c["configuration"] == "cocktail"]
    w = compare.study_scores(st.configs, "finbench_fpb", "weighted_f1", st.n_boot, st.seed)["cocktail"]
    assert (c["value"], *c["ci95"]) == pytest.approx((w.value, w.lo, w.hi))
    assert c["verdict"] == ("above" if w.lo > 0.818 else "below" if w.hi < 0.818 else "CI includes it")
    html = (out / "index.html").read_text()
    assert "Configurations: mean over training seeds" in html and "3 seeds: cocktail-seed1" in html


def test_seeds_of_a_recipe_named_without_its_seed_are_told_apart(tmp_path):
    # the sweep stores each seed's recipe under the recipe's own name (`seed:` says which), as results/study does
    for seed in (1, 2):
        run = tmp_path / "runs" / f"single_fpb-seed{seed}" / "eval"
        shutil.copytree(STUDY / f"single-fpb-seed{seed}", run)
        (run / "recipe.yaml").write_text(
            (run / "recipe.yaml").read_text().replace(f"single-fpb-seed{seed}", "single_fpb")
        )
    proc = build_site(*sorted((tmp_path / "runs").glob("*/eval")), out=tmp_path / "site")
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "site" / "leaderboard.json").read_text())
    assert sorted(r["model"] for r in data["rows"]) == ["single_fpb-seed1", "single_fpb-seed2"]


def test_invalid_recipe_is_a_warning_not_a_crash(tmp_path):
    run = copy_run(STUDY / "single-fpb-seed1", tmp_path / "bad")
    (run / "recipe.yaml").write_text("name: x\nmixture: {tasks: [{task: no_such_task, cap: 5}]}\n")
    proc = build_site(run, out=tmp_path / "site")
    assert proc.returncode == 0 and "invalid recipe" in proc.stderr and "no_such_task" in proc.stderr
    data = json.loads((tmp_path / "site" / "leaderboard.json").read_text())
    assert data["rows"][0]["model"] != "x" and data["rows"][0]["delta_vs_single_task"] == []


def test_published_reference_rows(tmp_path):
    """Published numbers on the board's tasks: shown with their source and split, marked as not recomputed, with
    each run's own value of the same metric; never in a row, an average or a best mark."""
    out = tmp_path / "site"
    assert build_site(STUDY / "zero-shot", STUDY / "cocktail-seed1", out=out).returncode == 0
    data = json.loads((out / "leaderboard.json").read_text())
    refs = {(r["task"], r["model"]): r for r in data["references"]}
    assert set(refs) == {
        ("finbench_fpb", "GPT-4o"),
        ("finbench_fpb", "GPT-4"),
        ("finbench_fiqa_sa", "GPT-4o"),
        ("finbench_tfns", "GPT-4o"),
    }  # FinanceMath's are not on this board
    fpb = refs[("finbench_fpb", "GPT-4o")]
    assert fpb["value"] == 0.818 and fpb["metric"] == "weighted_f1" and "FinLoRA" in fpb["source"]
    assert "1,212" in fpb["split"] and fpb["note"] == published.NOTE
    assert {r["model"] for r in fpb["runs"]} == {"SmolLM2-135M-Instruct", "cocktail-seed1"}  # no recipe: model name
    for r in fpb["runs"]:
        assert r["ci95"][0] <= r["value"] <= r["ci95"][1] and r["sample"] == "sample of 12 of 1,212 documents"
    cocktail = next(r for r in fpb["runs"] if r["model"] == "cocktail-seed1")
    assert cocktail["value"] == 1.0 and cocktail["verdict"] == "above"  # every FPB answer right in this fixture
    assert len(data["rows"]) == 2  # reference rows are not runs
    html = (out / "index.html").read_text()
    assert "Reference rows: published numbers" in html and html.count(published.NOTE) >= 4
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    assert "GPT-4o" not in body  # not in the ranked table


def test_published_file_is_valid_and_errors_name_the_entry(tmp_path):
    entries = published.load()
    assert {(e.task, e.model, e.value) for e in entries} >= {
        ("finbench_fpb", "GPT-4o", 0.818),
        ("finbench_fpb", "GPT-4", 0.833),
        ("finbench_fiqa_sa", "GPT-4o", 0.773),
        ("finbench_tfns", "GPT-4o", 0.740),
        ("finbench_financemath", "gpt-4o", 0.550),
        ("finbench_financemath", "Phi-3-mini-4k-instruct", 0.165),
        ("finbench_financemath", "Meta-Llama-3.1-8B-Instruct", 0.160),
    }
    assert all(e.source and e.split for e in entries)
    bad = tmp_path / "p.yaml"
    bad.write_text("- {task: t, model: m, metric: acc, value: high, split: s, source: c}\n")
    with pytest.raises(published.DataError, match="entry 0 .*value must be a number"):
        published.load(bad)


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
        assert (
            "<script>alert" not in text
            and "<img" not in text
            and "onerror=alert" not in text.replace("onerror=alert(1)&gt;", "").replace("onerror=alert(2)&gt;", "")
        ), name
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
