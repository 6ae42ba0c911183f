"""lm-eval glue for the finbench tasks: data -> documents, prompts, answer-extraction filters and per-sample results.

What each task is (data, prompt, parser, labels, metrics) is its record in finbench.registry; this module only adapts
those to lm-eval's hooks. Per task `prompt_<data>` / `target_<data>` (doc_to_text, doc_to_target); per answer kind an
`extract_<kind>` filter; per metric family a process_results; the aggregations are finbench.metrics.AGGREGATIONS.

Every task logs, per sample, the items its aggregations need (e.g. `[gold, pred]` for F1), so any aggregate in the
results file can be recomputed, bootstrapped and paired from the `--log_samples` file.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from finbench import data, extract, metrics, prompts, registry
from finbench.lmeval import quiet_lm_eval_notices
from finbench.registry import ENTITY_TYPE_LABELS, SENTIMENT_LABELS, YES_NO

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


# --- prompts and targets: prompt_<task>, target_<task> (finbench_<task>; the _mc variants share them) ---------------
def _doc_fn(fn, task: str):
    def doc_fn(doc: dict) -> str:
        return fn(task, _from_doc(doc))

    doc_fn.__name__ = doc_fn.__qualname__ = f"{fn.__name__}_{task}"
    return doc_fn


for _t in registry.TASKS.values():
    if _t.suite != registry.KNOWLEDGE and not _t.multiple_choice:
        _short = _t.name.removeprefix("finbench_")
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


# --- per-sample results ---------------------------------------------------------------------------------------------
def _classification(gold: str, pred) -> dict:
    pair = [gold, pred]
    return {
        "acc": int(pred == gold),
        "macro_f1": pair,
        "weighted_f1": pair,
        "mcc": pair,
        "missing": int(pred is None),
        "score": pair,
    }


def results_label(doc: dict, results: list) -> dict:
    return _classification(doc["label"], results[0])


def mc_pred(results: list, labels) -> str:
    """The label whose continuation has the highest loglikelihood."""
    lls = [ll for ll, _ in results]
    return labels[max(range(len(lls)), key=lls.__getitem__)]


def results_sentiment_mc(doc: dict, results: list) -> dict:
    return _classification(doc["label"], mc_pred(results, SENTIMENT_LABELS))


def results_ner_cls_mc(doc: dict, results: list) -> dict:
    return _classification(doc["label"], mc_pred(results, ENTITY_TYPE_LABELS))


def _headline(doc: dict, pred) -> dict:
    item = [doc["question_type"], doc["label"], pred]
    return {
        "acc": int(pred == doc["label"]),
        "avg_f1": item,
        "yes_f1": item,
        "missing": int(pred is None),
        "score": item,
    }


def results_headline(doc: dict, results: list) -> dict:
    return _headline(doc, results[0])


def results_headline_mc(doc: dict, results: list) -> dict:
    return _headline(doc, mc_pred(results, YES_NO))


def results_ner(doc: dict, results: list) -> dict:
    """Entity F1 over PER/ORG/LOC (the prompt asks for those three; the 7 MISC tokens of FIN3 are scored as O)."""
    entities = results[0]
    gold = ["O" if t.endswith("MISC") else t for t in doc["tags"]]
    pred, unplaced = metrics.entities_to_tags(doc["tokens"], [tuple(e) for e in entities or []])
    pair = [gold, pred]
    return {
        "entity_f1": pair,
        "doc_f1": metrics.ner_doc_f1(gold, pred),
        "missing": int(entities is None),
        "unplaced": unplaced,
        "score": pair,
    }


def _numeric(doc: dict, pred) -> dict:
    """`em`: the answer matches the annotated string at its written precision; `exec_acc` (= `score`): PoT-style
    execution accuracy against the executed answer (metrics.exec_match)."""
    gold = json.loads(doc["answer"])
    if isinstance(gold, (int, float)):
        strict = metrics.strict_match(pred, doc["answer_str"])
        executed = metrics.exec_match(pred, float(gold))
    else:  # a few ConvFinQA turns are yes/no questions
        strict = executed = pred is not None and metrics.match_text(str(pred), str(gold))
    return {"em": int(strict), "exec_acc": int(executed), "missing": int(pred is None), "score": int(executed)}


def results_numeric(doc: dict, results: list) -> dict:
    return _numeric(doc, results[0])


def results_tatqa(doc: dict, results: list) -> dict:
    pred = results[0]
    em, f1 = metrics.tatqa_em_f1(pred, json.loads(doc["answer"]), doc["answer_type"], doc.get("scale") or "")
    return {"em": em, "f1": f1, "missing": int(pred is None), "score": f1}


# --- aggregations (lm-eval `aggregation: !function utils.<name>`): finbench.metrics' registry ------------------------
# (macro_f1_sentiment, weighted_f1_sentiment, mcc_sentiment, the same for entity_type, macro_f1_letters,
# headline_avg_f1, headline_yes_f1, ner_entity_f1, judge_mean); lm-eval records each by its name
globals().update({name: agg for name, agg in metrics.AGGREGATIONS.items() if name != "mean"})
