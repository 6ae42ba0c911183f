"""finbench.metrics against hand-computed values."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from finbench import metrics as M
from finbench import stats

SENT = ["negative", "neutral", "positive"]


def roundtrip(items):
    """What lm-eval's JSON samples file gives back: tuples become lists."""
    return json.loads(json.dumps(items))


# ---------------------------------------------------------------------------------------------------- classification

# 8 samples, 3 classes, two missing predictions.
CLS = [
    ("positive", "positive"),  # 1 correct
    ("positive", "positive"),  # 2 correct
    ("positive", "neutral"),  # 3
    ("neutral", "neutral"),  # 4 correct
    ("neutral", "negative"),  # 5
    ("negative", "negative"),  # 6 correct
    ("negative", None),  # 7 missing
    ("positive", None),  # 8 missing
]
# Confusion matrix (rows gold, cols pred: neg, neu, pos, <missing>):
#   neg: 1 0 0 1   (support 2)
#   neu: 1 1 0 0   (support 2)
#   pos: 0 1 2 1   (support 4)
# negative: TP=1 FP=1 (#5) FN=1 (#7) -> P=1/2 R=1/2 F1=1/2
# neutral:  TP=1 FP=1 (#3) FN=1 (#5) -> P=1/2 R=1/2 F1=1/2
# positive: TP=2 FP=0      FN=2 (#3, #8) -> P=1 R=1/2 F1=2*1*(1/2)/(3/2)=2/3
# macro    = (1/2 + 1/2 + 2/3) / 3 = 5/9
# weighted = (2*1/2 + 2*1/2 + 4*2/3) / 8 = (14/3) / 8 = 7/12
# accuracy = 4/8
# MCC (multiclass, Gorodkin): c=4 correct, s=8 samples, t=gold counts (2,2,4,0), p=pred counts (2,2,2,2) incl. the
#   sentinel; sum(p*t)=4+4+8+0=16; num = c*s - 16 = 16; den = sqrt((64 - 16)(64 - 24)) = sqrt(48*40)
#   MCC = 16 / sqrt(1920) = 0.365148...


def test_accuracy_hand():
    assert M.accuracy(CLS) == pytest.approx(0.5)


def test_macro_weighted_f1_hand():
    assert M.macro_f1(CLS, SENT) == pytest.approx(5 / 9)
    assert M.weighted_f1(CLS, SENT) == pytest.approx(7 / 12)


def test_mcc_multiclass_hand():
    assert M.mcc(CLS, SENT) == pytest.approx(16 / math.sqrt(48 * 40))


def test_mcc_binary_hand():
    # positive class "a": TP=2 TN=1 FP=1 FN=1 -> (2*1 - 1*1) / sqrt((2+1)(2+1)(1+1)(1+1)) = 1/6
    items = [("a", "a"), ("a", "a"), ("a", "b"), ("b", "a"), ("b", "b")]
    assert M.mcc(items, ["a", "b"]) == pytest.approx(1 / 6)


def test_mcc_degenerate_is_zero():
    assert M.mcc([("a", "a"), ("a", "a")], ["a", "b"]) == 0.0


def test_missing_rate():
    assert M.missing_rate(CLS) == pytest.approx(2 / 8)
    assert M.missing_rate([("qt", "yes", None), ("qt", "no", "no")]) == pytest.approx(0.5)


def test_missing_is_never_a_true_positive():
    # a missing prediction is only a false negative of its gold class
    items = [("positive", None), ("positive", "positive")]
    # positive: TP=1 FP=0 FN=1 -> F1=2/3; negative/neutral: all zero -> 0 (zero_division=0)
    assert M.macro_f1(items, SENT) == pytest.approx((2 / 3) / 3)
    assert M.accuracy(items) == 0.5
    all_missing = [("positive", None), ("negative", None)]
    assert M.accuracy(all_missing) == 0.0
    assert M.macro_f1(all_missing, SENT) == 0.0
    assert M.weighted_f1(all_missing, SENT) == 0.0
    assert M.mcc(all_missing, SENT) == 0.0
    assert M.missing_rate(all_missing) == 1.0


def test_out_of_set_prediction_is_wrong_like_missing():
    a = [("positive", "mixed"), ("neutral", "neutral")]
    b = [("positive", None), ("neutral", "neutral")]
    assert M.macro_f1(a, SENT) == M.macro_f1(b, SENT)
    assert M.mcc(a, SENT) == M.mcc(b, SENT)


