"""lm-eval glue for the finbench tasks: data -> documents, prompts, answer-extraction filters and per-sample results.

Every task logs, per sample, the items its aggregations need (e.g. `[gold, pred]` for F1), so any aggregate in the
results file can be recomputed, bootstrapped and paired from the `--log_samples` file.
"""

from __future__ import annotations

import json
from functools import partial

import datasets

from finbench import data, extract, metrics, prompts
from finbench.prompts import ENTITY_TYPE_LABELS, SENTIMENT_LABELS
from finbench.lmeval import quiet_lm_eval_notices

quiet_lm_eval_notices()  # lm-eval's `--metadata` notice, once per finbench task otherwise

_JSON_FIELDS = ("answer", "history")  # mixed-type fields, JSON-encoded so Arrow can hold them


def _to_doc(record: dict) -> dict:
    return {k: (json.dumps(v) if k in _JSON_FIELDS else v) for k, v in record.items()}


def _from_doc(doc: dict) -> dict:
    return {k: (json.loads(v) if k in _JSON_FIELDS and isinstance(v, str) else v) for k, v in doc.items()}


def load(task: str, **_ignored) -> datasets.DatasetDict:
    """lm-eval `custom_dataset`: finbench's canonical splits for `task` from $FINBENCH_DATA_DIR.

    lm-eval passes the task metadata and the model args as keyword arguments too; they do not select data."""
    splits = data.load_splits(task)
    return datasets.DatasetDict(
        {name: datasets.Dataset.from_list([_to_doc(r) for r in recs]) for name, recs in splits.splits.items() if recs}
    )


# --- prompts --------------------------------------------------------------------------------------------------------
def _prompt(task: str, doc: dict) -> str:
    return prompts.prompt(task, _from_doc(doc))


prompt_fpb = partial(_prompt, "fpb")
prompt_fiqa_sa = partial(_prompt, "fiqa_sa")
prompt_tfns = partial(_prompt, "tfns")
prompt_headline = partial(_prompt, "headline")
prompt_ner = partial(_prompt, "ner")
prompt_ner_cls = partial(_prompt, "ner_cls")
prompt_convfinqa = partial(_prompt, "convfinqa")
prompt_tatqa = partial(_prompt, "tatqa")
prompt_finqa = partial(_prompt, "finqa")


def _target(task: str, doc: dict) -> str:
    return prompts.target(task, _from_doc(doc))


target_fpb = partial(_target, "fpb")
target_fiqa_sa = partial(_target, "fiqa_sa")
target_tfns = partial(_target, "tfns")
target_headline = partial(_target, "headline")
target_ner = partial(_target, "ner")
target_ner_cls = partial(_target, "ner_cls")
target_convfinqa = partial(_target, "convfinqa")
target_tatqa = partial(_target, "tatqa")
target_finqa = partial(_target, "finqa")


# --- answer extraction, as lm-eval `custom` filters (the parsed answer shows in `filtered_resps`) ------------------
def _extract(task: str, resps, docs):
    return [[extract.extract_answer(task, r) for r in rs] for rs in resps]


def _extract_numeric(task: str, resps, docs):
    """Numbers, except for the few ConvFinQA/FinQA questions whose gold answer is yes/no."""
    out = []
    for rs, doc in zip(resps, docs):
        kind = "headline" if isinstance(json.loads(doc["answer"]), str) else task
        out.append([extract.extract_answer(kind, r) for r in rs])
    return out


extract_fpb = partial(_extract, "fpb")
extract_fiqa_sa = partial(_extract, "fiqa_sa")
extract_tfns = partial(_extract, "tfns")
extract_headline = partial(_extract, "headline")
extract_ner = partial(_extract, "ner")
extract_ner_cls = partial(_extract, "ner_cls")
extract_convfinqa = partial(_extract_numeric, "convfinqa")
extract_tatqa = partial(_extract, "tatqa")
extract_finqa = partial(_extract_numeric, "finqa")


# --- per-sample results ---------------------------------------------------------------------------------------------
def _classification(gold: str, pred) -> dict:
    pair = [gold, pred]
    return {"acc": int(pred == gold), "macro_f1": pair, "weighted_f1": pair, "mcc": pair,
            "missing": int(pred is None), "score": pair}


def results_label(doc: dict, results: list) -> dict:
    return _classification(doc["label"], results[0])


