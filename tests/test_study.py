"""finbench.compare and the study report (`finbench study report`) on the recorded study fixtures
(tests/fixtures/recorded/study: a real zero-shot run and fake seeds of single-task and cocktail runs derived from it):
seeds grouped into configurations, the two-level bootstrap, paired Δ tables, negative transfer, published reference
rows, answer distributions and the figure; and the rules they rest on (which run is the single-task run of a task,
which runs are seeds of one recipe)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from conftest import cli, copy_run
from finbench import compare, results, slim
from finbench.finetune import report
from finbench.finetune.recipe import RecipeError
from recorded import SENTIMENT, STUDY


@pytest.fixture(scope="module")
def study():
    runs, notes = report.load_runs([STUDY])
    return report.study(runs, notes=notes)


def _recipe(tmp_path, text):
    f = tmp_path / "recipe.yaml"
    f.write_text(text)
    return compare.read_recipe(f)


def test_single_task_rule_uses_dataset_kwargs_task():
    configs = {
        "finbench_fpb": {"dataset_kwargs": {"task": "fpb"}},
        "finbench_fpb_mc": {"dataset_kwargs": {"task": "fpb"}},
        "tiny_recall": {"dataset_kwargs": {"data_files": {"test": "x"}}},
    }
    assert [compare.mixture_task(configs, t) for t in configs] == ["fpb", "fpb", "tiny_recall"]
    single = compare.RunRecipe("single-fpb", "default", ("fpb",))
    assert single.single_task == "fpb"
    assert compare.RunRecipe("x", "default", ("fpb",), general=1.0).single_task is None  # fpb + general data
    assert compare.RunRecipe("x", "default", ("fpb", "tfns")).single_task is None
    recipes = {"a": single, "b": None, "c": compare.RunRecipe("c", "other", ("fpb",))}
    assert compare.single_task_runs(recipes, configs, "finbench_fpb_mc") == ["a", "c"]
    assert compare.single_task_runs(recipes, configs, "finbench_fpb", base_model="default") == ["a"]


def test_recipes_are_read_by_recipe_load_and_seed_runs_name_their_configuration(tmp_path):
    r = _recipe(
        tmp_path,
        "name: cocktail-seed3\nmixture:\n  tasks: [{task: fpb, cap: 5}, {task: tfns, cap: 5}]\n"
        "  general: 1.0\ntraining: {seed: 3}\n",
    )
    assert (r.name, r.config, r.seed, r.tasks, r.general, r.base_model) == (
        "cocktail-seed3",
        "cocktail",
        3,
        ("fpb", "tfns"),
        1.0,
        "default",
    )
    assert _recipe(tmp_path, "name: plain\nmixture: {tasks: [{task: fpb, cap: 5}]}\n").config == "plain"
    with pytest.raises(RecipeError, match="unknown task"):
        _recipe(tmp_path, "name: x\nmixture: {tasks: [{task: nope, cap: 5}]}\n")


def test_seed_runs_group_into_configurations_and_bad_groups_are_refused():
    runs, _ = report.load_runs([STUDY])
    configs = {c.name: c for c in compare.configurations(runs)}
    assert {n: c.seeds for n, c in configs.items()} == {
        "zero-shot": [None],
        "single-fpb": [1, 2, 3],
        "single-fiqa_sa": [1],
        "single-tfns": [1, 2, 3],
        "cocktail": [1, 2, 3],
        "cocktail-general": [1, 2],
    }
    by = {r.name: r for r in runs}
    twice = [
        by["cocktail-seed1"],
        compare.NamedRun("cocktail-seed1-copy", by["cocktail-seed1"].run, by["cocktail-seed1"].recipe),
    ]
    with pytest.raises(compare.CompareError, match="seed 1 appears twice"):
        compare.configurations(twice)
    other = compare.NamedRun(
        "cocktail-seed9", by["single-fpb-seed1"].run, compare.RunRecipe("cocktail-seed9", "default", ("fpb",), seed=9)
    )
    with pytest.raises(compare.CompareError, match="not seeds of one recipe"):
        compare.configurations([by["cocktail-seed1"], other])


def test_score_is_the_mean_over_seeds_with_a_two_level_ci(study):
    from sklearn.metrics import f1_score

    fpb = study.scores["finbench_fpb"]
    per_seed = []
    for seed in (1, 2, 3):
        run = results.find_runs(STUDY / f"single-fpb-seed{seed}", lazy=True)[0]
        items = results.primary_items(run, "finbench_fpb")
        gold, pred = zip(*items.items)
        per_seed.append(f1_score(gold, pred, average="macro", labels=["negative", "neutral", "positive"]))
    s = fpb["single-fpb"]
    assert s.n_seeds == 3 and s.n == 12 and s.metric == "score"
    assert s.per_seed == pytest.approx(per_seed) and s.value == pytest.approx(np.mean(per_seed))
    assert s.lo <= s.value <= s.hi
    # one seed: the CI is the run's own document bootstrap, exactly as `finbench report` computes it
    z = fpb["zero-shot"]
    row = next(
        r
        for r in results.metric_rows(results.find_runs(STUDY / "zero-shot", lazy=True)[0])
        if (r.task, r.metric) == ("finbench_fpb", "score")
    )
    assert (z.value, z.lo, z.hi) == pytest.approx((row.value, row.lo, row.hi), abs=1e-12)
    c = fpb["cocktail"]  # every FPB answer right in every seed (a resample may lack a class: macro F1 below 1)
    assert c.per_seed == [1.0, 1.0, 1.0] and c.value == 1.0 and c.hi == 1.0


def test_identical_seeds_add_no_variance_and_a_configuration_minus_itself_is_zero(tmp_path):
    for name in ("a-seed1", "a-seed2"):
        shutil.copytree(STUDY / "single-fpb-seed1", tmp_path / name)
        text = (tmp_path / name / "recipe.yaml").read_text()
        (tmp_path / name / "recipe.yaml").write_text(
            text.replace("single-fpb-seed1", name).replace("seed: 1", f"seed: {name[-1]}")
        )
    runs, _ = report.load_runs([tmp_path, STUDY / "single-fpb-seed1"])
    st = report.study(runs)
    a, one = st.scores["finbench_fpb"]["a"], st.scores["finbench_fpb"]["single-fpb"]
    assert a.n_seeds == 2 and np.array_equal(a.boot, one.boot)  # same documents drawn, seeds identical
    d = compare.config_delta(a, one)
    assert (d.value, d.lo, d.hi) == (0.0, 0.0, 0.0)


def test_seeds_evaluated_on_fewer_tasks_count_where_they_were_evaluated(tmp_path):
    """The study's plan evaluates the + general seeds 2-3 on the sentiment tasks only: on each task, the seeds that
    scored it make the configuration's score, and the report says which."""

    def fpb_only(res):
        for key in ("results", "configs", "versions", "n-shot", "higher_is_better", "n-samples"):
            res[key] = {t: v for t, v in res.get(key, {}).items() if t == "finbench_fpb"}

    for seed in (1, 2, 3):
        copy_run(
            STUDY / f"cocktail-seed{seed}",
            tmp_path / f"cocktail-seed{seed}",
            edit_results=None if seed == 1 else fpb_only,
        )
        if seed > 1:
            for f in (tmp_path / f"cocktail-seed{seed}").rglob("samples_*.jsonl.gz"):
                if "finbench_fpb" not in f.name:
                    f.unlink()
    runs, notes = report.load_runs([tmp_path / f"cocktail-seed{s}" for s in (1, 2, 3)] + [STUDY / "zero-shot"])
    st = report.study(runs, notes=notes)
    fpb, tfns = st.scores["finbench_fpb"]["cocktail"], st.scores["finbench_tfns"]["cocktail"]
    assert fpb.runs == ["cocktail-seed1", "cocktail-seed2", "cocktail-seed3"] and fpb.n_seeds == 3
    assert tfns.runs == ["cocktail-seed1"]
    own = results.primary_items(results.find_runs(STUDY / "cocktail-seed1", lazy=True)[0], "finbench_tfns")
    assert tfns.per_seed == [pytest.approx(own.fn(own.items))] and tfns.value == tfns.per_seed[0]
    text = report.render(st)
    line = next(x for x in text.splitlines() if x.startswith("| cocktail | ") and " [" in x)  # the score table
    assert line.count("(1 of 3 seeds)") == 2 and "(3 of 3" not in line  # fiqa_sa and tfns; fpb has all three
    assert "cocktail on tfns: cocktail-seed1" in text