def test_explicit_label_set_keeps_absent_class_in_average():
    # no "negative" anywhere in this sample
    items = [("positive", "positive"), ("neutral", "neutral"), ("positive", "neutral")]
    # negative: 0 (no support, never predicted; zero_division=0)
    # neutral: TP=1 FP=1 FN=0 -> P=1/2 R=1 F1=2/3 ; positive: TP=1 FP=0 FN=1 -> F1=2/3
    # macro over the 3 labels = (0 + 2/3 + 2/3)/3 = 4/9 (sklearn's inferred labels would give 2/3)
    assert M.macro_f1(items, SENT) == pytest.approx(4 / 9)
    # weighted: supports neg 0, neu 1, pos 2 -> (1*2/3 + 2*2/3)/3 = 2/3
    assert M.weighted_f1(items, SENT) == pytest.approx(2 / 3)


def test_gold_outside_label_set_raises():
    with pytest.raises(ValueError):
        M.macro_f1([("bullish", "positive")], SENT)


def test_classification_json_roundtrip():
    items = roundtrip(CLS)
    assert isinstance(items[0], list)
    assert M.accuracy(items) == pytest.approx(0.5)
    assert M.macro_f1(items, SENT) == pytest.approx(5 / 9)
    assert M.weighted_f1(items, SENT) == pytest.approx(7 / 12)
    assert M.mcc(items, SENT) == pytest.approx(16 / math.sqrt(1920))
    assert M.missing_rate(items) == pytest.approx(0.25)


def test_empty_items_nan():
    for value in (
        M.accuracy([]),
        M.macro_f1([], SENT),
        M.weighted_f1([], SENT),
        M.mcc([], SENT),
        M.missing_rate([]),
        M.headline_avg_f1([]),
        M.ner_entity_f1([]),
    ):
        assert math.isnan(value)


# ---------------------------------------------------------------------------------------------------------- headline

HEADLINE = [
    # price_up: yes-class TP=1 (#1), FP=1 (#3), FN=2 (#2, #5 missing) -> P=1/2 R=1/3 F1=(1/3)/(5/6)=2/5
    ("price_up", "yes", "yes"),
    ("price_up", "yes", "no"),
    ("price_up", "no", "yes"),
    ("price_up", "no", "no"),
    ("price_up", "yes", None),
    # past_news: TP=2 FP=0 FN=0 -> F1=1
    ("past_news", "no", "no"),
    ("past_news", "yes", "yes"),
    ("past_news", "yes", "yes"),
]


# Weighted yes/no F1 per type (FinBen's AvgF1). price_up: gold yes x3 (#1 #2 #5), gold no x2 (#3 #4).
#   yes: TP=1 FP=1 FN=2 -> F1 = 2/5;  no: TP=1 (#4) FP=1 (#2) FN=1 (#3) -> F1 = 2/4 (the missing #5 is no "no")
#   weighted = (3 * 2/5 + 2 * 1/2) / 5 = 0.44;  past_news: both classes perfect -> 1.0;  average 0.72.
# Yes-class F1 per type: price_up 0.4, past_news 1.0 -> 0.7.


def test_headline_weighted_per_type_and_average():
    assert M.per_type_f1(HEADLINE) == pytest.approx({"past_news": 1.0, "price_up": 0.44})
    assert M.headline_avg_f1(HEADLINE) == pytest.approx(0.72)
    assert M.headline_avg_f1(roundtrip(HEADLINE)) == pytest.approx(0.72)


def test_headline_yes_f1_per_type_and_average():
    assert M.per_type_f1(HEADLINE, "yes") == pytest.approx({"past_news": 1.0, "price_up": 0.4})
    assert M.headline_yes_f1(HEADLINE) == pytest.approx(0.7)
    assert M.headline_yes_f1(roundtrip(HEADLINE)) == pytest.approx(0.7)


def test_headline_type_without_yes():
    items = HEADLINE + [("future_news", "no", "no")]  # only "no" gold: weighted F1 = the no-class F1 = 1
    assert M.per_type_f1(items)["future_news"] == 1.0
    assert M.headline_avg_f1(items) == pytest.approx((1.0 + 0.44 + 1.0) / 3)
    assert M.per_type_f1(items, "yes")["future_news"] == 0.0  # zero_division=0
    assert M.headline_yes_f1(items) == pytest.approx(1.4 / 3)


