"""The task registry: one record per finbench lm-eval task, the one place that says what a task is.

Every per-task fact finbench's code needs is a field here: the data it loads (`finbench.data` loader key, the task
YAML's `dataset_kwargs.task`), the prompt and target formats (`finbench.prompts`), the answer parser
(`finbench.extract`), the label set, the metrics in `metric_list` order, each with its per-sample function
(`finbench.metrics.SAMPLES`: what process_results logs), its corpus aggregation (`finbench.metrics.AGGREGATIONS`)
and its direction, the primary one (`score` equals it), the record fields that identify a test
document for the leakage guard, and its category (the innermost lm-eval group listing it). The task YAMLs are what
lm-eval reads; tests/test_registry.py checks each against its record through lm-eval's own YAML loader.

Group membership is what lm-eval reads from the group YAMLs (tasks/_finbench_*.yaml): `groups()` and `leaves()` read
them. This module is the bottom of the package: it imports only finbench.config, so the modules that implement
prompts, parsers, metrics, loaders and reports can all read it.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

from finbench.config import tasks_dir

__all__ = [
    "SENTIMENT_LABELS",
    "ENTITY_TYPE_LABELS",
    "YES_NO",
    "MMLU_LETTERS",
    "Metric",
    "MISSING_RATE",
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
    """One entry of a task's lm-eval `metric_list` (lighteval-style): the per-sample key, the per-sample function that
    computes its item from a document and the parsed answer (a name in finbench.metrics.SAMPLES), the corpus
    aggregation over those items (a name in finbench.metrics.AGGREGATIONS) and its direction."""

    name: str
    sample: str
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
    metrics   the YAML's metric_list, in order: what process_results logs per sample and how it is aggregated
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


MISSING_RATE = Metric("missing", "missing", higher_is_better=False)  # share of replies the parser could not read


def _scored(primary: str, *metrics: Metric) -> tuple[Metric, ...]:
    """`metrics` and, last, `score`: the primary metric again (the common key lm-eval's group averages read)."""
    main = next(m for m in metrics if m.name == primary)
    return (*metrics, Metric("score", main.sample, main.aggregation))


def _classification(labels: str) -> tuple[Metric, ...]:
    return _scored(
        "macro_f1",
        Metric("acc", "label_acc"),
        Metric("macro_f1", "label_pair", f"macro_f1_{labels}"),
        Metric("weighted_f1", "label_pair", f"weighted_f1_{labels}"),
        Metric("mcc", "label_pair", f"mcc_{labels}"),
        MISSING_RATE,
    )


_HEADLINE_METRICS = _scored(
    "avg_f1",
    Metric("acc", "label_acc"),
    Metric("avg_f1", "headline_item", "headline_avg_f1"),
    Metric("yes_f1", "headline_item", "headline_yes_f1"),
    MISSING_RATE,
)
_NUMERIC = _scored("exec_acc", Metric("em", "numeric_em"), Metric("exec_acc", "exec_acc"), MISSING_RATE)
_MMLU = (
    Metric("acc", "label_acc"),
    Metric("macro_f1", "label_pair", "macro_f1_letters"),
    Metric("acc_accounting", "acc_professional_accounting"),
    Metric("acc_econometrics", "acc_econometrics"),
    Metric("acc_macro", "acc_high_school_macroeconomics"),
    Metric("acc_micro", "acc_high_school_microeconomics"),
)


def _sentiment(data: str, text_kind: str) -> Task:
    return Task(
        name=f"finbench_{data}",
        data=data,
        category="sentiment",
        suite=SUITE,
        prompt="sentiment",
        target="label",
        answer="sentiment",
        labels=SENTIMENT_LABELS,
        metrics=_classification("sentiment"),
        primary="macro_f1",
        document="text",
        text_kind=text_kind,
    )


def _mc(task: Task) -> Task:
    """The multiple-choice variant of a classification task: its data, prompt, labels and metrics, each label
    continuation scored by loglikelihood instead of a generated answer."""
    return dataclasses.replace(task, name=f"{task.name}_mc", answer=None)


def _numeric_qa(data: str, suite: str = SUITE) -> Task:
    return Task(
        name=f"finbench_{data}",
        data=data,
        category="numeric_qa",
        suite=suite,
        prompt="numeric_qa",
        target="numeric",
        answer="number",
        labels=None,
        metrics=_NUMERIC,
        primary="exec_acc",
        document="context",
        report=("page", "doc_id"),
    )


_FPB = _sentiment("fpb", "financial news sentence")
_FIQA_SA = _sentiment("fiqa_sa", "financial text")
_TFNS = _sentiment("tfns", "financial tweet")
_HEADLINE = Task(
    name="finbench_headline",
    data="headline",
    category="classification",
    suite=SUITE,
    prompt="headline",
    target="label",
    answer="yes_no",
    labels=YES_NO,
    metrics=_HEADLINE_METRICS,
    primary="avg_f1",
    document="headline",
)
_NER_CLS = Task(
    name="finbench_ner_cls",
    data="ner_cls",
    category="classification",
    suite=SUITE,
    prompt="ner_cls",
    target="label",
    answer="entity_type",
    labels=ENTITY_TYPE_LABELS,
    metrics=_classification("entity_type"),
    primary="macro_f1",
    document="text",
)

_ALL = [
    _FPB,
    _FIQA_SA,
    _TFNS,
    _HEADLINE,
    Task(
        name="finbench_ner",
        data="ner",
        category="extraction",
        suite=SUITE,
        prompt="ner",
        target="ner",
        answer="entities",
        labels=None,
        metrics=_scored(
            "entity_f1",
            Metric("entity_f1", "ner_tags", "ner_entity_f1"),
            Metric("doc_f1", "ner_doc_f1"),
            MISSING_RATE,
            Metric("unplaced", "ner_unplaced", higher_is_better=False),
        ),
        primary="entity_f1",
        document="text",
    ),
    _NER_CLS,
    _numeric_qa("convfinqa"),
    Task(
        name="finbench_tatqa",
        data="tatqa",
        category="numeric_qa",
        suite=SUITE,
        prompt="tatqa",
        target="tatqa",
        answer="text",
        labels=None,
        metrics=_scored("f1", Metric("em", "tatqa_em"), Metric("f1", "tatqa_f1"), MISSING_RATE),
        primary="f1",
        document="context",
        report=("table", "doc_id"),
    ),
    _numeric_qa("finqa", suite="finbench_extended"),
    *map(_mc, [_FPB, _FIQA_SA, _TFNS, _HEADLINE, _NER_CLS]),
    Task(
        name="finbench_mmlu_finance",
        data="mmlu_finance",
        category="knowledge",
        suite=KNOWLEDGE,
        prompt="mmlu",
        target="label",
        answer=None,
        labels=MMLU_LETTERS,
        metrics=_scored("acc", *_MMLU),
        primary="acc",
        document="question",
    ),
    Task(
        name="finbench_mmlu_finance_gen",
        data="mmlu_finance",
        category="knowledge",
        suite=KNOWLEDGE,
        prompt="mmlu_gen",
        target="label",
        answer="letter",
        labels=MMLU_LETTERS,
        metrics=_scored("acc", *_MMLU, MISSING_RATE),
        primary="acc",
        document="question",
    ),
    Task(
        name="finbench_financemath",
        data="financemath",
        category="knowledge",
        suite=KNOWLEDGE,
        prompt="financemath",
        target="financemath",
        answer="number",
        labels=None,
        metrics=_scored(
            "acc", Metric("acc", "financemath_acc"), Metric("acc_strict", "financemath_strict"), MISSING_RATE
        ),
        primary="acc",
        document="question",
    ),
    Task(
        name="finbench_financebench",
        data="financebench",
        category="knowledge",
        suite=KNOWLEDGE,
        prompt="financebench",
        target="financebench",
        answer="number_or_reply",
        labels=None,
        # numeric questions score by the numeric-QA rule; open ones by the judge (--metadata), or not at all
        metrics=(
            Metric("numeric_acc", "financebench_numeric"),
            Metric("judge_acc", "judge_verdict", "judge_mean"),
            MISSING_RATE,
            Metric("score", "financebench_score"),
        ),
        primary="score",
        document="question",
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