def test_the_sweeps_layout_names_runs_by_folder_and_seed(tmp_path):
    # a sweep's run dir is `<run>/eval`, and the recipe stored there is named without its seed (`seed:` says it),
    # as under results/study; a cell with a newline or a pipe (an NER answer) must not break the table
    shutil.copytree(STUDY / "zero-shot", tmp_path / "zero-shot" / "eval")
    for seed in (1, 2):
        run = tmp_path / f"single_fpb-seed{seed}" / "eval"
        shutil.copytree(STUDY / f"single-fpb-seed{seed}", run)
        text = (run / "recipe.yaml").read_text()
        assert f"seed: {seed}" in text
        (run / "recipe.yaml").write_text(text.replace(f"single-fpb-seed{seed}", "single_fpb"))
    runs, _ = report.load_runs(sorted(tmp_path.glob("*/eval")))
    text = report.render(report.study(runs))
    assert "| zero-shot | 1 | zero-shot | – | (no recipe: not fine-tuned) |" in text
    assert "| single_fpb | 2 | single_fpb-seed1, single_fpb-seed2 | " in text
    assert "| fpb | single_fpb-seed2 | 12 |" in text and "| fpb | eval |" not in text
    assert report._table(["a"], [["x\ny|z"]])[2] == "| x⏎y\\|z |"