def test_headline_equals_finben_label_avg_when_every_answer_parses():
    """FinBen's Headlines.label_avg (PIXIU flare.py): per label_type, sklearn f1_score(gold, pred,
    average="weighted", labels=[0, 1]) with 0 = "Yes"; the mean over types. Computed here independently."""
    import random

    from sklearn.metrics import f1_score

    rng = random.Random(7)
    items = [
        (rng.choice(["up", "down", "past"]), rng.choice(["yes", "no"]), rng.choice(["yes", "no"])) for _ in range(400)
    ]
    finben = []
    for t in ("up", "down", "past"):
        golds = [int(g != "yes") for tt, g, _ in items if tt == t]
        preds = [int(p != "yes") for tt, _, p in items if tt == t]
        finben.append(f1_score(golds, preds, average="weighted", labels=[0, 1]))
    assert M.headline_avg_f1(items) == pytest.approx(float(np.mean(finben)), abs=1e-12)


def test_headline_constant_answers():
    # always "no": per type, no-class F1 = 2n/(2n + y) over n "no" and y "yes" golds, weighted by n/(n + y);
    # the yes class scores 0. Here one type with 3 yes and 2 no: no F1 = 4/7, weighted 2/5 * 4/7 = 8/35.
    items = [("t", g, "no") for g in ["yes", "yes", "yes", "no", "no"]]
    assert M.headline_avg_f1(items) == pytest.approx(8 / 35)
    assert M.headline_yes_f1(items) == 0.0
    # never an answer: every prediction missing -> 0 for both (a missing answer is never a true positive)
    assert M.headline_avg_f1([(t, g, None) for t, g, _ in items]) == 0.0


def test_headline_case_insensitive():
    assert M.per_type_f1([("t", "Yes", "YES")]) == {"t": 1.0}
    with pytest.raises(ValueError, match="weighted"):
        M.per_type_f1([("t", "yes", "yes")], "macro")


# --------------------------------------------------------------------------------------------------------------- NER

S1 = "John Smith works at Acme Corp in Paris .".split()
S1_GOLD = ["I-PER", "I-PER", "O", "O", "I-ORG", "I-ORG", "O", "I-LOC", "O"]
S1_PRED = ["I-PER", "I-PER", "O", "O", "I-ORG", "O", "O", "O", "O"]
# S1: gold {PER(0,2), ORG(4,6), LOC(7,8)}; pred {PER(0,2), ORG(4,5)} -> TP=1 (PER), FP=1 (ORG(4,5)), FN=2 (ORG, LOC)
S2 = "Bank of America rose".split()
S2_GOLD = ["I-ORG", "I-ORG", "I-ORG", "O"]
S2_PRED = ["I-ORG", "I-ORG", "I-ORG", "O"]
# S2: TP=1
# corpus: TP=2 FP=1 FN=2 -> P=2/3 R=2/4 F1=2*(2/3)(1/2)/(2/3+1/2) = 4/7
NER = [(S1_GOLD, S1_PRED), (S2_GOLD, S2_PRED)]


def test_ner_corpus_micro_hand():
    assert M.ner_entity_precision(NER) == pytest.approx(2 / 3)
    assert M.ner_entity_recall(NER) == pytest.approx(1 / 2)
    assert M.ner_entity_f1(NER) == pytest.approx(4 / 7)
    assert M.ner_entity_f1(roundtrip(NER)) == pytest.approx(4 / 7)


def test_ner_doc_f1_hand():
    # S1: P=1/2 R=1/3 -> F1=(1/3)/(5/6)=2/5; corpus F1 is not the mean of these (0.7)
    assert M.ner_doc_f1(S1_GOLD, S1_PRED) == pytest.approx(0.4)
    assert M.ner_doc_f1(S2_GOLD, S2_PRED) == 1.0
    assert M.ner_doc_f1(["O", "O"], ["O", "O"]) == 1.0  # both empty: defined as 1
    assert M.ner_doc_f1(["O", "O"], ["I-PER", "O"]) == 0.0
    assert M.ner_doc_f1(["I-PER", "O"], None) == 0.0


