"""Loaders of the knowledge sets (MMLU finance subjects, FinanceMath, FinanceBench): counts equal SOURCE.md on the
real data; malformed rows are counted as problems on small hand-written files; `finbench data check` lists them."""

from __future__ import annotations

import collections
import json
import os
from pathlib import Path

import pytest

from finbench import data
from finbench.config import DataError
from finbench.data.check import check

REAL = os.environ.get("FINBENCH_DATA_DIR", "")
HAVE_REAL = bool(REAL) and REAL != "sample" and (Path(REAL) / "knowledge").is_dir()
real = pytest.mark.skipif(not HAVE_REAL, reason="needs the real data (FINBENCH_DATA_DIR with knowledge/)")


@real
def test_mmlu_finance_counts_equal_source():
    s = data.load_splits("mmlu_finance")
    assert s.counts() == {"train": 20, "dev": 112, "test": 1024} and not s.problems
    test = s.splits["test"]
    assert collections.Counter(r["subject"] for r in test) == {
        "professional_accounting": 282,
        "econometrics": 114,
        "high_school_macroeconomics": 390,
        "high_school_microeconomics": 238,
    }
    # SOURCE.md's A/B/C/D per test file, summed: D is the majority class (320 of 1,024)
    assert collections.Counter(r["label"] for r in test) == {"A": 222, "B": 245, "C": 237, "D": 320}
    macro = collections.Counter(r["label"] for r in test if r["subject"] == "high_school_macroeconomics")
    assert macro == {"A": 79, "B": 86, "C": 83, "D": 142}
    assert all(len(r["choices"]) == 4 for r in test)
    # embedded newlines survive (41 multi-line econometrics questions)
    assert sum("\n" in r["question"] for r in test if r["subject"] == "econometrics") == 41


@real
def test_financemath_counts_equal_source():
    s = data.load_splits("financemath")
    assert s.counts() == {"test": 200} and not s.problems
    topics = {r["topic"] for r in s.splits["test"]}
    assert topics == set(data.financemath.TOPICS)
    acc = data.financemath.published_accuracies(Path(REAL))
    assert acc["gpt-4o"]["accuracy"] == 55.0


@real
def test_financebench_counts_equal_source():
    s = data.load_splits("financebench")
    assert s.counts() == {"test": 150} and not s.problems
    test = s.splits["test"]
    assert len({r["id"] for r in test}) == 150
    assert collections.Counter(r["question_type"] for r in test) == {
        "metrics-generated": 50,
        "domain-relevant": 50,
        "novel-generated": 50,
    }
    assert sum(len(r["evidence"]) for r in test) == 189
    assert sum(r["numeric"] for r in test) == 52  # SOURCE.md: 52 of 150 are a bare number
    assert len({r["company"] for r in test}) == 32 and len({r["doc_name"] for r in test}) == 84
    assert all(r["doc_type"] for r in test)


@real
def test_test_order_is_seeded_not_file_order():
    a = data.published_splits("mmlu_finance") if hasattr(data, "published_splits") else None
    test = data.load_splits("mmlu_finance").splits["test"]
    first = [r["subject"] for r in test[:40]]
    assert len(set(first)) == 4  # the file order would give 40 professional_accounting questions
    data.clear_cache()
    assert [r["id"] for r in data.load_splits("mmlu_finance").splits["test"]] == [r["id"] for r in test]
    if a is not None:
        assert {r["id"] for r in a.splits["test"]} == {r["id"] for r in test}


def _write(root: Path, rel: str, text: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


def test_mmlu_problems_counted(tmp_path):
    for part in ("dev", "val", "test"):
        for subject in data.mmlu_finance.SUBJECTS:
            _write(
                tmp_path,
                f"knowledge/mmlu_finance/{part}/{subject}_{part}.csv",
                'Q1,a,b,c,d,A\n"Multi\nline",a,b,c,d,D\nQ3,a,b,c,d,E\nQ4,a,b,c,B\n',
            )
    s = data.load_splits("mmlu_finance", tmp_path)
    assert s.counts() == {"train": 8, "dev": 8, "test": 8}
    assert len(s.problems) == 24
    assert {p.reason.split(" ")[0] for p in s.problems} == {"answer", "expected"}
    assert any(r["question"] == "Multi\nline" for r in s.splits["test"])


def test_financemath_problems_counted(tmp_path):
    recs = [
        {"question_id": "v-0", "question": "q", "tables": [], "ground_truth": 1.5, "topic": "Accounting"},
        {"question_id": "v-1", "question": "q", "tables": [], "ground_truth": "x", "topic": "Accounting"},
        {"question_id": "v-2", "question": "q", "topic": "Accounting"},
    ]
    _write(tmp_path, "knowledge/financemath/validation.json", json.dumps(recs))
    s = data.load_splits("financemath", tmp_path)
    assert s.counts() == {"test": 1} and len(s.problems) == 2


def test_financebench_problems_counted(tmp_path):
    ok = {
        "financebench_id": "a",
        "company": "X",
        "doc_name": "X_2020_10K",
        "question_type": "metrics-generated",
        "question": "q?",
        "answer": "$1.00",
        "evidence": [{"evidence_text": "e"}],
    }
    rows = [
        ok,
        {**ok, "financebench_id": "b", "answer": "Yes, because."},
        {**ok, "financebench_id": "c", "evidence": []},
        {**ok, "financebench_id": "a"},
        {**ok, "financebench_id": "d", "doc_name": "Y"},
    ]
    _write(tmp_path, data.financebench.FILE, "\n".join(map(json.dumps, rows)) + "\nnot json\n")
    _write(tmp_path, data.financebench.DOCS, json.dumps({"doc_name": "X_2020_10K", "doc_type": "10k"}) + "\n")
    s = data.load_splits("financebench", tmp_path)
    recs = {r["id"]: r for r in s.splits["test"]}
    assert set(recs) == {"a", "b", "d"}
    assert recs["a"]["numeric"] and not recs["b"]["numeric"] and recs["d"]["doc_type"] == ""
    assert len(s.problems) == 4  # empty evidence, duplicate id, invalid JSON line, unknown doc_name


@pytest.mark.parametrize("task", data.KNOWLEDGE)
def test_missing_data_is_a_clear_error(task, tmp_path):
    with pytest.raises(DataError, match=r"FINBENCH_DATA_DIR.*knowledge/"):
        data.load_splits(task, tmp_path)


def test_data_check_lists_knowledge_sets(tmp_path):
    rows = {r["task"]: r for r in check(tmp_path)}
    assert set(data.KNOWLEDGE) <= set(rows)
    assert all(rows[t]["status"] == "missing" for t in data.KNOWLEDGE)