def test_study_report_tables_and_figure(tmp_path):
    from sklearn.metrics import f1_score

    proc = cli("study", "report", STUDY, "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert (tmp_path / report.TABLES).read_text() == text
    assert (tmp_path / report.FIGURE).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = text.splitlines()
    assert any(line.startswith("| cocktail | 3 | cocktail-seed1, cocktail-seed2, cocktail-seed3 |") for line in lines)
    assert (
        "Documents per task (shared by every run): fiqa_sa 12 (score; PARTIAL RUN: sample of 12 of 235 documents), "
        "fpb 12 (score; PARTIAL RUN: sample of 12 of 1,212 documents), tfns 12 (score; PARTIAL RUN: sample of 12 "
        "of 2,388 documents)."
    ) in text
    # the majority-class answer: the best constant, on the same documents, paired
    maj = text.split("Majority class:")[1].split("\n\n")[1].splitlines()
    zs = results.find_runs(STUDY / "zero-shot", lazy=True)[0]
    gold = [g for g, _ in results.primary_items(zs, "finbench_tfns").items]
    want = f1_score(gold, ["neutral"] * len(gold), average="macro", labels=["negative", "neutral", "positive"])
    assert maj[2].startswith("| majority class |") and f"| {want:.3f} [" in maj[2] and "(`neutral`) |" in maj[2]
    cocktail_vs_majority = next(line for line in maj if line.startswith("| cocktail |"))
    assert cocktail_vs_majority.endswith("| +0.000 [+0.000, +0.000] |")  # collapsed onto the majority label
    # Δ vs the zero-shot base (the heading `finbench sweep report` has always printed)
    base = text.split("Δ(run − zero-shot)")[1].split("\n\n")[1]
    assert next(line for line in base.splitlines() if line.startswith("| single-tfns | "))
    # cocktail − single: better on FPB, collapsed on TFNS (negative transfer), nothing to compare for fiqa_sa's
    # cocktail-general beyond its own single run
    vs = text.split("Δ(multi-task configuration − the single-task configuration of the task)")[1].split("\n\n")[1]
    cocktail = next(line for line in vs.splitlines() if line.startswith("| cocktail | "))
    assert cocktail.count("▼") == 1 and cocktail.rstrip(" |").endswith("▼")  # the tfns column
    neg = text.split("Negative transfer")[1].split("\n\n")[1]
    assert "| cocktail | tfns | single-tfns |" in neg and "| cocktail | fpb |" not in neg
    assert "| + general | cocktail-general − cocktail |" in text
    # published reference rows, never inside a Δ table
    assert "| **GPT-4o** (published) | fpb | weighted_f1 | 0.818 |" in text
    assert "published, not recomputed: no samples, no CI" in text
    refs = text.split("Reference rows")[1].split("\n\n")[1]
    assert "| cocktail | fpb | weighted_f1 | 1.000 [1.000, 1.000] | above (12 documents) |" in refs
    # answer distributions: the TFNS collapse shows
    assert "| tfns | cocktail-seed1 | 12 | 1 | 100% | `neutral` 12 |" in text
    assert any(line.startswith("| tfns | gold | 12 | 3 |") for line in lines)


def test_a_slim_export_gives_the_same_study_tables(tmp_path):
    full, thin = tmp_path / "full" / "zero-shot", tmp_path / "thin" / "zero-shot"
    shutil.copytree(SENTIMENT, full)
    slim.export(full, thin)
    a, b = cli("study", "report", full.parent), cli("study", "report", thin.parent)
    assert a.returncode == b.returncode == 0 and a.stdout == b.stdout


def test_regress_a_cocktail_seed_against_single_task_runs():
    """`finbench regress` reads the slim study runs: the cocktail against the FPB-only run (per-task verdicts, the
    FPB Δ being compare.paired's), and against the TFNS-only run, where its collapse is a regression (exit 1)."""

    def verdicts(text):
        return {
            line.split(" | ")[0].strip("| "): line.rsplit("**", 2)[1]
            for line in text.splitlines()
            if line.startswith("| finbench_")
        }

    fpb = cli("regress", "--baseline", STUDY / "single-fpb-seed1", "--candidate", STUDY / "cocktail-seed1")
    assert fpb.returncode == 0, fpb.stderr
    assert set(verdicts(fpb.stdout)) == {"finbench_fpb", "finbench_fiqa_sa", "finbench_tfns"}
    a, b = (results.find_runs(STUDY / n, lazy=True)[0] for n in ("cocktail-seed1", "single-fpb-seed1"))
    d = compare.paired(results.primary_items(a, "finbench_fpb"), results.primary_items(b, "finbench_fpb"), 10_000)
    row = next(line for line in fpb.stdout.splitlines() if line.startswith("| finbench_fpb |"))
    assert f"| {d.delta:+.3f} | [{d.lo:+.3f}, {d.hi:+.3f}] |" in row
    tfns = cli("regress", "--baseline", STUDY / "single-tfns-seed1", "--candidate", STUDY / "cocktail-seed1")
    assert tfns.returncode == 1 and verdicts(tfns.stdout)["finbench_tfns"] == "regressed"


def test_regress_seeds_against_seeds_uses_the_two_level_ci(tmp_path):
    """`finbench regress --baseline A1 A2 A3 --candidate B1 B2 B3`: Δ of the means over seeds with the study report's
    two-level CI (the same draws), the verdict from that CI alone (no McNemar across seeds), a run given twice
    refused."""
    fpb = [STUDY / f"single-fpb-seed{k}" for k in (1, 2, 3)]
    cocktails = [STUDY / f"cocktail-seed{k}" for k in (1, 2, 3)]
    out = tmp_path / "r.json"
    proc = cli("regress", "--baseline", *fpb, "--candidate", *cocktails, "--json", out)
    assert "two-level bootstrap, seeds then documents" in proc.stdout
    data = json.loads(out.read_text())
    assert data["settings"]["baseline"] == [str(p) for p in fpb]
    runs, _ = report.load_runs(fpb + cocktails)
    st = report.study(runs, n_boot=10_000)
    rows = {t["task"]: t for t in data["tasks"]}
    for task in ("finbench_fpb", "finbench_fiqa_sa"):  # the seeds differ here (fpb: single-fpb's; fiqa: cocktail's)
        want = compare.config_delta(st.scores[task]["cocktail"], st.scores[task]["single-fpb"])
        assert (rows[task]["delta"], rows[task]["lo"], rows[task]["hi"]) == pytest.approx(
            (want.value, want.lo, want.hi)
        )
        assert rows[task]["mcnemar_p"] is None
        assert rows[task]["baseline"] == pytest.approx(np.mean(st.scores[task]["single-fpb"].per_seed))
    for r in rows.values():  # the verdict is the CI's
        assert r["verdict"] == ("improved" if r["lo"] > 0 else "regressed" if r["hi"] < 0 else "unchanged")
    tfns = [STUDY / f"single-tfns-seed{k}" for k in (1, 2, 3)]
    collapse = cli("regress", "--baseline", *tfns, "--candidate", *cocktails)
    assert collapse.returncode == 1 and "| finbench_tfns |" in collapse.stdout  # the cocktails collapse on TFNS
    again = cli("regress", "--baseline", fpb[0], fpb[0], "--candidate", *cocktails)
    assert again.returncode == 2 and "given twice" in again.stderr and "Traceback" not in again.stderr


def test_sweep_report_reads_a_sweeps_finished_runs(tmp_path):
    """`finbench sweep report SWEEP_DIR`: the finished runs of plan.json (runs/<name>/eval, recipe beside it) through
    the same study tables; an unfinished run is left out."""
    import json

    names = ["zero-shot", "single-tfns-seed1", "cocktail-seed1", "cocktail-seed2"]
    for name in names:
        shutil.copytree(STUDY / name, tmp_path / "runs" / name / "eval")
        if name != "cocktail-seed2":  # still running
            (tmp_path / "runs" / name / "DONE.json").write_text("{}")
    (tmp_path / "plan.json").write_text(json.dumps({"runs": [{"name": n} for n in names]}))
    proc = cli("sweep", "report", tmp_path, "-o", tmp_path / "RESULTS.md")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "RESULTS.md").read_text() == proc.stdout
    assert "| cocktail | 1 | cocktail-seed1 |" in proc.stdout  # seed2 is not finished
    section = proc.stdout.split("Δ(run − zero-shot)")[1]
    assert next(line for line in section.splitlines() if line.startswith("| single-tfns | "))
    assert "| cocktail | tfns | single-tfns |" in proc.stdout.split("Negative transfer")[1]


