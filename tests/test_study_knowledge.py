"""The study's knowledge comparison through `finbench study report` (finbench.finetune.report over finbench.compare),
on tests/fixtures/recorded/knowledge: the layout the study's `knowledge` job writes (`<run>/mmlu`, `<run>/gen`, each
an lm-eval output dir, the run's recipe.yaml beside each), a real zero-shot recording of the default model with
every data text stripped and fake fine-tuned runs derived from it (derive_knowledge.py). Values are checked against
independent computations over the samples files: a model's two output dirs are one run, Δ vs zero-shot is the mean
of the per-document differences, the MMLU majority letter is the most common gold letter, FinanceBench without a
judge counts the numeric questions only, and the published FinanceMath rows never enter a Δ."""

from __future__ import annotations

import gzip
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from conftest import cli
from finbench import compare
from finbench.finetune import report

KNOWLEDGE = Path(__file__).resolve().parent / "fixtures" / "recorded" / "knowledge"
RUNS = ["zero-shot", "single_fpb-seed1", "cocktail-seed1", "cocktail_general-seed1", "cocktail_general_math-seed1"]
CONFIGS = ["zero-shot", "single_fpb", "cocktail", "cocktail_general", "cocktail_general_math"]
TASKS = {"finbench_mmlu_finance", "finbench_financemath", "finbench_financebench"}
SUBJECTS = {
    "acc_accounting": "professional_accounting",
    "acc_econometrics": "econometrics",
    "acc_macro": "high_school_macroeconomics",
    "acc_micro": "high_school_microeconomics",
}


def samples(run: str, task: str) -> dict[int, dict]:
    """doc_id -> the logged sample, read straight from the gzipped samples file (not through finbench.results)."""
    part = "mmlu" if task == "finbench_mmlu_finance" else "gen"
    (f,) = (KNOWLEDGE / run / part).rglob(f"samples_{task}_*.jsonl.gz")
    return {r["doc_id"]: r for r in map(json.loads, gzip.decompress(f.read_bytes()).splitlines())}


def mean_item(run: str, task: str, metric: str) -> tuple[float, set[int]]:
    rows = samples(run, task)
    docs = {d for d, r in rows.items() if metric in r}
    return float(np.mean([rows[d][metric] for d in docs])), docs


@pytest.fixture(scope="module")
def study():
    runs, notes = report.load_runs([KNOWLEDGE / r for r in RUNS])
    return report.study(runs, notes=notes)


def test_a_models_output_dirs_are_one_run_and_the_base_its_own_configuration(study):
    runs, notes = report.load_runs([KNOWLEDGE / r for r in RUNS])
    assert notes == []
    assert [r.name for r in runs] == RUNS
    assert all(set(r.run.samples) == TASKS for r in runs)
    assert all(len(r.run.results["finbench_parts"]) == 2 for r in runs)
    assert [c.name for c in study.configs] == CONFIGS  # the base first, then single-task, then multi-task
    assert [c.seeds for c in study.configs] == [[None], [1], [1], [1], [1]]
    assert report.base_config(study).name == "zero-shot" and study.configs[0].recipe is None
    assert set(study.tasks) == TASKS
    # the parent dir as one RUN_DIR reads the same runs
    again, _ = report.load_runs([KNOWLEDGE])
    assert sorted(r.name for r in again) == sorted(RUNS)
    assert all(set(r.run.samples) == TASKS for r in again)


def test_a_recipe_seen_twice_on_the_same_task_is_refused_not_merged(tmp_path):
    run = tmp_path / "cocktail-seed1"
    shutil.copytree(KNOWLEDGE / "cocktail-seed1", run)
    shutil.copytree(run / "mmlu", run / "mmlu-again")
    runs, _ = report.load_runs([run])
    assert sorted(len(r.run.samples) for r in runs) == [1, 1, 2]  # nothing merged: the tasks overlap
    with pytest.raises(compare.CompareError, match="seed 1 appears twice"):
        compare.configurations(runs)


@pytest.mark.parametrize(
    "task,metric",
    [
        ("finbench_mmlu_finance", "acc"),
        *(("finbench_mmlu_finance", m) for m in SUBJECTS),
        ("finbench_financemath", "acc"),
        ("finbench_financebench", "numeric_acc"),
    ],
)
def test_delta_vs_zero_shot_is_the_mean_per_document_difference(study, task, metric):
    found = [s for t, m, s in report.knowledge_scores(study) if (t, m) == (task, metric)]
    if not any(metric in r for r in samples("zero-shot", task).values()):  # no question of that subject sampled
        assert found == []
        return
    (sc,) = found
    base, docs = mean_item("zero-shot", task, metric)
    assert sc["zero-shot"].value == pytest.approx(base) and sc["zero-shot"].n == len(docs)
    for run, config in zip(RUNS[1:], CONFIGS[1:]):
        z, b = samples("zero-shot", task), samples(run, task)
        diff = np.mean([b[d][metric] - z[d][metric] for d in docs])
        d = compare.config_delta(sc[config], sc["zero-shot"])
        assert d.value == pytest.approx(diff) and d.n == len(docs)
        assert d.lo - 1e-12 <= d.value <= d.hi + 1e-12
    if metric in SUBJECTS:  # the subject's questions only
        assert {d for d, r in samples("zero-shot", task).items() if r.get(metric) is not None} == docs
        assert len(docs) < len(samples("zero-shot", task))


