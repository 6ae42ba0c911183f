"""Registry of finbench's data loaders: TASKS, load_splits(task) -> Splits (canonical records + deterministic splits).

load_splits returns each test split in its evaluation order (finbench.data.order: seeded and label-stratified, so the
first N documents, what `lm_eval --limit N` takes, are a sample); published_splits keeps the loaders' file order.

The data directory is `finbench.config.data_dir()` ($FINBENCH_DATA_DIR; `sample` selects the synthetic sample sets
shipped in finbench/data/samples/, `hf` the optional hub path for fpb/tfns). See docs/DATA.md.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path

from finbench import registry
from finbench.config import DATA_ENV, DataError, data_dir

from . import (
    convfinqa,
    financebench,
    financemath,
    finqa,
    fiqa_sa,
    fpb,
    general,
    headline,
    mmlu_finance,
    ner,
    tatqa,
    tfns,
)
from . import math as gsm8k
from ._common import Problem, Splits, format_number
from .order import test_order

__all__ = [
    "TASKS",
    "TRAIN_ONLY",
    "KNOWLEDGE",
    "ALL_TASKS",
    "load_splits",
    "published_splits",
    "resolve",
    "Splits",
    "Problem",
    "DataError",
    "format_number",
    "check_tasks",
]

TASKS = registry.data_tasks(registry.SUITE, "finbench_extended")  # fpb … finqa: the suite (finbench_extended)
TRAIN_ONLY = ("general", "math")  # fine-tuning mixtures: a `train` split only, records {id, messages}
ALL_TASKS = TASKS + TRAIN_ONLY
# domain-knowledge sets (group finbench_knowledge, not in finbench_all): test only (+ MMLU's val/dev)
KNOWLEDGE = registry.data_tasks(registry.KNOWLEDGE)  # mmlu_finance, financemath, financebench

LOADERS: dict[str, Callable[[Path], Splits]] = {
    "fpb": fpb.load,
    "fiqa_sa": fiqa_sa.load,
    "tfns": tfns.load,
    "headline": headline.load,
    "ner": ner.load,
    "ner_cls": ner.load_cls,
    "convfinqa": convfinqa.load,
    "tatqa": tatqa.load,
    "finqa": finqa.load,
    "general": general.load,
    "math": gsm8k.load,
    "mmlu_finance": mmlu_finance.load,
    "financemath": financemath.load,
    "financebench": financebench.load,
}
HF = "hf"


def resolve(value: str | os.PathLike | None = None) -> str:
    """The resolved data dir as a string (the cache key): `hf`, or an absolute directory path."""
    raw = str(value) if value is not None else os.environ.get(DATA_ENV, "")
    if raw == HF:
        return HF
    return str(data_dir(value))


@functools.cache
def _load(task: str, root: str) -> Splits:
    if root == HF:
        from .hub import load_hub_raw

        return load_hub_raw(task)
    return LOADERS[task](Path(root))


@functools.cache
def _ordered(task: str, root: str) -> Splits:
    raw = _load(task, root)
    splits = dict(raw.splits)
    if splits.get("test"):
        splits["test"] = test_order(task, splits["test"])
    return Splits(splits=splits, problems=raw.problems, files=raw.files)


def _copy(cached: Splits) -> Splits:
    return Splits(
        splits={name: [dict(r) for r in rows] for name, rows in cached.splits.items()},
        problems=list(cached.problems),
        files=list(cached.files),
    )


def _check_task(task: str) -> None:
    if task not in LOADERS:
        raise DataError(f"unknown finbench data task {task!r}; known: {', '.join(ALL_TASKS + KNOWLEDGE)}")


def published_splits(task: str, data_dir: str | os.PathLike | None = None) -> Splits:
    """Like load_splits, with the test split in the loader's order (the published file's order, e.g. FinGPT's
    test files position by position). For checks against the sources; evaluation uses load_splits."""
    _check_task(task)
    return _copy(_load(task, resolve(data_dir)))


def load_splits(task: str, data_dir: str | os.PathLike | None = None) -> Splits:
    """Canonical records of `task` split into train/dev/test (train only for `general`/`math`).

    The test split comes in evaluation order (finbench.data.order.test_order: seeded, label-stratified; the same
    documents as the published split). Parsed once per (task, resolved data dir) in this process; each call returns
    fresh lists and record dicts (nested values such as token lists are shared with the cache: do not mutate them).
    Raises DataError (message names FINBENCH_DATA_DIR, the expected file and where to get it) when data is missing.
    """
    _check_task(task)
    return _copy(_ordered(task, resolve(data_dir)))


def clear_cache() -> None:
    """Forget parsed data (e.g. after the files changed on disk)."""
    _load.cache_clear()
    _ordered.cache_clear()


def check_tasks(names: list[str]) -> None:
    """Before an evaluation: the data behind lm-eval task/group names (finbench.registry) loads and has a test split;
    DataError naming the task and the data dir otherwise (other lm-eval tasks are not checked)."""
    for task in sorted(registry.data_behind(names)):
        if not load_splits(task).splits.get("test"):
            raise DataError(f"{task}: the test split is empty in {data_dir()}.")