def test_unusable_study_inputs_exit_2_with_a_message(tmp_path):
    proc = cli("study", "report", tmp_path)
    assert proc.returncode == 2 and "no lm-eval results_*.json" in proc.stderr
    bad = tmp_path / "bad"
    shutil.copytree(STUDY / "single-fpb-seed1", bad)
    (bad / "recipe.yaml").write_text("name: x\nmixture: {tasks: []}\n")
    proc = cli("study", "report", bad)
    assert proc.returncode == 2 and "recipe is invalid" in proc.stderr and "Traceback" not in proc.stderr
    assert cli("study", "report", STUDY, "--n-boot", "0").returncode == 2


def test_majority_class_only_for_label_pair_items():
    from recorded import TINY

    runs, _ = report.load_runs([TINY["plain"]])
    st = report.study(runs)
    (score,) = st.scores["tiny_recall"].values()  # acc: 0/1 per sample, not (gold, prediction) pairs
    assert compare.majority_score(score) is None
    assert "Majority class:" not in report.render(st)


def test_runs_with_another_task_version_are_refused(tmp_path):
    from conftest import copy_run

    def v3(res):
        res["versions"]["finbench_fpb"] = 3.0

    copy_run(STUDY / "single-fpb-seed1", tmp_path / "single-fpb-seed1", edit_results=v3)
    shutil.copytree(STUDY / "zero-shot", tmp_path / "zero-shot")
    proc = cli("study", "report", tmp_path)
    assert proc.returncode == 2 and "finbench_fpb: the runs differ in task version" in proc.stderr
