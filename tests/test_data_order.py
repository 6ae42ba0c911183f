"""The evaluation order of the test splits (finbench.data.order): same documents as the published splits, seeded and
stratified so that every prefix (what `lm_eval --limit N` evaluates) is a sample holding every label."""

from __future__ import annotations

import math
import os
import random
from collections import Counter
from pathlib import Path

import pytest

from finbench import data
from finbench.config import SAMPLE_DIR
from finbench.data.order import STRATA, stratified_order, stratum_of, test_order

REAL = os.environ.get("FINBENCH_DATA_DIR")
HAVE_REAL = bool(REAL) and REAL != "sample" and Path(REAL).is_dir()
realdata = pytest.mark.skipif(not HAVE_REAL, reason="needs FINBENCH_DATA_DIR pointing at the real data dir")
FIXTURES = Path(__file__).parent / "fixtures" / "data"


def _records(counts: dict[str, int]) -> list[dict]:
    return [{"id": f"{label}-{i}", "label": label} for label, n in counts.items() for i in range(n)]


def test_sorted_input_becomes_an_interleaved_order():
    """A file sorted by label (FiQA-SA's and TFNS's are) yields prefixes holding every label in proportion."""
    recs = _records({"negative": 76, "neutral": 18, "positive": 141})  # FiQA-SA's test labels
    out = test_order("fiqa_sa", recs)
    assert sorted(r["id"] for r in out) == sorted(r["id"] for r in recs)
    assert {r["label"] for r in out[:3]} == {"negative", "neutral", "positive"}
    first20 = Counter(r["label"] for r in out[:20])
    assert first20 == {"positive": 12, "negative": 6, "neutral": 2}, first20


def test_every_prefix_is_within_one_of_its_quota_and_holds_every_label():
    counts = {"a": 700, "b": 250, "c": 40, "d": 10}
    total = sum(counts.values())
    out = stratified_order(_records(counts), lambda r: r["label"])
    seen: Counter = Counter()
    for n, rec in enumerate(out, 1):
        seen[rec["label"]] += 1
        for label, size in counts.items():
            assert seen[label] <= math.ceil(n * size / total), (n, label, seen)  # Adams: never above quota
            if n >= len(counts):
                assert seen[label] >= 1, (n, label)
            assert seen[label] >= math.floor(n * size / total) - len(counts), (n, label, seen)


def test_order_is_deterministic_and_independent_of_input_order():
    recs = _records({"x": 30, "y": 12, "z": 5})
    shuffled = list(recs)
    random.Random(7).shuffle(shuffled)
    a = [r["id"] for r in stratified_order(recs, lambda r: r["label"])]
    assert a == [r["id"] for r in stratified_order(shuffled, lambda r: r["label"])]
    # within a stratum the order is a shuffle, not the id order
    xs = [i for i in a if i.startswith("x-")]
    assert xs != sorted(xs)
    assert a != [r["id"] for r in stratified_order(recs, lambda r: r["label"], seed=1)]


def test_unstratified_task_is_a_plain_shuffle():
    recs = [{"id": f"q{i:03d}"} for i in range(50)]
    out = [r["id"] for r in test_order("convfinqa", recs)]
    assert sorted(out) == [r["id"] for r in recs] and out != sorted(out)
    assert stratum_of("convfinqa")({"id": "q", "label": "x"}) == ""


def test_duplicate_ids_are_refused():
    with pytest.raises(ValueError, match="unique"):
        stratified_order([{"id": "a"}, {"id": "a"}], lambda r: "")


@pytest.mark.parametrize("root", [FIXTURES, SAMPLE_DIR], ids=["fixtures", "sample"])
@pytest.mark.parametrize("task", data.TASKS)
def test_load_splits_reorders_only_the_test_split(task, root):
    try:
        ordered = data.load_splits(task, root)
    except data.DataError:
        pytest.skip(f"no {task} data under {root.name}")
    pub = data.published_splits(task, root)
    assert ordered.counts() == pub.counts()
    for name in ("train", "dev"):
        assert ordered.splits.get(name) == pub.splits.get(name)
    assert sorted(r["id"] for r in ordered.splits["test"]) == sorted(r["id"] for r in pub.splits["test"])
    assert [r["id"] for r in ordered.splits["test"]] == [r["id"] for r in test_order(task, pub.splits["test"])]


# -- the real data: membership unchanged, every limited run sees every label ----------------------------------------
REAL_TEST = {
    "fpb": 1212,
    "fiqa_sa": 235,
    "tfns": 2388,
    "headline": 6342,
    "ner": 98,
    "ner_cls": 206,
    "convfinqa": 728,
    "tatqa": 1663,
}  # docs/DATA.md


@pytest.mark.realdata
@realdata
@pytest.mark.parametrize("task", sorted(REAL_TEST))
def test_real_test_membership_unchanged(task):
    ordered = data.load_splits(task, REAL).splits["test"]
    pub = data.published_splits(task, REAL).splits["test"]
    assert len(ordered) == len(pub) == REAL_TEST[task]
    assert sorted(r["id"] for r in ordered) == sorted(r["id"] for r in pub)
    assert Counter(str(sorted(r.items())) for r in ordered) == Counter(str(sorted(r.items())) for r in pub)


@pytest.mark.realdata
@realdata
@pytest.mark.parametrize("task", sorted(STRATA))
@pytest.mark.parametrize("limit", [8, 20, 50])
def test_real_limited_runs_hold_every_stratum(task, limit):
    """What `--limit N` evaluates (the first N documents) holds every label (every question type x label for
    headline), for the limits the README and the demo use; the old file order failed this for FiQA-SA and TFNS."""
    test = data.load_splits(task, REAL).splits["test"]
    key = stratum_of(task)
    strata = {key(r) for r in test}
    if limit < len(strata):
        pytest.skip(f"{task} has {len(strata)} strata")
    assert {key(r) for r in test[:limit]} == strata
    labels = {r["label"] for r in test if "label" in r}
    assert {r["label"] for r in test[:limit] if "label" in r} == labels
