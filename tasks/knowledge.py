"""lm-eval glue for the knowledge tasks (group finbench_knowledge): MMLU finance subjects, FinanceMath, FinanceBench.

Referenced from the task YAMLs as `!function knowledge.x`; what each task is lives in its finbench.registry record,
the aggregations are finbench.metrics.AGGREGATIONS (named through utils.py). The FinanceBench judge is configured by
lm-eval's `--metadata` (finbench.judge).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from finbench import data, extract, judge, metrics, prompts, registry

if TYPE_CHECKING:  # imported where documents are built: `datasets` takes seconds to import
    import datasets

_JUDGE: dict = {"judge": None}  # set when the FinanceBench documents are loaded (lm-eval passes --metadata there)


def _dataset(task: str) -> datasets.DatasetDict:
    import datasets

    splits = data.load_splits(task)
    return datasets.DatasetDict(
        {name: datasets.Dataset.from_list(recs) for name, recs in splits.splits.items() if recs}
    )


def load(task: str, **metadata) -> datasets.DatasetDict:
    """lm-eval `custom_dataset`; for financebench the judge named in --metadata is set up here (judge: none by
    default)."""
    if task == "financebench":
        _JUDGE["judge"] = judge.from_metadata(metadata)
    return _dataset(task)


# --- per knowledge task of the registry: prompt_<task>, target_<task>, results_<task> --------------------------------
def _doc_fn(fn, task: str):
    def doc_fn(doc: dict) -> str:
        return fn(task, doc)

    doc_fn.__name__ = doc_fn.__qualname__ = f"{fn.__name__}_{task}"
    return doc_fn


def _results_fn(task: registry.Task):
    def results_fn(doc: dict, results: list) -> dict:
        """The registry's per-sample functions; FinanceBench's open questions go to the judge set at load time."""
        return metrics.score_results(task, doc, results, judge=_JUDGE["judge"])

    results_fn.__name__ = results_fn.__qualname__ = f"results_{task.name.removeprefix('finbench_')}"
    return results_fn


for _t in registry.TASKS.values():
    if _t.suite == registry.KNOWLEDGE:
        _short = _t.name.removeprefix("finbench_")
        globals()[f"prompt_{_short}"] = _doc_fn(prompts.prompt, _short)
        globals()[f"results_{_short}"] = _results_fn(_t)
        if not _t.multiple_choice:
            globals()[f"target_{_short}"] = _doc_fn(prompts.target, _short)


def target_mmlu(doc: dict) -> int:
    """The index of the gold letter among doc_to_choice (A-D)."""
    return registry.MMLU_LETTERS.index(doc["label"])


# --- filters ----------------------------------------------------------------------------------------------------------
def extract_letters(resps, docs):
    return [[extract.extract_letter(r) for r in rs] for rs in resps]


def extract_numbers(resps, docs):
    return [[extract.parse("number", r) for r in rs] for rs in resps]


def extract_financebench(resps, docs):
    """A number for the numeric questions, the cleaned reply (for the judge) for the others."""
    return [
        [extract.parse("number", r) if doc["numeric"] else extract.extract_reply(r) for r in rs]
        for rs, doc in zip(resps, docs)
    ]