def test_majority_letter_is_the_most_common_gold_letter(study):
    rows = samples("zero-shot", "finbench_mmlu_finance")
    golds = [r["macro_f1"][0] for r in rows.values()]
    letter, count = Counter(golds).most_common(1)[0]
    zs = study.scores["finbench_mmlu_finance"]["zero-shot"]
    maj = report.majority_of(study, "finbench_mmlu_finance", zs)
    assert maj.metric == "score" and maj.label == letter and maj.value == pytest.approx(count / len(golds))
    assert maj.lo <= maj.value <= maj.hi and len(maj.boot) == len(zs.boot)
    # paired against a run: the mean of the per-document differences
    d = compare.config_delta(zs, maj)
    assert d.value == pytest.approx(np.mean([r["acc"] - (r["macro_f1"][0] == letter) for r in rows.values()]))
    # per subject: that subject's most common gold letter
    for metric, subject in SUBJECTS.items():
        sub = [r for r in rows.values() if metric in r]
        if not sub:
            continue
        like = compare.study_scores(study.configs, "finbench_mmlu_finance", metric)["zero-shot"]
        m = report.majority_of(study, "finbench_mmlu_finance", like)
        top = Counter(r["macro_f1"][0] for r in sub).most_common(1)[0][1]
        assert m.value == pytest.approx(top / len(sub)), subject
    # no gold labels, no majority (FinanceMath's items are 0/1 with no label pairs)
    fm = study.scores["finbench_financemath"]["zero-shot"]
    assert report.majority_of(study, "finbench_financemath", fm) is None


def test_knowledge_report_tables(tmp_path):
    proc = cli("study", "report", *(KNOWLEDGE / r for r in RUNS), "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert (tmp_path / report.TABLES).read_text() == text
    conf = text.split("Configurations:")[1].split("\n\n")[1].splitlines()
    assert [line.split(" | ")[0].strip("| ") for line in conf[2:]] == CONFIGS
    assert "| zero-shot | 1 | zero-shot | – | (no recipe: not fine-tuned) |" in conf
    assert "- cocktail_general_math-seed1: `gen/`, `mmlu/`" in text
    # FinanceBench without a judge: the numeric questions only, counted from the samples
    fb = samples("zero-shot", "finbench_financebench")
    numeric = sum("score" in r for r in fb.values())
    assert 0 < numeric < len(fb)
    assert (
        f"financebench, judge off (`judge: none`, every run): its score is the numeric subset only, {numeric} of "
        f"the {len(fb)} questions evaluated"
    ) in text
    # every knowledge metric per configuration, with the majority letter beside MMLU's
    know = text.split("Domain knowledge (finbench_knowledge")[1].split("\n\n")[1].splitlines()
    assert know[0] == "| task | metric | n | " + " | ".join(CONFIGS) + " | majority |"
    acc = next(line for line in know if line.startswith("| mmlu_finance | acc | 8 |"))
    golds = Counter(r["macro_f1"][0] for r in samples("zero-shot", "finbench_mmlu_finance").values())
    letter, count = golds.most_common(1)[0]
    assert acc.split(" | ")[-1].startswith(f"{count / 8:.3f} [") and acc.endswith(f"(`{letter}`) |")
    assert any(line.startswith("| financebench | numeric_acc | " + str(numeric) + " |") for line in know)
    assert not any("judge_acc" in line for line in know)  # not logged without a judge
    # Δ vs zero-shot per metric: the cocktail_general_math fake run is right on every MMLU question
    delta = text.split("Domain knowledge: Δ(configuration − zero-shot)")[1].split("\n\n")[1].splitlines()
    z_acc, _ = mean_item("zero-shot", "finbench_mmlu_finance", "acc")
    row = next(line for line in delta if line.startswith("| mmlu_finance | acc | 8 |"))
    assert row.split(" | ")[-1].startswith(f"{1 - z_acc:+.3f} [")
    # the published FinanceMath rows: reference rows marked published, never in a Δ table
    for model, value in (
        ("gpt-4o", "0.550"),
        ("Phi-3-mini-4k-instruct", "0.165"),
        ("Meta-Llama-3.1-8B-Instruct", "0.160"),
    ):
        assert f"| **{model}** (published) | financemath | acc | {value} |" in text
    refs_at = text.index("Reference rows")
    assert "(published)" not in text[:refs_at]
    # the share pairs of the study: + general, + math
    assert "| + general | cocktail_general − cocktail |" in text
    assert "| + math | cocktail_general_math − cocktail_general |" in text
    # answer distributions: MMLU's chosen letters (not its loglikelihoods), FinanceBench's numeric questions only
    dist = text.split("Answer distributions")[1]
    zs_mmlu = next(line for line in dist.splitlines() if line.startswith("| mmlu_finance | zero-shot | 8 |"))
    assert "`A`" in zs_mmlu or "`B`" in zs_mmlu or "`C`" in zs_mmlu or "`D`" in zs_mmlu
    assert "[" not in zs_mmlu.split(" | ")[-1]
    assert any(line.startswith(f"| financebench | zero-shot | {numeric} |") for line in dist.splitlines())


def test_majority_score_of_accuracy_items_needs_gold_labels():
    from finbench import results

    items = results.Items("t", "acc", "none", "mean", results.aggregation_fn("mean"), [1, 0, 0, 1], list("abcd"), True)
    like = compare.StudyScore("x", "t", "acc", "none", True, 4, [0.5], 0.5, 0, 1, np.zeros(100), items)
    assert compare.majority_score(like) is None
    m = compare.majority_score(like, golds=["B", "A", "B", "C"])
    assert (m.label, m.value, m.items.items) == ("B", 0.5, [1, 0, 1, 0])
    assert compare.majority_score(like, golds=["A"]) is None  # not one gold per document