def test_ner_missing_prediction_is_all_O():
    # S1 missing: TP=0 FN=3; S2: TP=1 -> TP=1 FP=0 FN=3 -> P=1 R=1/4 F1=2*(1/4)/(5/4)=2/5
    assert M.ner_entity_f1([(S1_GOLD, None), (S2_GOLD, S2_PRED)]) == pytest.approx(0.4)


def test_ner_length_mismatch_padded():
    assert M.ner_entity_f1([(S2_GOLD, ["I-ORG", "I-ORG", "I-ORG"])]) == 1.0
    assert M.ner_entity_f1([(S2_GOLD, S2_PRED + ["I-PER", "I-PER"])]) == 1.0


def test_ner_no_entities_anywhere_is_zero():
    assert M.ner_entity_f1([(["O"], ["O"])]) == 0.0


def test_entities_to_tags_basic_and_unplaceable():
    ents = [("john smith", "PER"), ("Acme Corp", "org"), ("Paris", "LOC"), ("Berlin", "LOC")]
    tags, unplaced = M.entities_to_tags(S1, ents)
    assert tags == S1_GOLD
    assert unplaced == 1  # Berlin is not in the sentence
    assert M.entities_to_tags(S1, roundtrip(ents)) == (S1_GOLD, 1)


def test_entities_to_tags_punctuation_spacing():
    tokens = "Apple Inc . sold shares in the U . S . market".split()
    tags, unplaced = M.entities_to_tags(tokens, [("Apple Inc.", "ORG"), ("U.S.", "LOC")])
    assert unplaced == 0
    assert tags == ["I-ORG"] * 3 + ["O", "O", "O", "O"] + ["I-LOC"] * 4 + ["O"]


def test_entities_to_tags_every_occurrence_and_overlaps():
    tokens = "Bank of America and America and New York Times in New York".split()
    ents = [("America", "LOC"), ("Bank of America", "ORG"), ("New York", "LOC"), ("New York Times", "ORG")]
    tags, unplaced = M.entities_to_tags(tokens, ents)
    # Bank of America (start 0) beats America (start 2); the second America is LOC;
    # at start 6 the longer New York Times beats New York; the last New York is LOC.
    assert tags == [
        "I-ORG",
        "I-ORG",
        "I-ORG",
        "O",
        "I-LOC",
        "O",
        "I-ORG",
        "I-ORG",
        "I-ORG",
        "O",
        "I-LOC",
        "I-LOC",
    ]
    assert unplaced == 0


def test_entities_to_tags_adjacent_same_type_merge_like_gold():
    tokens = "John Mary met".split()
    gold = ["I-PER", "I-PER", "O"]  # two persons, one chunk in IO data
    tags, _ = M.entities_to_tags(tokens, [("John", "PER"), ("Mary", "PER")])
    assert tags == gold
    assert M.ner_entity_f1([(gold, tags)]) == 1.0


def test_entities_to_tags_empty():
    assert M.entities_to_tags(["a", "b"], []) == (["O", "O"], 0)
    assert M.entities_to_tags([], [("x", "PER")]) == ([], 1)
    assert M.entities_to_tags(["a"], [("", "PER")]) == (["O"], 1)
    assert M.entities_to_tags(["a"], ["a", ("a",), None]) == (["O"], 3)  # malformed entries are unplaceable


# ------------------------------------------------------------------------------------------------------ numeric QA


@pytest.mark.parametrize(
    "text, value",
    [
        ("60.94", 60.94),
        ("-3.5", -3.5),
        ("12.6%", 12.6),
        ("142.4%", 142.4),
        ("$1,234", 1234.0),
        ("(12)", -12.0),
        ("-$1,234.5", -1234.5),
        ("1.2 million", 1_200_000.0),
        ("3 billion", 3e9),
        (" 7 ", 7.0),
        ("\u22122", -2.0),
        (0.126, 0.126),
        (3, 3.0),
        ("yes", None),
        ("", None),
        (None, None),
        ("about 5", None),
        ("(12", None),
    ],
)
def test_parse_number(text, value):
    assert M.parse_number(text) == value


