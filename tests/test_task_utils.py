"""tasks/utils.py, the lm-eval glue, without a model: documents, filters and per-sample results."""

from __future__ import annotations

import importlib.util
import json

import pytest

from conftest import ROOT

spec = importlib.util.spec_from_file_location("finbench_tasks_utils", ROOT / "tasks" / "utils.py")
utils = importlib.util.module_from_spec(spec)
spec.loader.exec_module(utils)


def test_load_gives_every_split_as_a_dataset(sample_data):
    ds = utils.load("convfinqa", version=1.0, pretrained="ignored")  # lm-eval passes metadata and model args
    assert set(ds) == {"train", "dev", "test"}
    doc = ds["test"][0]
    assert isinstance(json.loads(doc["history"]), list)
    assert "Question:" in utils.prompt_convfinqa(doc)


def test_filter_parses_replies_and_keeps_unparseable_as_none():
    docs = [{"label": "positive"}, {"label": "negative"}]
    assert utils.extract_sentiment([["Positive."], ["I cannot tell."]], docs) == [["positive"], [None]]


def test_numeric_filter_reads_yes_no_turns_as_text():
    docs = [{"answer": json.dumps(0.25)}, {"answer": json.dumps("yes")}]
    assert utils.extract_number([["The answer is 25%"], ["Yes, it did."]], docs) == [[25.0], ["yes"]]


def test_classification_results_log_pairs_and_count_missing():
    out = utils.results_fpb({"label": "neutral"}, [None])
    assert out == {
        "acc": 0,
        "macro_f1": ["neutral", None],
        "weighted_f1": ["neutral", None],
        "mcc": ["neutral", None],
        "missing": 1,
        "score": ["neutral", None],
    }


def test_mc_picks_the_highest_loglikelihood():
    out = utils.results_fpb_mc({"label": "positive"}, [(-3.0, False), (-2.5, False), (-0.1, True)])
    assert out["acc"] == 1 and out["missing"] == 0 and out["score"] == ["positive", "positive"]


def test_numeric_results_strict_and_execution_accuracy():
    doc = {"answer": json.dumps(0.14240), "answer_str": "14.2%"}
    assert utils.results_convfinqa(doc, [14.2]) == {"em": 1, "exec_acc": 1, "missing": 0, "score": 1}
    assert utils.results_convfinqa(doc, [0.1424])["em"] == 0  # fraction instead of the written percent
    assert utils.results_convfinqa(doc, [0.1424])["exec_acc"] == 1
    assert utils.results_convfinqa(doc, [14200.0])["score"] == 0  # a x1000 scale slip
    assert utils.results_convfinqa(doc, [None]) == {"em": 0, "exec_acc": 0, "missing": 1, "score": 0}
    yes = {"answer": json.dumps("yes"), "answer_str": "yes"}
    assert utils.results_convfinqa(yes, ["yes"])["exec_acc"] == 1


def test_ner_results_score_misc_as_outside():
    doc = {
        "tokens": ["ACME", "Corp", "signed", "in", "Paris", "Euro"],
        "tags": ["I-ORG", "I-ORG", "O", "O", "I-LOC", "I-MISC"],
    }
    out = utils.results_ner(doc, [[["ACME Corp", "ORG"], ["Paris", "LOC"]]])
    assert out["entity_f1"][0][-1] == "O" and out["doc_f1"] == 1.0 and out["unplaced"] == 0
    assert utils.ner_entity_f1([out["entity_f1"]]) == 1.0
    assert utils.results_ner(doc, [None])["missing"] == 1


@pytest.mark.parametrize(
    "fn,items,expected",
    [
        ("macro_f1_sentiment", [["positive", "positive"], ["negative", "negative"]], 2 / 3),  # neutral absent: F1 0
        ("weighted_f1_entity_type", [["person", "person"], ["location", None]], 0.5),
        ("headline_avg_f1", [["price_up", "yes", "yes"], ["price_down", "yes", "no"]], 0.5),
        ("headline_avg_f1", [["price_up", "no", "no"], ["price_up", "yes", "no"]], 1 / 3),  # weighted: 0.5 * 2/3
        ("headline_yes_f1", [["price_up", "no", "no"], ["price_up", "yes", "no"]], 0.0),
    ],
)
def test_aggregations_use_the_explicit_label_sets(fn, items, expected):
    assert getattr(utils, fn)(items) == pytest.approx(expected)


def test_the_aggregations_yamls_name_are_the_metric_registry_entries():
    from finbench import metrics

    for name, agg in metrics.AGGREGATIONS.items():
        assert name == "mean" or getattr(utils, name) is agg
