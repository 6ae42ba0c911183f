"""The task registry: one record per finbench lm-eval task, the one place that says what a task is.

Every per-task fact finbench's code needs is a field here: the data it loads (`finbench.data` loader key, the task
YAML's `dataset_kwargs.task`), the prompt and target formats (`finbench.prompts`), the answer parser
(`finbench.extract`), the label set, the metrics in `metric_list` order with their aggregations
(`finbench.metrics.AGGREGATIONS`) and the primary one (`score` equals it), the record fields that identify a test
document for the leakage guard, and its category (the innermost lm-eval group listing it). The task YAMLs are what
lm-eval reads; tests/test_registry.py checks each against its record through lm-eval's own YAML loader.

Group membership is what lm-eval reads from the group YAMLs (tasks/_finbench_*.yaml): `groups()` and `leaves()` read
them. This module is the bottom of the package: it imports only finbench.config, so the modules that implement
prompts, parsers, metrics, loaders and reports can all read it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from finbench.config import tasks_dir

__all__ = [
    "SENTIMENT_LABELS",
    "ENTITY_TYPE_LABELS",
    "YES_NO",
    "MMLU_LETTERS",
    "Metric",
    "Task",
    "TASKS",
    "get",
    "data_task",
    "data_tasks",
    "groups",
    "leaves",
    "data_behind",
    "SUITE",
    "KNOWLEDGE",
]

SENTIMENT_LABELS = ("negative", "neutral", "positive")
ENTITY_TYPE_LABELS = ("person", "organization", "location")
YES_NO = ("no", "yes")
MMLU_LETTERS = ("A", "B", "C", "D")

SUITE = "finbench_all"  # finbench_extended adds FinQA (its data is not distributed)
KNOWLEDGE = "finbench_knowledge"  # opt-in, not in finbench_all


@dataclass(frozen=True)
class Metric:
    """One entry of a task's lm-eval `metric_list`: the per-sample key, its aggregation (a name in
    finbench.metrics.AGGREGATIONS), and its direction."""

    name: str
    aggregation: str = "mean"
    higher_is_better: bool = True


@dataclass(frozen=True)
class Task:
    """One finbench lm-eval task.

    name      lm-eval task name (`finbench_fpb_mc`)
    data      finbench.data loader key, the YAML's `dataset_kwargs.task` (`fpb`); variants of one dataset share it
    category  leaderboard category = the innermost lm-eval group listing the task, without `finbench_`
    suite     the top group it belongs to: finbench_all (or finbench_extended for finqa) / finbench_knowledge
    prompt    prompt format, a key of finbench.prompts.PROMPTS
    target    reference-answer format (the training target), a key of finbench.prompts.TARGETS
    answer    answer parser, a key of finbench.extract.PARSERS; None for loglikelihood (multiple-choice) tasks
    labels    the label set a classification is scored over / the choices of a multiple-choice task
    metrics   the YAML's metric_list, in order (the per-sample keys process_results logs)
    primary   the metric `score` equals: the one papers report for the dataset
    document  the record field holding the document text (leakage guard text hash, decontam n-grams)
    report    (key prefix, record field) naming the source document of a QA record (a report page, a table), or None
    text_kind what the prompt calls the text (sentiment prompts only)
    """

    name: str
    data: str
    category: str
    suite: str
    prompt: str
    target: str
    answer: str | None
    labels: tuple[str, ...] | None
    metrics: tuple[Metric, ...]
    primary: str
    document: str
    report: tuple[str, str] | None = None
    text_kind: str = ""

    @property
    def multiple_choice(self) -> bool:
        return self.answer is None

    @property
    def higher_is_better(self) -> dict[str, bool]:
        return {m.name: m.higher_is_better for m in self.metrics}


def _m(*spec) -> tuple[Metric, ...]:
    """Metrics from `name` (mean, higher is better), `-name` (mean, lower is better) or (name, aggregation)."""
    out = []
    for s in spec:
        if isinstance(s, tuple):
            out.append(Metric(*s))
        elif s.startswith("-"):
            out.append(Metric(s[1:], "mean", False))
        else:
            out.append(Metric(s))
    return tuple(out)


def _classification(labels_name: str) -> tuple[Metric, ...]:
    return _m(
        "acc",
        ("macro_f1", f"macro_f1_{labels_name}"),
        ("weighted_f1", f"weighted_f1_{labels_name}"),
        ("mcc", f"mcc_{labels_name}"),
        "-missing",
        ("score", f"macro_f1_{labels_name}"),
    )


_HEADLINE = _m(
    "acc", ("avg_f1", "headline_avg_f1"), ("yes_f1", "headline_yes_f1"), "-missing", ("score", "headline_avg_f1")
)
_NUMERIC = _m("em", "exec_acc", "-missing", "score")
_MMLU = _m("acc", ("macro_f1", "macro_f1_letters"), "acc_accounting", "acc_econometrics", "acc_macro", "acc_micro")


def _sentiment(data: str, text_kind: str, mc: bool = False) -> Task:
    return Task(
        f"finbench_{data}{'_mc' if mc else ''}",
        data,
        "sentiment",
        SUITE,
        "sentiment",
        "label",
        None if mc else "sentiment",
        SENTIMENT_LABELS,
        _classification("sentiment"),
        "macro_f1",
        "text",
        text_kind=text_kind,
    )


def _headline(mc: bool = False) -> Task:
    return Task(
        f"finbench_headline{'_mc' if mc else ''}",
        "headline",
        "classification",
        SUITE,
        "headline",
        "label",
        None if mc else "yes_no",
        YES_NO,
        _HEADLINE,
        "avg_f1",
        "headline",
    )


def _ner_cls(mc: bool = False) -> Task:
    return Task(
        f"finbench_ner_cls{'_mc' if mc else ''}",
        "ner_cls",
        "classification",
        SUITE,
        "ner_cls",
        "label",
        None if mc else "entity_type",
        ENTITY_TYPE_LABELS,
        _classification("entity_type"),
        "macro_f1",
        "text",
    )


_ALL = [
    _sentiment("fpb", "financial news sentence"),
    _sentiment("fiqa_sa", "financial text"),
    _sentiment("tfns", "financial tweet"),
    _headline(),
    Task(
        "finbench_ner",
        "ner",
        "extraction",
        SUITE,
        "ner",
        "ner",
        "entities",
        None,
        _m(("entity_f1", "ner_entity_f1"), "doc_f1", "-missing", "-unplaced", ("score", "ner_entity_f1")),
        "entity_f1",
        "text",
    ),
    _ner_cls(),
    Task(
        "finbench_convfinqa",
        "convfinqa",
        "numeric_qa",
        SUITE,
        "numeric_qa",
        "numeric",
        "number",
        None,
        _NUMERIC,
        "exec_acc",
        "context",
        ("page", "doc_id"),
    ),
    Task(
        "finbench_tatqa",
        "tatqa",
        "numeric_qa",
        SUITE,
        "tatqa",
        "tatqa",
        "text",
        None,
        _m("em", "f1", "-missing", "score"),
        "f1",
        "context",
        ("table", "doc_id"),
    ),
    Task(
        "finbench_finqa",
        "finqa",
        "numeric_qa",
        "finbench_extended",
        "numeric_qa",
        "numeric",
        "number",
        None,
        _NUMERIC,
        "exec_acc",
        "context",
        ("page", "doc_id"),
    ),
    _sentiment("fpb", "financial news sentence", mc=True),
    _sentiment("fiqa_sa", "financial text", mc=True),
    _sentiment("tfns", "financial tweet", mc=True),
    _headline(mc=True),
    _ner_cls(mc=True),
    Task(
        "finbench_mmlu_finance",
        "mmlu_finance",
        "knowledge",
        KNOWLEDGE,
        "mmlu",
        "label",
        None,
        MMLU_LETTERS,
        _MMLU + _m("score"),
        "acc",
        "question",
    ),
    Task(
        "finbench_mmlu_finance_gen",
        "mmlu_finance",
        "knowledge",
        KNOWLEDGE,
        "mmlu_gen",
        "label",
        "letter",
        MMLU_LETTERS,
        _MMLU + _m("-missing", "score"),
        "acc",
        "question",
    ),
    Task(
        "finbench_financemath",
        "financemath",
        "knowledge",
        KNOWLEDGE,
        "financemath",
        "financemath",
        "number",
        None,
        _m("acc", "acc_strict", "-missing", "score"),
        "acc",
        "question",
    ),
    Task(
        "finbench_financebench",
        "financebench",
        "knowledge",
        KNOWLEDGE,
        "financebench",
        "financebench",
        "number_or_reply",
        None,
        _m("numeric_acc", ("judge_acc", "judge_mean"), "-missing", "score"),
        "score",
        "question",
    ),
]

TASKS: dict[str, Task] = {t.name: t for t in _ALL}


def get(name: str) -> Task:
    """The task named `name`: an lm-eval task name (`finbench_fpb_mc`) or the short name of a generative task as
    fine-tuning recipes and `finbench.prompts.prompt` use it (`fpb` -> finbench_fpb, `mmlu_finance_gen`)."""
    found = TASKS.get(name) or TASKS.get(f"finbench_{name}")
    if found is None:
        raise KeyError(f"unknown finbench task {name!r}; known: {', '.join(TASKS)}")
    return found


def data_task(name: str) -> str:
    """The finbench.data loader key behind a task name (`finbench_fpb_mc` -> `fpb`)."""
    return get(name).data


def data_tasks(*suites: str) -> tuple[str, ...]:
    """The data sets behind the tasks of the given suites (all when none), in registry order, each once."""
    return tuple(dict.fromkeys(t.data for t in _ALL if not suites or t.suite in suites))


@functools.lru_cache(maxsize=1)
def groups() -> dict[str, tuple[str, ...]]:
    """Every finbench lm-eval group -> its members (tasks or groups), as the group YAMLs in tasks/ list them."""
    import yaml

    out = {}
    for f in sorted(tasks_dir().glob("_finbench_*.yaml")):
        cfg = yaml.safe_load(f.read_text())
        out[cfg["group"]] = tuple(cfg["task"])
    return out


def leaves(names: list[str]) -> list[str]:
    """The task names behind lm-eval task/group names (finbench groups expanded, recursively, in order, each once);
    other names pass through."""
    out: dict[str, None] = {}

    def walk(name: str) -> None:
        if name in groups():
            for child in groups()[name]:
                walk(child)
        else:
            out[name] = None

    for n in names:
        walk(n)
    return list(out)


def data_behind(names: list[str]) -> list[str]:
    """The finbench.data sets that lm-eval task/group names read (names that are not finbench tasks: none)."""
    return list(dict.fromkeys(TASKS[n].data for n in leaves(names) if n in TASKS))