def _mc_pred(results: list, labels) -> str:
    """The label whose continuation has the highest loglikelihood."""
    lls = [ll for ll, _ in results]
    return labels[max(range(len(lls)), key=lls.__getitem__)]


def results_sentiment_mc(doc: dict, results: list) -> dict:
    return _classification(doc["label"], _mc_pred(results, SENTIMENT_LABELS))


def results_ner_cls_mc(doc: dict, results: list) -> dict:
    return _classification(doc["label"], _mc_pred(results, ENTITY_TYPE_LABELS))


def _headline(doc: dict, pred) -> dict:
    item = [doc["question_type"], doc["label"], pred]
    return {"acc": int(pred == doc["label"]), "avg_f1": item, "yes_f1": item, "missing": int(pred is None),
            "score": item}


def results_headline(doc: dict, results: list) -> dict:
    return _headline(doc, results[0])


def results_headline_mc(doc: dict, results: list) -> dict:
    return _headline(doc, _mc_pred(results, prompts.YES_NO))


def results_ner(doc: dict, results: list) -> dict:
    """Entity F1 over PER/ORG/LOC (the prompt asks for those three; the 7 MISC tokens of FIN3 are scored as O)."""
    entities = results[0]
    gold = ["O" if t.endswith("MISC") else t for t in doc["tags"]]
    pred, unplaced = metrics.entities_to_tags(doc["tokens"], [tuple(e) for e in entities or []])
    pair = [gold, pred]
    return {"entity_f1": pair, "doc_f1": metrics.ner_doc_f1(gold, pred), "missing": int(entities is None),
            "unplaced": unplaced, "score": pair}


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


# --- aggregations with explicit label sets (lm-eval `aggregation: !function ...`) ----------------------------------
def macro_f1_sentiment(items):
    return metrics.macro_f1(items, SENTIMENT_LABELS)


def weighted_f1_sentiment(items):
    return metrics.weighted_f1(items, SENTIMENT_LABELS)


def mcc_sentiment(items):
    return metrics.mcc(items, SENTIMENT_LABELS)


def macro_f1_entity_type(items):
    return metrics.macro_f1(items, ENTITY_TYPE_LABELS)


def weighted_f1_entity_type(items):
    return metrics.weighted_f1(items, ENTITY_TYPE_LABELS)


def mcc_entity_type(items):
    return metrics.mcc(items, ENTITY_TYPE_LABELS)


def headline_avg_f1(items):
    """FinBen's headline AvgF1 (weighted yes/no F1 per question type, averaged): `avg_f1` and `score`."""
    return metrics.headline_avg_f1(items)


def headline_yes_f1(items):
    """F1 of the "yes" class per question type, averaged (finbench's v1 headline score): `yes_f1`."""
    return metrics.headline_yes_f1(items)


def ner_entity_f1(items):
    return metrics.ner_entity_f1(items)


# vectorised bootstrap forms of the aggregations above (finbench.results.draws); they agree with them draw for draw
for _fn, _labels, _metric in [(macro_f1_sentiment, SENTIMENT_LABELS, "macro_f1"),
                              (weighted_f1_sentiment, SENTIMENT_LABELS, "weighted_f1"),
                              (mcc_sentiment, SENTIMENT_LABELS, "mcc"),
                              (macro_f1_entity_type, ENTITY_TYPE_LABELS, "macro_f1"),
                              (weighted_f1_entity_type, ENTITY_TYPE_LABELS, "weighted_f1"),
                              (mcc_entity_type, ENTITY_TYPE_LABELS, "mcc")]:
    _fn.bootstrap_counts = (_labels, _metric)
headline_avg_f1.bootstrap_counts = "headline"


# --- knowledge tasks (tasks/knowledge.py; aggregations here so finbench.results can resolve them) ------------------
MMLU_LETTERS = prompts.MMLU_LETTERS


def macro_f1_letters(items):
    """Macro F1 over the option letters A-D (a missing letter is a false negative of its gold letter)."""
    return metrics.macro_f1(items, MMLU_LETTERS)


macro_f1_letters.bootstrap_counts = (MMLU_LETTERS, "macro_f1")


def judge_mean(items):
    """The share of judged answers the judge calls correct (items: one verdict dict per judged sample)."""
    return sum(int(i["verdict"]) for i in items) / len(items) if items else float("nan")
