"""finbench.registry against what lm-eval reads: every task YAML (resolved by lm-eval's own YAML loader: includes
merged, `!function` tags imported) states what the task's registry record says, and the group YAMLs list only
registry tasks, each under its category's group."""

from __future__ import annotations

import pytest

from conftest import ROOT
from finbench import extract, metrics, prompts, registry

TASK_FILES = sorted((ROOT / "tasks").glob("finbench_*.yaml"))


def _config(name: str) -> dict:
    from lm_eval.tasks._yaml_loader import load_yaml  # imports lm_eval.tasks: in this module's worker only

    return load_yaml(ROOT / "tasks" / f"{name}.yaml")


def test_every_task_yaml_has_a_record_and_every_record_a_yaml():
    assert sorted(f.stem for f in TASK_FILES) == sorted(registry.TASKS)


@pytest.mark.parametrize("name", sorted(registry.TASKS))
def test_yaml_states_what_the_record_says(name):
    task, cfg = registry.TASKS[name], _config(name)
    assert cfg["task"] == name
    assert cfg["dataset_kwargs"] == {"task": task.data}
    assert cfg["output_type"] == ("multiple_choice" if task.multiple_choice else "generate_until")
    declared = [(m["metric"], str(m["aggregation"]), m["higher_is_better"]) for m in cfg["metric_list"]]
    assert declared == [(m.name, m.aggregation, m.higher_is_better) for m in task.metrics]
    for m in cfg["metric_list"]:  # the YAML's aggregation objects are the registry's
        assert m["aggregation"] == "mean" or m["aggregation"] is metrics.AGGREGATIONS[m["aggregation"].name]
    score = next(m for m in cfg["metric_list"] if m["metric"] == "score")
    primary = next(m for m in cfg["metric_list"] if m["metric"] == task.primary)
    assert str(score["aggregation"]) == str(primary["aggregation"])  # score is the primary metric
    # process_results is the glue's per-task function over the record's per-sample functions
    assert cfg["process_results"].__name__ == f"results_{name.removeprefix('finbench_')}"
    if task.multiple_choice:
        assert tuple(cfg["doc_to_choice"]) == task.labels
        assert "filter_fn" not in str(cfg.get("filter_list"))
    else:
        assert task.answer in extract.PARSERS or task.answer == "number_or_reply"
        assert cfg["filter_list"][0]["name"] == "extracted"
    assert task.prompt in prompts.PROMPTS and task.target in prompts.TARGETS
    assert cfg["metadata"]["version"] == (1.0 if task.suite == registry.KNOWLEDGE else 2.0)


@pytest.mark.parametrize("name", sorted(registry.TASKS))
def test_every_metric_names_a_per_sample_function_and_an_aggregation(name):
    task = registry.TASKS[name]
    for m in task.metrics:
        assert m.sample in metrics.SAMPLES and m.aggregation in metrics.AGGREGATIONS, m
    primary = next(m for m in task.metrics if m.name == task.primary)
    score = next(m for m in task.metrics if m.name == "score")
    assert (score.sample, score.aggregation, score.higher_is_better) == (
        primary.sample,
        primary.aggregation,
        primary.higher_is_better,
    )
    assert len({m.name for m in task.metrics}) == len(task.metrics)


def test_every_per_sample_function_is_used():
    used = {m.sample for t in registry.TASKS.values() for m in t.metrics}
    assert used == set(metrics.SAMPLES)


def test_groups_list_registry_tasks_under_their_category():
    groups = registry.groups()
    leaves = {leaf for g in groups for leaf in registry.leaves([g])}
    assert leaves == set(registry.TASKS)
    for category in {t.category for t in registry.TASKS.values()} - {"knowledge"}:
        members = set(groups[f"finbench_{category}"])
        assert all(registry.TASKS[m].category == category for m in members)
        assert members == {
            t.name
            for t in registry.TASKS.values()
            if t.category == category and t.suite == registry.SUITE and not t.multiple_choice
        }
    assert set(registry.leaves(["finbench_all"])) == {
        t.name for t in registry.TASKS.values() if t.suite == registry.SUITE and not t.multiple_choice
    }


def test_names_resolve_to_records_and_data():
    assert registry.get("fpb") is registry.get("finbench_fpb") is registry.TASKS["finbench_fpb"]
    assert registry.get("mmlu_finance_gen").answer == "letter"
    assert registry.data_task("finbench_ner_cls_mc") == "ner_cls"
    assert registry.data_behind(["finbench_all_mc", "hellaswag"]) == ["fpb", "fiqa_sa", "tfns", "headline", "ner_cls"]
    with pytest.raises(KeyError, match="unknown finbench task 'fbp'"):
        registry.get("fbp")


@pytest.mark.parametrize("name", ["finbench_fpb", "finbench_headline_mc", "finbench_ner", "finbench_financebench"])
def test_results_files_name_each_aggregation_so_results_resolves_it(name):
    """What lm-eval writes into a results file's `configs` (TaskConfig.to_dict) names every aggregation in a form
    finbench.results resolves back to the registry's (a dataclass would be dumped as a dict of its fields)."""
    from lm_eval.config.task import TaskConfig

    from finbench import results

    dumped = TaskConfig(**_config(name)).to_dict()["metric_list"]
    for m, spec in zip(dumped, registry.TASKS[name].metrics):
        assert results.aggregation_fn(results._agg_name(m["aggregation"])) is metrics.AGGREGATIONS[spec.aggregation]