@pytest.mark.parametrize(
    "pred, gold, ok",
    [
        (60.94, "60.94", True),
        (60.9449, "60.94", True),  # rounds to 60.94
        (60.95, "60.94", False),
        (12.6, "12.6%", True),
        (12.63, "12.6%", True),  # rounded to the gold's 1 decimal
        (12.66, "12.6%", False),  # rounds to 12.7
        (0.126, "12.6%", False),  # percent gold matches the written number only
        (3.5, "-3.5", False),  # sign mismatch
        (-3.5, "-3.5", True),
        (60.4, "60", True),  # 0 decimals written
        (60.6, "60", False),
        (-12, "(12)", True),
        (1234, "$1,234", True),
        (1_200_000, "1.2 million", True),
        (1.2, "1.2 million", False),
        (1.0, "yes", False),
        (None, "60.94", False),
        (float("nan"), "60.94", False),
        (float("inf"), "60.94", False),
    ],
)
def test_strict_match(pred, gold, ok):
    assert M.strict_match(pred, gold) is ok


@pytest.mark.parametrize(
    "pred, executed, ok",
    [
        (60.94, 60.94, True),
        (60.9, 60.94, True),  # PoT: both rounded to the smaller precision (1): 60.9 == 60.9
        (61.0, 60.94, True),  # precision 0: 61 == 61
        (61.5, 60.94, False),  # precision 1: 61.5 != 60.9 (a 1 % relative error is wrong)
        (60940.0, 60.94, False),  # a x1000 scale slip is wrong
        (0.06094, 60.94, False),
        (12.6, 0.126, True),  # percent written as 12.6 ...
        (0.126, 0.126, True),  # ... or as 0.126
        (0.126, 12.6, True),  # x / 100 (PoT include_percentage)
        (1.7, 0.01743, True),  # annotated "1.7%": 1.743 at precision 1
        (11.0, 0.10745, True),  # annotated "11%": 10.745 at precision 0 (PoT's float precision 1 rejects it)
        (10.0, 0.10745, True),  # truncated at precision 0
        (12.0, 0.10745, False),
        (6.88, 6.88702, True),  # annotators truncate
        (6.89, 6.88702, True),  # ... and rounding is right too
        (6.87, 6.88702, False),
        (0.1345, 0.13445, True),  # decimal half-up (float round gives 0.1344)
        (-12.6, 0.126, False),  # sign
        (-12.6, -0.126, True),
        (0.0, 3.61, False),  # a reference that rounds to 0 is not matched by 0 (PoT: 3.61 / 100 -> 0.0)
        (0.0, 0.004, False),
        (0.0, 0.0, True),
        (1e-05, 1e-05, True),
        (None, 1.0, False),
        (float("nan"), 1.0, False),
        (float("inf"), 1.0, False),
        (1e300, 5.0, False),
        (True, 1.0, False),
    ],
)
def test_exec_match(pred, executed, ok):
    assert M.exec_match(pred, executed) is ok


@pytest.mark.parametrize(
    "pred, gold, ok",
    [("Yes", "yes", True), (" no. ", "No", True), ("yes", "no", False), (None, "yes", False), ("yes", None, False)],
)
def test_match_text(pred, gold, ok):
    assert M.match_text(pred, gold) is ok


# ----------------------------------------------------------------------------------------------------------- TAT-QA


