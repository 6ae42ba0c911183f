"""The ablation grid: plan sizes and recipes; a resumable run (train -> merge -> evaluate) on the sample sets."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import signal
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT, cli, env
from finbench.finetune import recipe, sweep
from finbench.finetune.recipe import RecipeError

SMOKE = ROOT / "finetune" / "recipes" / "smoke.yaml"
COCKTAIL = ROOT / "finetune" / "recipes" / "cocktail.yaml"
NINE = ["fpb", "fiqa_sa", "tfns", "headline", "ner", "ner_cls", "convfinqa", "tatqa", "finqa"]
SWEEP = [sys.executable, "-m", "finbench.cli", "sweep"]


@pytest.mark.parametrize("n, expected", [(1, 1), (2, 3), (3, 7), (4, 4 + 6 + 4 + 1), (9, 55)])
def test_grid_sizes(n, expected):
    grid = sweep.subsets(NINE[:n])
    assert len(grid) == expected
    assert len({frozenset(g) for _, g in grid}) == expected  # no task set twice


def test_plan_writes_loadable_recipes_for_each_variant(tmp_path):
    template = recipe.load(COCKTAIL)
    template = dataclasses.replace(
        template,
        mixture=dataclasses.replace(template.mixture, tasks=template.mixture.tasks + (recipe.Part("finqa", 2000),)),
    )
    entries = sweep.plan(template, NINE, ["base", "general_math"], tmp_path)
    assert entries[0]["name"] == sweep.BASE_RUN and len(entries) == 1 + 2 * 55
    files = sorted((tmp_path / "recipes").glob("*.yaml"))
    assert len(files) == 110
    loo = recipe.load(tmp_path / "recipes" / "loo-no_headline__general_math.yaml")
    assert [p.task for p in loo.mixture.tasks] == [t for t in NINE if t != "headline"]
    assert (loo.mixture.general, loo.mixture.math) == (1.0, 0.5)
    single = recipe.load(tmp_path / "recipes" / "single-tfns.yaml")
    assert single.mixture.tasks == (recipe.Part("tfns", 5000),) and single.mixture.general == 0.0
    assert single.training == template.training and single.lora == template.lora
    assert single.out == tmp_path / "runs" / "single-tfns"
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert [e["name"] for e in plan["runs"]] == [e["name"] for e in entries]


def test_plan_rejects_bad_input(tmp_path):
    template = recipe.load(SMOKE)
    with pytest.raises(RecipeError, match="unknown variant 'extra'"):
        sweep.plan(template, ["fpb"], ["extra"], tmp_path)
    with pytest.raises(RecipeError, match="'tfns' has no cap in the template"):
        sweep.plan(template, ["fpb", "tfns"], ["base"], tmp_path)
    assert not any(tmp_path.iterdir())
    with pytest.raises(RecipeError, match="no plan.json"):
        sweep.run(tmp_path, [])


@pytest.mark.slow
def test_sweep_run_is_resumable_and_stores_the_recipe_beside_results(tmp_path, smoke_sweep):
    plan = cli("sweep", "plan", "--template", SMOKE, "--tasks", "fpb,ner_cls", "-o", tmp_path)  # in-process
    assert plan.returncode == 0, plan.stderr
    names = [e["name"] for e in json.loads((tmp_path / "plan.json").read_text())["runs"]]
    assert names == ["zero-shot", "single-fpb", "single-ner_cls", "pair-fpb+ner_cls"]
    dry = subprocess.run(SWEEP + ["run", str(tmp_path), "--dry-run"], env=env(), capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    rows = {line.split()[0]: line.split() for line in dry.stdout.splitlines()[1:] if line.split()[0] in names}
    assert set(rows) == set(names) and int(rows["single-fpb"][2]) > 0
    assert "training rate:" in dry.stdout and "evaluation time: not measured yet" in dry.stdout
    assert int(rows["pair-fpb+ner_cls"][2]) > int(rows["single-fpb"][2])

    # the shared smoke sweep (conftest.smoke_sweep): resumed after a kill, with the zero-shot run's evaluation
    # killed midway (its DONE.json gone, its temp dir left behind): that evaluation is redone cleanly
    d, resumed = smoke_sweep.dir, smoke_sweep.resumed
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "2 run(s) completed now" in resumed.stdout
    zero, single = d / "runs" / "zero-shot", d / "runs" / "single-fpb"
    assert not smoke_sweep.stale.exists() and (zero / "DONE.json").exists()
    assert not list((zero / "eval").rglob("half-written.json"))
    assert (single / "DONE.json").exists() and (single / "merged" / "config.json").exists()
    stored = yaml.safe_load((single / "eval" / "recipe.yaml").read_text())
    assert stored["name"] == "single-fpb" and (single / "eval" / "train_summary.json").exists()
    assert list((single / "eval").rglob("results_*.json")) and list((single / "eval").rglob("samples_*.jsonl"))
    # a finished sweep is skipped
    again = smoke_sweep.again
    assert again.returncode == 0, again.stderr[-3000:]
    assert "zero-shot: done, skipped" in again.stdout and "single-fpb: done, skipped" in again.stdout
    assert "0 run(s) completed now" in again.stdout

    dry2 = subprocess.run(SWEEP + ["run", str(d), "--dry-run"], env=env(), capture_output=True, text=True)
    assert "median of 1 finished run(s)" in dry2.stdout and " done" in dry2.stdout
    # the evaluation time is measured on the fine-tuned run's evaluation, not the base model's
    assert "prompt tokens/s, median of 1 finished evaluation(s) of this sweep\n" in dry2.stdout + "\n"

    # the report: scores with CIs for both runs, the single-task run paired against the zero-shot base
    rep = subprocess.run(
        SWEEP + ["report", str(d), "-o", str(tmp_path / "RESULTS.md")], env=env(), capture_output=True, text=True
    )
    assert rep.returncode == 0, rep.stderr
    lines = rep.stdout.splitlines()
    assert any(line.startswith("| zero-shot | ") for line in lines)
    section = rep.stdout.split("Δ(run − zero-shot)")[1]
    row = next(line for line in section.splitlines() if line.startswith("| single-fpb | "))
    assert re.search(r"[+-]\d\.\d{3} \[[+-]\d\.\d{3}, [+-]\d\.\d{3}\]", row), row
    assert (tmp_path / "RESULTS.md").read_text() == rep.stdout


@pytest.mark.slow
def test_sweep_killed_between_train_and_eval_resumes_without_retraining(smoke_sweep):
    """docs/RELIABILITY.md #17: a run killed after its training (and again during its export) is exported and
    evaluated on resume, never retrained (a retrain would overwrite its measured throughput)."""
    killed = smoke_sweep.killed
    assert killed.returncode == -signal.SIGKILL, "".join(killed.lines[-40:])
    files = smoke_sweep.after_kill
    assert "single-fpb/merged/config.json" in files and "single-fpb/train_summary.json" in files
    assert "single-fpb/DONE.json" not in files and "single-fpb/eval" not in files
    resumed, run = smoke_sweep.resumed, smoke_sweep.dir / "runs" / "single-fpb"
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "single-fpb: trained; exporting the merged model" in resumed.stdout
    assert "[finetune]" not in resumed.stdout and "resuming from" not in resumed.stdout  # not retrained
    assert (run / "train_summary.json").read_text() == smoke_sweep.summary  # its measured throughput is kept
    assert (run / "DONE.json").exists() and list((run / "eval").rglob("results_*.json"))
    assert json.loads((run / "DONE.json").read_text())["name"] == "single-fpb"


STUDY = ROOT / "finetune" / "recipes" / "study" / "plan.yaml"


def test_study_plan_is_recipes_times_seeds_with_their_own_evaluations(tmp_path):
    entries = sweep.plan_study(STUDY, tmp_path)
    by_name = {e["name"]: e for e in entries}
    assert entries[0]["name"] == sweep.BASE_RUN and len(by_name) == len(entries)
    for name in (
        "single_fpb",
        "single_fiqa_sa",
        "single_tfns",
        "cocktail",
        "cocktail_general",
        "cocktail_general_math",
    ):  # the seed study: >= 3 training seeds
        assert {by_name[f"{name}-seed{s}"]["seed"] for s in (1, 2, 3)} == {1, 2, 3}
    run = recipe.load(tmp_path / by_name["single_fpb-seed2"]["recipe"])
    # the run's recipe: the recipe's own name (runs group by it), its seed, its output dir in the sweep
    assert (run.name, run.seed, run.out) == ("single_fpb", 2, tmp_path / "runs" / "single_fpb-seed2")
    single = recipe.load(ROOT / "finetune" / "recipes" / "study" / "single_fpb.yaml")
    assert run.training == {**single.training, "seed": 2} and run.mixture == single.mixture
    # equal per-task budgets in singles and cocktails
    cocktail = recipe.load(ROOT / "finetune" / "recipes" / "study" / "cocktail.yaml")
    for part in cocktail.mixture.tasks:
        alone = recipe.load(ROOT / "finetune" / "recipes" / "study" / f"single_{part.task}.yaml")
        assert alone.mixture.tasks == (part,) and by_name[f"single_{part.task}-seed1"]["eval_tasks"] == [
            f"finbench_{part.task}"
        ]
    assert set(by_name["cocktail-seed1"]["eval_tasks"]) == {f"finbench_{p.task}" for p in cocktail.mixture.tasks}
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["samples"] == {"finbench_headline": 1000, "finbench_tatqa": 1000}


def test_study_eval_args_take_the_runs_tasks_and_seeded_samples(tmp_path):
    sweep.plan_study(STUDY, tmp_path)
    plan = sweep.read_plan(tmp_path)
    runs = {e["name"]: e for e in plan["runs"]}
    args = sweep.eval_args_for(runs["cocktail-seed1"], plan, ["--model", "vllm", "--tasks", "finbench_all"])
    assert args[:2] == ["--model", "vllm"] and "finbench_all" not in args
    assert args[args.index("--tasks") + 1].split(",") == runs["cocktail-seed1"]["eval_tasks"]
    samples = json.loads(args[args.index("--samples") + 1])
    assert set(samples) == {"finbench_headline", "finbench_tatqa"} and samples["finbench_tatqa"] == list(range(1000))
    single = sweep.eval_args_for(runs["single_fpb-seed1"], plan, [])
    assert single == ["--tasks", "finbench_fpb"]  # a full test set: no sample
    with pytest.raises(RecipeError, match="drop --limit"):
        sweep.eval_args_for(runs["cocktail-seed1"], plan, ["--limit", "20"])


@pytest.mark.parametrize(
    "text, words",
    [
        ("runs: []\n", "a study file maps `runs`"),
        (
            "runs: [{recipe: cocktail.yaml, seeds: [1, 1], eval: [finbench_fpb]}]\nzero_shot: {eval: [finbench_fpb]}\n",
            "distinct integer training seeds",
        ),
        ("runs: [{recipe: cocktail.yaml, eval: []}]\nzero_shot: {eval: [finbench_fpb]}\n", "list the lm-eval tasks"),
        ("runs: [{recipe: cocktail.yaml, seeds: [1], eval: [finbench_fpb]}]\n", "zero_shot.eval"),
        (
            "runs: [{recipe: cocktail.yaml, seeds: [1], eval: [finbench_fpb]},"
            " {recipe: cocktail.yaml, seeds: [1], eval: [finbench_tfns]}]\nzero_shot: {eval: [finbench_fpb]}\n",
            "planned twice",
        ),
        (  # a stale block whose `samples:` lost its `#`: the later key used to win silently
            "samples: old text\nruns: [{recipe: cocktail.yaml, seeds: [1], eval: [finbench_fpb]}]\n"
            "zero_shot: {eval: [finbench_fpb]}\nsamples: {finbench_fpb: 10}\n",
            "found the key 'samples' twice \\(first at line 1\\)",
        ),
    ],
)
def test_bad_study_files_are_refused_before_anything_is_written(tmp_path, text, words):
    study = ROOT / "finetune" / "recipes" / "study"
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    for f in study.glob("cocktail*.yaml"):
        shutil.copy(f, tmp_path / f.name)
    with pytest.raises(RecipeError, match=words):
        sweep.plan_study(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_evaluation_time_is_a_fixed_cost_plus_a_token_rate():
    # the study's evaluations: ~67 s of engine start each, then ~820 prompt tokens/s; a 235-document run is mostly
    # start-up, so a median of rates would put the 8-task evaluation at 1.7x its measured time
    measured = [(t, 67 + t / 820) for t in (40_000, 90_000, 200_000, 1_900_000)]
    fixed, rate = sweep.eval_time_model(measured)
    assert fixed == pytest.approx(67) and rate == pytest.approx(820)
    assert sweep.eval_time_model([(1000, 10.0), (1000, 20.0), (1000, 40.0)]) == (0.0, 50.0)  # one size: the median
    assert sweep.eval_time_model([(1000, 100.0), (2000, 50.0)]) == (0.0, 25.0)  # a negative slope: the median rate
    assert sweep.eval_time_model([]) is None


def test_evaluation_time_is_measured_on_the_fine_tuned_runs_not_the_base(tmp_path):
    def finished(name, tasks, seconds):
        run = tmp_path / "runs" / name
        (run / "eval" / "model").mkdir(parents=True)
        (run / sweep.DONE).write_text(json.dumps({"name": name, "eval_args": ["--tasks", tasks]}))
        (run / "eval" / "model" / "results_1.json").write_text(json.dumps({"total_evaluation_time_seconds": seconds}))

    tokens = {"all": 1_900_000, "fpb": 110_000}
    (tmp_path / "plan.json").write_text(
        json.dumps({"runs": [{"name": "zero-shot", "recipe": None}, {"name": "a", "recipe": "a.yaml"}]})
    )
    finished("zero-shot", "all", 2381.0)  # the base writes long answers: 3.4x the fine-tuned time
    model, how = sweep.measured_eval_time(tmp_path, lambda args: tokens[args[1]])
    assert model == (0.0, pytest.approx(1_900_000 / 2381)) and "(the base model)" in how  # nothing else yet
    finished("a", "all", 708.0)
    finished("b", "fpb", 190.0)
    (fixed, rate), how = sweep.measured_eval_time(tmp_path, lambda args: tokens[args[1]])
    assert fixed + 1_900_000 / rate == pytest.approx(708.0) and "2 finished" in how and "base" not in how
