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

SUBJECT_METRIC = {
    "professional_accounting": "acc_accounting",
    "econometrics": "acc_econometrics",
    "high_school_macroeconomics": "acc_macro",
    "high_school_microeconomics": "acc_micro",
}
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


# --- prompts and targets: prompt_<task>, target_<task> for the knowledge tasks of the registry -----------------------
def _doc_fn(fn, task: str):
    def doc_fn(doc: dict) -> str:
        return fn(task, doc)

    doc_fn.__name__ = doc_fn.__qualname__ = f"{fn.__name__}_{task}"
    return doc_fn


for _t in registry.TASKS.values():
    if _t.suite == registry.KNOWLEDGE:
        _short = _t.name.removeprefix("finbench_")
        globals()[f"prompt_{_short}"] = _doc_fn(prompts.prompt, _short)
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


# --- per-sample results -----------------------------------------------------------------------------------------------
def _mmlu(doc: dict, pred) -> dict:
    correct = int(pred == doc["label"])
    return {"acc": correct, "macro_f1": [doc["label"], pred], SUBJECT_METRIC[doc["subject"]]: correct, "score": correct}


def results_mmlu(doc: dict, results: list) -> dict:
    """Loglikelihood over ` A`..` D` (lm-eval's MMLU convention): the letter with the highest loglikelihood."""
    lls = [ll for ll, _ in results]
    return _mmlu(doc, registry.MMLU_LETTERS[max(range(len(lls)), key=lls.__getitem__)])


def results_mmlu_gen(doc: dict, results: list) -> dict:
    return {**_mmlu(doc, results[0]), "missing": int(results[0] is None)}


def results_financemath(doc: dict, results: list) -> dict:
    pred = results[0]
    return {
        "acc": int(metrics.financemath_match(pred, doc["answer"])),
        "acc_strict": int(metrics.financemath_strict(pred, doc["answer"])),
        "missing": int(pred is None),
        "score": int(metrics.financemath_match(pred, doc["answer"])),
    }


def results_financebench(doc: dict, results: list) -> dict:
    """Numeric gold: the numeric-QA rule (metrics.exec_match). Open-ended gold: the judge's verdict, logged with its
    raw reply and identity in `judge_acc`; with judge none they have no `score` item (only the numeric subset
    counts)."""
    pred = results[0]
    out = {"missing": int(pred is None)}
    if doc["numeric"]:
        correct = int(metrics.exec_match(pred, metrics.parse_number(doc["answer"])))
        return {**out, "numeric_acc": correct, "score": correct}
    grader = _JUDGE["judge"]
    if grader is None:
        return out
    verdict = grader.grade(doc["question"], doc["answer"], pred)
    return {**out, "judge_acc": verdict, "score": verdict["verdict"]}