# (answer text as the prompt asks for it, gold answer, answer_type, gold scale, EM, F1). Every row was checked
# against the official TaTQAEmAndF1 run on tatqa_readings' output (outside the repo; see tasks/README.md).
@pytest.mark.parametrize(
    "pred, gold, atype, scale, em, f1",
    [
        # span: "the net sales" -> {net, sales} vs {net, sales, increase}: P=1 R=2/3 F1=0.8
        ("the net sales", ["net sales increase"], "span", "", 0.0, 0.8),
        ("Net sales increase.", ["net sales increase"], "span", "", 1.0, 1.0),
        # 2 of 3 tokens + 1 wrong: P=R=2/3 -> F1 0.667, rounded to 2 decimals as the official script does
        ("alpha beta delta", ["alpha beta gamma"], "span", "", 0.0, 0.67),
        # a comma never splits: spans are separated by "; " as the prompt says
        ("Property, plant and equipment", ["Property, plant and equipment"], "span", "", 1.0, 1.0),
        (
            "Property and equipment, net; Operating lease right-of-use assets",
            ["Property and equipment, net", "Operating lease right-of-use assets"],
            "multi-span",
            "",
            1.0,
            1.0,
        ),
        ("Revenue; Cost of sales", ["Revenue", "Cost of sales"], "multi-span", "", 1.0, 1.0),  # spans are sorted
        # a comma-separated list is one span: same words (F1 1), but not the sorted gold string (EM 0)
        ("revenue, cost of sales", ["Revenue", "Cost of sales"], "multi-span", "", 0.0, 1.0),
        # partial multi-span: the spans are joined -> {cost, of, sales, revenue}; pred {revenue}: F1 0.4
        ("revenue", ["Revenue", "Cost of sales"], "multi-span", "", 0.0, 0.4),
        # a single span that contains "; " is also read whole
        ("a; c", ["a; c"], "span", "", 1.0, 1.0),
        ("c; a", ["c; a"], "span", "", 1.0, 1.0),
        # scale: gold 1,234 thousand = 1234000; the prediction's number times its own scale must equal it
        ("1,234 thousand", 1234, "arithmetic", "thousand", 1.0, 1.0),
        ("$1,234 thousands", 1234, "arithmetic", "thousand", 1.0, 1.0),
        ("1234000", 1234, "arithmetic", "thousand", 1.0, 1.0),
        ("1.234 million", 1234, "arithmetic", "thousand", 0.0, 0.0),  # rounded to 1.23 million first (official)
        ("1.23 million", 1226, "arithmetic", "thousand", 0.0, 0.0),  # no conversion that rounds a wrong one right
        ("0 million", 3.61, "arithmetic", "million", 0.0, 0.0),
        ("0 billion", 3.61, "arithmetic", "million", 0.0, 0.0),
        ("1234", 1234, "arithmetic", "thousand", 0.0, 0.0),  # a bare number is in units: wrong scale
        ("1,234 million", 1234, "arithmetic", "thousand", 0.0, 0.0),
        ("$19.1 million thousand", ["$19.1 million"], "span", "thousand", 1.0, 1.0),  # the annotation's own form
        # percent: gold 23.42 with scale percent -> 0.2342
        ("23.42%", 23.42, "arithmetic", "percent", 1.0, 1.0),
        ("23.42 percent", 23.42, "arithmetic", "percent", 1.0, 1.0),
        ("0.2342", 23.42, "arithmetic", "percent", 1.0, 1.0),  # official add_percent_pred
        ("23.42", 23.42, "arithmetic", "percent", 0.0, 0.0),  # no scale: wrong, as officially
        ("23.4%", 23.42, "arithmetic", "percent", 0.0, 0.0),
        ("(59.9)%", ["(59.9)"], "span", "percent", 1.0, 1.0),
        ("-59.9%", ["(59.9)"], "span", "percent", 1.0, 1.0),
        ("59.9%", ["(59.9)"], "span", "percent", 0.0, 0.0),
        ("25; 28%", ["25", "28"], "multi-span", "percent", 1.0, 1.0),
        ("25%; 28%", ["25", "28"], "multi-span", "percent", 1.0, 1.0),
        ("(66)%; (223)%%", ["(66)%", "(223)%"], "multi-span", "percent", 1.0, 1.0),
        ("among the top 5%", ["among the top 5%"], "span", "", 1.0, 1.0),  # text keeps its "%"
        ("1.74%-1.94%", ["1.74%-1.94%"], "span", "", 1.0, 1.0),
        # rounding to 2 decimals
        ("12.345", 12.35, "arithmetic", "", 1.0, 1.0),
        ("12.344", 12.35, "arithmetic", "", 0.0, 0.0),
        ("12.3", 12.35, "arithmetic", "", 0.0, 0.0),  # arithmetic: F1 = EM, no partial credit
        ("(12.5)", -12.5, "arithmetic", "", 1.0, 1.0),
        ("-12.5", "(12.5)", "arithmetic", "", 1.0, 1.0),
        # count
        ("3", 3, "count", "", 1.0, 1.0),
        ("3.0", "3", "count", "", 1.0, 1.0),
        ("4", 3, "count", "", 0.0, 0.0),
        # numeric span with scale
        ("$1.2 million", ["$1.2"], "span", "million", 1.0, 1.0),
        ("12.5%", ["12.5%"], "span", "percent", 1.0, 1.0),
        # the official normaliser strips ASCII punctuation only: a curly apostrophe is a character of the word
        ("the Company\u2019s policy", ["the Company\u2019s policy"], "span", "", 1.0, 1.0),
        ("the Company's policy", ["the Company\u2019s policy"], "span", "", 0.0, 0.5),
        # missing / empty prediction
        (None, 12.35, "arithmetic", "", 0.0, 0.0),
        ("", ["x"], "span", "", 0.0, 0.0),
        ("   ", ["x"], "span", "", 0.0, 0.0),
        (";", ["x"], "span", "", 0.0, 0.0),
    ],
)
def test_tatqa_em_f1(pred, gold, atype, scale, em, f1):
    assert M.tatqa_em_f1(pred, gold, atype, scale) == (pytest.approx(em), pytest.approx(f1))


