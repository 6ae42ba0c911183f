"""finbench.metrics' per-sample registry: score_results, every task's process_results, over the registry's
per-sample functions (what each metric logs for one document; a function that does not apply logs nothing)."""

from __future__ import annotations

from finbench import metrics, registry


def test_classification_logs_pairs_for_the_f1s_and_counts_missing():
    task = registry.get("finbench_ner_cls")
    assert metrics.score_results(task, {"label": "person"}, ["person"]) == {
        "acc": 1,
        "macro_f1": ["person", "person"],
        "weighted_f1": ["person", "person"],
        "mcc": ["person", "person"],
        "missing": 0,
        "score": ["person", "person"],
    }
    assert metrics.score_results(task, {"label": "person"}, [None])["missing"] == 1


def test_multiple_choice_takes_the_most_likely_choice_and_the_first_on_a_tie():
    task = registry.get("finbench_headline_mc")  # choices no, yes
    doc = {"question_type": "price_up", "label": "yes"}
    assert metrics.score_results(task, doc, [(-2.0, False), (-0.5, True)])["score"] == ["price_up", "yes", "yes"]
    assert metrics.score_results(task, doc, [(-1.0, False), (-1.0, False)])["acc"] == 0  # tie: "no"
    assert metrics.mc_choice([(-3.0, False), (-1.0, False), (-1.0, False)], "abc") == "b"


def test_mmlu_logs_the_subject_accuracy_of_its_own_subject_only():
    doc = {"label": "B", "subject": "econometrics"}
    out = metrics.score_results(registry.get("finbench_mmlu_finance_gen"), doc, ["B"])
    assert out == {"acc": 1, "macro_f1": ["B", "B"], "acc_econometrics": 1, "missing": 0, "score": 1}


class CountingJudge:
    """FinanceBench's judge is a paid API: a stand-in that records each grading call."""

    def __init__(self):
        self.calls = []

    def grade(self, question, answer, reply):
        self.calls.append(reply)
        return {"verdict": 1, "reply": "CORRECT", "judge": "stub"}


def test_financebench_judges_open_questions_once_and_numbers_by_the_numeric_rule():
    task, judge = registry.get("finbench_financebench"), CountingJudge()
    open_q = {"numeric": False, "question": "Why?", "answer": "Costs rose."}
    out = metrics.score_results(task, open_q, ["Because costs rose."], judge=judge)
    assert judge.calls == ["Because costs rose."]  # judge_acc and score share one verdict
    verdict = {"verdict": 1, "reply": "CORRECT", "judge": "stub"}
    assert out == {"judge_acc": verdict, "missing": 0, "score": 1}
    number = {"numeric": True, "question": "Capex?", "answer": "$1,577.00"}
    assert metrics.score_results(task, number, [1577.0], judge=judge) == {"numeric_acc": 1, "missing": 0, "score": 1}
    assert len(judge.calls) == 1  # numeric questions are never judged
    assert metrics.score_results(task, open_q, ["Because."]) == {"missing": 0}  # judge none: no score item


def test_numeric_qa_scores_yes_no_turns_as_text():
    task = registry.get("finbench_convfinqa")
    assert metrics.score_results(task, {"answer": "yes", "answer_str": "yes"}, ["yes"]) == {
        "em": 1,
        "exec_acc": 1,
        "missing": 0,
        "score": 1,
    }
    out = metrics.score_results(task, {"answer": 0.1424, "answer_str": "14.2%"}, [0.1424])
    assert (out["em"], out["exec_acc"]) == (0, 1)  # a fraction for the written percent: executed, not strict
