"""lm-eval glue for the finbench tasks: data -> documents, prompts, answer-extraction filters and per-sample results.

What each task is (data, prompt, parser, labels, metrics) is its record in finbench.registry; this module only adapts
those to lm-eval's hooks. Per task `prompt_<task>` / `target_<task>` / `results_<task>` (doc_to_text, doc_to_target,
process_results: the registry's per-sample functions, finbench.metrics.score_results); per answer kind an
`extract_<kind>` filter; the aggregations are finbench.metrics.AGGREGATIONS.

Every task logs, per sample, the items its aggregations need (e.g. `[gold, pred]` for F1), so any aggregate in the
results file can be recomputed, bootstrapped and paired from the `--log_samples` file.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from finbench import data, extract, metrics, prompts, registry
from finbench.lmeval import quiet_lm_eval_notices

if TYPE_CHECKING:  # imported where documents are built: `datasets` takes seconds to import
    import datasets

quiet_lm_eval_notices()  # lm-eval's `--metadata` notice, once per finbench task otherwise

_JSON_FIELDS = ("answer", "history")  # mixed-type fields, JSON-encoded so Arrow can hold them


def _to_doc(record: dict) -> dict:
    return {k: (json.dumps(v) if k in _JSON_FIELDS else v) for k, v in record.items()}


def _from_doc(doc: dict) -> dict:
    return {k: (json.loads(v) if k in _JSON_FIELDS and isinstance(v, str) else v) for k, v in doc.items()}


def load(task: str, **_ignored) -> datasets.DatasetDict:
    """lm-eval `custom_dataset`: finbench's canonical splits for `task` from $FINBENCH_DATA_DIR.

    lm-eval passes the task metadata and the model args as keyword arguments too; they do not select data."""
    import datasets

    splits = data.load_splits(task)
    return datasets.DatasetDict(
        {name: datasets.Dataset.from_list([_to_doc(r) for r in recs]) for name, recs in splits.splits.items() if recs}
    )


# --- per task (finbench_<task>): prompt_<task>, target_<task> (the _mc variants share them), results_<task> --------
def _doc_fn(fn, task: str):
    def doc_fn(doc: dict) -> str:
        return fn(task, _from_doc(doc))

    doc_fn.__name__ = doc_fn.__qualname__ = f"{fn.__name__}_{task}"
    return doc_fn


def _results_fn(task: registry.Task):
    def results_fn(doc: dict, results: list) -> dict:
        return metrics.score_results(task, _from_doc(doc), results)

    results_fn.__name__ = results_fn.__qualname__ = f"results_{task.name.removeprefix('finbench_')}"
    return results_fn


for _t in registry.TASKS.values():
    if _t.suite != registry.KNOWLEDGE:
        _short = _t.name.removeprefix("finbench_")
        globals()[f"results_{_short}"] = _results_fn(_t)
        if not _t.multiple_choice:
            globals()[f"prompt_{_short}"] = _doc_fn(prompts.prompt, _short)
            globals()[f"target_{_short}"] = _doc_fn(prompts.target, _short)


# --- answer extraction, as lm-eval `custom` filters (the parsed answer shows in `filtered_resps`) ------------------
def _filter(kind: str):
    def extract_kind(resps, docs):
        return [[extract.parse(kind, r) for r in rs] for rs in resps]

    extract_kind.__name__ = extract_kind.__qualname__ = f"extract_{kind}"
    return extract_kind


extract_sentiment = _filter("sentiment")
extract_yes_no = _filter("yes_no")
extract_entity_type = _filter("entity_type")
extract_entities = _filter("entities")
extract_text = _filter("text")


def extract_number(resps, docs):
    """Numbers, except for the few ConvFinQA/FinQA questions whose gold answer is yes/no."""
    out = []
    for rs, doc in zip(resps, docs):
        kind = "yes_no" if isinstance(json.loads(doc["answer"]), str) else "number"
        out.append([extract.parse(kind, r) for r in rs])
    return out


# --- aggregations (lm-eval `aggregation: !function utils.<name>`): finbench.metrics' registry ------------------------
# (macro_f1_sentiment, weighted_f1_sentiment, mcc_sentiment, the same for entity_type, macro_f1_letters,
# headline_avg_f1, headline_yes_f1, ner_entity_f1, judge_mean); lm-eval records each by its name
globals().update({name: agg for name, agg in metrics.AGGREGATIONS.items() if name != "mean"})