@pytest.mark.parametrize(
    "text, readings",
    [
        ("1.2 million", [(["1.2"], "million")]),
        ("(59.9)%", [(["(59.9)"], "percent")]),
        ("12 percent", [(["12"], "percent")]),
        ("25; 28%", [(["25", "28"], "percent"), (["25", "28"], "percent"), (["25; 28%"], "")]),
        ("Revenue; Cost of sales", [(["Revenue", "Cost of sales"], ""), (["Revenue; Cost of sales"], "")]),
        ("thousands of employees", [(["thousands of employees"], "")]),
        ("$19.1 million thousand", [(["$19.1 million"], "thousand")]),
        (None, []),
        ("", []),
    ],
)
def test_tatqa_readings(text, readings):
    assert M.tatqa_readings(text) == readings


def test_tatqa_json_gold_forms():
    # a span gold given as a bare string, an arithmetic gold given as a one-element list
    assert M.tatqa_em_f1("Revenue", "Revenue", "span", "") == (1.0, 1.0)
    assert M.tatqa_em_f1("5", ["5"], "arithmetic", "") == (1.0, 1.0)


# --- vectorised bootstrap paths agree with the sklearn functions, draw for draw -----------------------------------
def _random_items(n, seed):
    import random

    rng = random.Random(seed)
    labels = ["negative", "neutral", "positive"]
    return [[rng.choice(labels), rng.choice(labels + [None, "bullish"])] for _ in range(n)]


