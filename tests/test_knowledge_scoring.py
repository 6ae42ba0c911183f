"""Scoring of the knowledge tasks: FinanceMath's accuracy rule as (input, expected) facts, option-letter extraction,
gold answers in the prompt's format scoring perfectly on the whole real test sets, constant answers against
independent counts, and the FinanceBench judge against a scripted OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from answer_server import answer_server
from conftest import ROOT, real_data_dir
from finbench import data, extract, judge, metrics, prompts

real = pytest.mark.skipif(
    real_data_dir() is None or not (real_data_dir() / "knowledge").is_dir(),
    reason="needs the real data (FINBENCH_DATA_DIR with knowledge/)",
)


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"finbench_tasks_{name}", ROOT / "tasks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(ROOT / "tasks"))
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(ROOT / "tasks"))
    return mod


knowledge, utils = _module("knowledge"), _module("utils")


# -- FinanceMath's rule ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "pred,gold,expected",
    [
        (-8184.0, -8184.0, True),
        (-8184.3, -8184.0, True),  # within 0.15 %
        (-8200.0, -8184.0, False),  # 0.2 % off
        (8184.0, -8184.0, True),  # rule 1: |pred| / |gold| = 1 (the sign is ignored)
        (818.4, -8184.0, True),  # rule 1: a factor of 10 is accepted as well
        (12.5, 0.125, True),  # a percent for a fraction (factor 100)
        (0.125, 12.5, True),
        (12.51, 0.125, True),  # rule 2: 0.125 x 100 within 0.15 % of 12.51
        (12.6, 0.125, False),
        (0.0011, 0.0019, True),  # rule 3: both round UP to 0.002 (42 % apart)
        (0.0021, 0.0019, False),  # 0.003 vs 0.002, and 10 % apart
        (0.0, 0.0, True),
        (0.0004, 0.0, False),
        (None, 1.0, False),
        (float("nan"), 1.0, False),
    ],
)
def test_financemath_rule(pred, gold, expected):
    assert metrics.financemath_match(pred, gold) is expected


def test_financemath_strict_is_the_tolerance_alone():
    assert metrics.financemath_strict(100.1, 100.0) and not metrics.financemath_strict(-100.0, 100.0)
    assert not metrics.financemath_strict(10.0, 100.0) and metrics.financemath_match(10.0, 100.0)


# -- letters -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "reply,letter",
    [
        ("C", "C"),
        ("C. 4%", "C"),
        ("(B)", "B"),
        ("**D**", "D"),
        ("The answer is (B).", "B"),
        ("Answer: D", "D"),
        ("I choose option A because ...", "A"),
        ("Answer:\nB. Demand", "B"),
        ("B\n\nExplanation: A is wrong", "B"),
        ("A company would...", None),
        ("The answer is a loss", None),
        ("Neither (A) nor (B)", None),
        ("", None),
        (None, None),
        ("E", None),
    ],
)
def test_extract_letter(reply, letter):
    assert extract.extract_letter(reply) == letter


# -- gold in the prompt's format, constants: the whole real test sets ---------------------------------------------
@real
def test_mmlu_gold_scores_perfectly_and_constant_d_is_the_majority_baseline():
    test = data.load_splits("mmlu_finance").splits["test"]
    gold = [
        knowledge.results_mmlu_finance_gen(d, [extract.extract_letter(prompts.target("mmlu_finance_gen", d))])
        for d in test
    ]
    assert all(g["acc"] == 1 for g in gold) and utils.macro_f1_letters([g["macro_f1"] for g in gold]) == 1.0
    # loglikelihood path: the gold letter's continuation is the most likely one
    ll = [
        knowledge.results_mmlu_finance(d, [(-1.0 if i == knowledge.target_mmlu(d) else -2.0, False) for i in range(4)])
        for d in test
    ]
    assert all(r["acc"] == 1 for r in ll)
    const = [knowledge.results_mmlu_finance_gen(d, ["D"]) for d in test]
    n_d = sum(d["label"] == "D" for d in test)
    assert n_d == 320
    assert sum(r["acc"] for r in const) / len(test) == pytest.approx(320 / 1024)
    f1_d = 2 * (n_d / len(test)) * 1.0 / (n_d / len(test) + 1.0)  # precision 320/1024, recall 1
    assert utils.macro_f1_letters([r["macro_f1"] for r in const]) == pytest.approx(f1_d / 4)
    macro = [r["acc_macro"] for d, r in zip(test, const) if d["subject"] == "high_school_macroeconomics"]
    assert len(macro) == 390 and sum(macro) == 142


@real
def test_financemath_gold_scores_perfectly_and_zero_counts_zeros():
    test = data.load_splits("financemath").splits["test"]
    gold = [
        knowledge.results_financemath(d, knowledge.extract_numbers([[prompts.target("financemath", d)]], [d])[0])
        for d in test
    ]
    assert all(r["acc"] == 1 and r["acc_strict"] == 1 for r in gold)
    zero = [knowledge.results_financemath(d, [0.0]) for d in test]
    assert sum(r["acc"] for r in zero) == sum(d["answer"] == 0 for d in test)


@real
def test_financebench_numeric_gold_scores_perfectly_and_judge_none_scores_only_numbers(monkeypatch):
    monkeypatch.setitem(knowledge._JUDGE, "judge", None)
    test = data.load_splits("financebench").splits["test"]
    replies = [[f"The filing shows it.\n{prompts.target('financebench', d)}"] for d in test]
    out = [knowledge.results_financebench(d, r) for d, r in zip(test, knowledge.extract_financebench(replies, test))]
    scored = [r for r in out if "score" in r]
    assert len(scored) == 52 and all(r["score"] == 1 for r in scored)
    const = [knowledge.results_financebench(d, [0.0]) for d in test if d["numeric"]]
    assert sum(r["score"] for r in const) == sum(metrics.parse_number(d["answer"]) == 0 for d in test if d["numeric"])


# -- the judge -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "reply,verdict",
    [
        ("CORRECT", 1),
        ("Incorrect.", 0),
        ("The answer is correct", 1),
        ("**INCORRECT** - wrong figure", 0),
        ("maybe", None),
        ("", None),
    ],
)
def test_parse_verdict(reply, verdict):
    assert judge.parse_verdict(reply) == verdict


def _scripted(seen: list):
    def answer(prompt: str) -> str:
        seen.append(prompt)
        gold = prompt.split("Gold answer: ", 1)[1].split("\n\nCandidate answer: ")[0]
        cand = prompt.split("Candidate answer: ", 1)[1].split("\n\nThe candidate answer is")[0]
        return "CORRECT" if cand == gold else "INCORRECT"

    return answer


def test_judge_grades_caches_and_records_identity(tmp_path, monkeypatch):
    monkeypatch.setenv("FINBENCH_JUDGE_API_KEY", "sk-judge-secret-123")
    seen: list[str] = []
    with answer_server(_scripted(seen)) as url:
        j = judge.Judge("judge-model", url.removesuffix("/chat/completions"), str(tmp_path / "cache.sqlite"))
        a = j.grade("Was it up?", "Yes", "Yes")
        b = j.grade("Was it up?", "Yes", "No")
        again = j.grade("Was it up?", "Yes", "Yes")
    assert (a["verdict"], b["verdict"], again["verdict"]) == (1, 0, 1)
    assert a["raw"] == "CORRECT" and a["judge"] == "judge-model" and a["served"] == "judge-model"
    assert a["prompt_version"] == judge.PROMPT_VERSION and not a["cached"] and again["cached"]
    assert len(seen) == 2  # the third verdict came from the cache
    assert "sk-judge-secret" not in (tmp_path / "cache.sqlite").read_bytes().decode("latin-1")
    assert j.grade("q", "Yes", None)["verdict"] == 0


def test_judge_unreachable_is_a_clear_error(tmp_path):
    j = judge.Judge("m", "http://127.0.0.1:9/v1", "none", retries=1)
    with pytest.raises(judge.JudgeError, match="judge_base_url"):
        j.grade("q", "gold", "answer")
    with pytest.raises(judge.JudgeError, match="judge: none"):
        judge.from_metadata({"judge": "gpt-4o"})
    assert judge.from_metadata({}) is None and judge.from_metadata({"judge": "none"}) is None


@real
def test_calibration_set_with_a_scripted_perfect_judge(tmp_path):
    """The calibration items exist in the data and their expected verdicts are what a judge that knows the answer
    gives (scripted here; a real judge is checked with judge.calibrate against its endpoint)."""
    records = {r["id"]: r for r in data.load_splits("financebench").splits["test"]}
    expected = {(rid, ans): exp for rid, ans, exp in judge.CALIBRATION}

    def answer(prompt: str) -> str:
        cand = prompt.split("Candidate answer: ", 1)[1].split("\n\nThe candidate answer is")[0]
        rid = next(r for r, a in expected if a == cand)
        return "CORRECT" if expected[(rid, cand)] else "INCORRECT"

    with answer_server(answer) as url:
        report = judge.calibrate(judge.Judge("scripted", url, "none"), records)
    assert report["n"] == len(judge.CALIBRATION) and report["agreement"] == 1.0
    assert {rid for rid, _, _ in judge.CALIBRATION} <= set(records)
    assert all(not records[rid]["numeric"] for rid, _, _ in judge.CALIBRATION)


@real
def test_lm_eval_builds_every_knowledge_task_and_neither_group_is_in_finbench_all():
    """lm-eval's TaskManager builds both groups from the YAMLs (configs, functions, data), without a model."""
    import yaml
    from lm_eval.tasks import TaskManager, get_task_dict

    tm = TaskManager(include_path=str(ROOT / "tasks"), include_defaults=False)
    leaves = {}
    for group in ("finbench_knowledge", "finbench_knowledge_gen"):  # lm-eval refuses overlapping groups in one run
        for g in get_task_dict([group], tm).values():
            leaves.update({t.config.task: t for t in (g.values() if isinstance(g, dict) else [g])})
    assert set(leaves) >= {
        "finbench_mmlu_finance",
        "finbench_mmlu_finance_gen",
        "finbench_financemath",
        "finbench_financebench",
    }
    gen = leaves["finbench_mmlu_finance_gen"]
    doc = gen.test_docs()[0]
    assert gen.doc_to_text(doc).endswith("A, B, C, or D.\nAnswer:") and gen.doc_to_target(doc) == doc["label"]
    groups = {f.name: yaml.safe_load(f.read_text()) for f in (ROOT / "tasks").glob("_finbench_*.yaml")}
    members = set()
    todo = ["finbench_all"]
    while todo:
        name = todo.pop()
        for child in next((g["task"] for g in groups.values() if g["group"] == name), []):
            members.add(child)
            todo.append(child)
    assert not members & set(leaves)