@pytest.mark.parametrize("metric", ["macro_f1", "weighted_f1", "mcc"])
@pytest.mark.parametrize("n", [1, 7, 300])
def test_confusion_bootstrap_equals_sklearn_per_draw(metric, n):
    from finbench import stats

    labels = ["negative", "neutral", "positive"]
    items = _random_items(n, seed=n)
    fn = {"macro_f1": M.macro_f1, "weighted_f1": M.weighted_f1, "mcc": M.mcc}[metric]
    generic = stats.bootstrap_distribution(items, lambda xs: fn(xs, labels), n_boot=50, seed=3)
    codes, n_codes = M.confusion_codes(items, labels)
    fast = M.from_confusion(stats.bootstrap_counts(codes, n_codes, n_boot=50, seed=3), len(labels), metric)
    np.testing.assert_allclose(fast, generic, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n", [3, 40, 500])
def test_headline_count_bootstrap_equals_sklearn_per_draw(n):
    import random

    from finbench import stats

    rng = random.Random(n)
    types = ["price_up", "price_down", "past_info"]
    items = [[rng.choice(types), rng.choice(["yes", "no"]), rng.choice(["yes", "no", None])] for _ in range(n)]
    generic = stats.bootstrap_distribution(items, M.headline_avg_f1, n_boot=50, seed=5)
    codes, n_codes, n_types = M.headline_codes(items)
    fast = M.headline_avg_f1_from_counts(stats.bootstrap_counts(codes, n_codes, n_boot=50, seed=5), n_types)
    np.testing.assert_allclose(fast, generic, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n", [3, 40, 500])
def test_headline_yes_f1_counts_equal_sklearn(n):
    import random

    rng = random.Random(100 + n)
    types = ["price_up", "price_down", "past_info"]
    items = [[rng.choice(types), rng.choice(["yes", "no"]), rng.choice(["yes", "no", None, "maybe"])] for _ in range(n)]
    assert M.headline_yes_f1(items) == pytest.approx(np.mean(list(M.per_type_f1(items, "yes").values())), abs=1e-12)
    codes, n_codes, n_types = M.headline_codes(items)
    counts = np.bincount(codes, minlength=n_codes)
    assert M.headline_avg_f1_from_counts(counts, n_types) == pytest.approx(M.headline_avg_f1(items), abs=1e-12)


def test_unknown_confusion_metric_is_an_error():
    with pytest.raises(ValueError, match="unknown confusion metric"):
        M.from_confusion(np.zeros((1, 16)), 3, "recall")


def test_entities_to_tags_one_line_per_mention():
    # FIN3's signature pages: "LLC" is an entity once (after "ASHFORD VENTURE I ,") and plain text elsewhere; listing
    # it once tags one occurrence, the first free one; a name listed twice tags two occurrences.
    tokens = "ASHFORD VENTURE I , LLC , By PRISA GP , LLC David Brooks Title David Brooks".split()
    ents = [("ASHFORD VENTURE I", "ORG"), ("LLC", "ORG"), ("David Brooks", "PER"), ("David Brooks", "PER")]
    tags, unplaced = M.entities_to_tags(tokens, ents)
    assert tags == ["I-ORG"] * 3 + ["O", "I-ORG"] + ["O"] * 6 + ["I-PER"] * 2 + ["O"] + ["I-PER"] * 2
    assert unplaced == 0
    once, _ = M.entities_to_tags(tokens, ents[:3])
    assert once[-2:] == ["O", "O"] and once[11:13] == ["I-PER", "I-PER"]
    # an occurrence lost to an overlap does not use up the mention: the free "America" is tagged
    tags, _ = M.entities_to_tags(
        "Bank of America and America".split(), [("America", "LOC"), ("Bank of America", "ORG")]
    )
    assert tags == ["I-ORG"] * 3 + ["O", "I-LOC"]


_REGISTRY_ITEMS = {
    "mean": [1, 0, 0, 1, 1] * 5,
    "macro_f1_sentiment": [["positive", "positive"], ["negative", None], ["neutral", "negative"]] * 9,
    "weighted_f1_sentiment": [["positive", "neutral"], ["negative", "negative"], ["neutral", None]] * 7,
    "mcc_sentiment": [["positive", "positive"], ["negative", "neutral"], ["neutral", "neutral"]] * 6,
    "macro_f1_entity_type": [["person", "person"], ["location", "organization"], ["organization", None]] * 5,
    "weighted_f1_entity_type": [["person", "location"], ["location", "location"], ["organization", None]] * 5,
    "mcc_entity_type": [["person", "person"], ["location", "organization"], ["organization", None]] * 5,
    "macro_f1_letters": [["A", "A"], ["B", "C"], ["D", None], ["C", "C"]] * 6,
    "headline_avg_f1": [["price_up", "yes", "yes"], ["price_down", "yes", "no"], ["past_info", "no", None]] * 4,
    "headline_yes_f1": [["price_up", "yes", "yes"], ["price_down", "yes", "no"], ["past_info", "no", "yes"]] * 4,
    "ner_entity_f1": [[["I-PER", "O"], ["I-PER", "O"]], [["I-ORG", "I-ORG"], ["O", "I-ORG"]]] * 3,
    "judge_mean": [{"verdict": 1}, {"verdict": 0}, {"verdict": 1}] * 4,
}


def test_every_aggregation_a_task_names_is_registered():
    from finbench import registry

    named = {m.aggregation for t in registry.TASKS.values() for m in t.metrics}
    assert named <= set(M.AGGREGATIONS) and set(_REGISTRY_ITEMS) == set(M.AGGREGATIONS)
    assert all(str(a) == name and M.aggregation(name) is a for name, a in M.AGGREGATIONS.items())
    assert M.aggregation("no_such") is None


@pytest.mark.parametrize("name", sorted(_REGISTRY_ITEMS))
def test_registry_draws_equal_the_generic_bootstrap_of_the_corpus_function(name):
    """Each aggregation's bootstrap (vectorised where it has a counts form) = its corpus function on each resample."""
    agg, items = M.AGGREGATIONS[name], _REGISTRY_ITEMS[name]
    assert (agg.counts is not None) == (
        name.startswith(("macro_f1", "weighted_f1", "mcc")) or name == "headline_avg_f1"
    )
    fast = agg.draws(items, n_boot=50, seed=11)
    generic = stats.bootstrap_distribution(items, agg.fn, n_boot=50, seed=11)
    assert fast == pytest.approx(generic, abs=1e-12, nan_ok=True)
