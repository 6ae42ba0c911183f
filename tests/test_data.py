"""Tests for finbench.data: loaders on fixtures (with broken rows), splits, the sample sets, and real-data checks."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from finbench import data
from finbench.config import DATA_ENV, SAMPLE_DIR, DataError
from finbench.data import ALL_TASKS, TASKS, load_splits
from finbench.data._common import Reader, carve_dev, fingpt_input, partition
from finbench.data.check import check, format_check
from finbench.data.convfinqa import page, read_pot, read_tomoro, run_program

FIXTURES = Path(__file__).parent / "fixtures" / "data"
REAL = os.environ.get("FINBENCH_DATA_DIR")
HAVE_REAL = bool(REAL) and REAL != "sample" and Path(REAL).is_dir()
realdata = pytest.mark.skipif(not HAVE_REAL, reason="needs FINBENCH_DATA_DIR pointing at the real data dir")

FIELDS = {
    "fpb": {"id", "text", "label"},
    "tfns": {"id", "text", "label"},
    "fiqa_sa": {"id", "text", "target", "source", "score", "label"},
    "headline": {"id", "headline", "group", "question_type", "question", "label"},
    "ner": {"id", "doc", "tokens", "tags", "text"},
    "ner_cls": {"id", "text", "entity", "label"},
    "convfinqa": {"id", "doc_id", "conv_id", "turn", "context", "history", "question", "answer", "answer_str"},
    "tatqa": {"id", "doc_id", "context", "question", "answer", "answer_type", "scale", "derivation"},
    "finqa": {"id", "doc_id", "context", "question", "answer", "answer_str", "program"},
    "general": {"id", "messages"},
    "math": {"id", "messages"},
}

# (train, dev, test) record counts and problem counts on tests/fixtures/data (which holds deliberately broken rows)
FIXTURE_COUNTS = {
    "fpb": ((13, 2, 5), 2),  # a line without '@', label 'bullish'
    "fiqa_sa": ((14, 1, 6), 5),  # record without info, score 'n/a', score 1.7, broken JSON line, unknown input
    "tfns": ((19, 2, 8), 5),  # invalid UTF-8 line, label 'bullish', label 3, 3 columns, label '1.0'
    "headline": ((102, 12, 12), 4),  # invalid UTF-8 line, 5 columns, value 2, normalised duplicate
    "ner": ((7, 1, 6), 3),  # 3-column line, B-PER tag, invalid UTF-8 in FIN3
    "ner_cls": ((13, 4, 13), 3),
    "convfinqa": ((7, 3, 13), 1),  # tomoro record without 'dialogue'
    "tatqa": ((4, 3, 4), 2),  # question without answer, table not a list
    "finqa": ((4, 2, 3), 2),  # entry without qa, exe_ans null
    "general": ((4,), 2),  # history not pairs, no output
    "math": ((5,), 2),  # broken JSON line, answer without '####'
}


def load(task: str, root: Path = FIXTURES):
    return load_splits(task, root)


def published(task: str, root: Path = FIXTURES):
    """The splits with the test split in the source files' order (load_splits reorders it for evaluation)."""
    return data.published_splits(task, root)


# -- fixtures: counts, problems, fields ----------------------------------------------------------------------
@pytest.mark.parametrize("task", ALL_TASKS)
def test_fixture_counts_and_problems(task):
    s = load(task)
    counts, n_problems = FIXTURE_COUNTS[task]
    names = ("train", "dev", "test")[: len(counts)]
    assert s.counts() == dict(zip(names, counts))
    assert len(s.problems) == n_problems, [str(p) for p in s.problems]
    for rows in s.splits.values():
        for r in rows:
            assert set(r) == FIELDS[task]
            assert isinstance(r["id"], str)
    ids = [r["id"] for rows in s.splits.values() for r in rows]
    assert len(ids) == len(set(ids))
    assert all(p.exists() for p in s.files)


def test_problem_details():
    reasons = {str(p) for p in load("fpb").problems}
    assert "fpb/Sentences_50Agree.txt: line 4: no '@' separating sentence and label" in reasons
    assert "fpb/Sentences_50Agree.txt: line 9: unknown label 'bullish'" in reasons
    tfns = [str(p) for p in load("tfns").problems]
    assert any("not valid utf-8" in p for p in tfns)
    assert any("'1.0' is not 0, 1 or 2" in p for p in tfns)
    head = [str(p) for p in load("headline").problems]
    assert any("duplicate of the headline on line 2" in p for p in head)
    assert any("B-PER" in str(p) for p in load("ner").problems)


def test_fpb_records_latin1():
    s = load("fpb", SAMPLE_DIR)
    texts = [r["text"] for rows in s.splits.values() for r in rows]
    assert any("Kesälahti" in t for t in texts) and any("£" in t for t in texts)
    assert {r["label"] for rows in s.splits.values() for r in rows} == {"negative", "neutral", "positive"}


def test_fpb_fingpt_check_flags_mismatch(tmp_path):
    shutil.copytree(FIXTURES / "fpb", tmp_path / "fpb")
    path = tmp_path / "fpb/fingpt/fpb_test.jsonl"
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    first["target"] = "positive" if first["target"] != "positive" else "negative"
    path.write_text("\n".join([json.dumps(first)] + lines[1:]) + "\n")
    s = load("fpb", tmp_path)
    assert [p.where for p in s.problems if p.file.endswith("fpb_test.jsonl")] == ["line 1"]


def test_fiqa_labels_and_test_match():
    s = published("fiqa_sa")
    fingpt = [
        json.loads(line)
        for line in (FIXTURES / "fiqa_sa/fingpt/fiqa_test.jsonl").read_text().splitlines()
        if line.startswith('{"context": "Instruction: What is the sentiment of this') and line.endswith("}")
    ]
    found = [f for f in fingpt if "not in the FiQA files" not in f["context"]]
    assert [r["text"] for r in s.splits["test"]] == [fingpt_input(f["context"]) for f in found]
    assert [r["label"] for r in s.splits["test"]] == [f["target"] for f in found]
    # the two-aspect headline in test: the aspect whose label matches FinGPT's target is picked, its sibling is
    # kept out of train/dev (same sentence text)
    picked = [r for r in s.splits["test"] if r["text"].startswith("Northgate Foods profit warning")]
    assert [(r["target"], r["label"]) for r in picked] == [("Northgate Foods", "negative")]
    assert not any(r["text"].startswith("Northgate Foods profit") for k in ("train", "dev") for r in s.splits[k])
    from finbench.data.fiqa_sa import label

    assert [label(x) for x in (-0.5, -0.1001, -0.1, 0.0, 0.0999, 0.1, 0.7)] == [
        "negative",
        "negative",
        "neutral",
        "neutral",
        "neutral",
        "positive",
        "positive",
    ]


def test_tfns_label_mapping_and_quoting():
    s = load("tfns")
    by_text = {r["text"]: r["label"] for rows in s.splits.values() for r in rows}
    assert by_text["$KSTM - Kestrel Mining misses on revenue, shares slide"] == "negative"
    assert by_text["$SLBY - Selby Group beats estimates, lifts outlook"] == "positive"
    assert by_text["Fed minutes due at 2pm ET"] == "neutral"
    assert by_text['"$CSTG - Castlegate Bank cut to Sell, target lowered"'] == "negative"
    assert "a tweet with\na line break inside quotes" in by_text


def test_headline_items():
    s = load("headline")
    rows = [r for rows in s.splits.values() for r in rows]
    by_group: dict[str, list[dict]] = {}
    for r in rows:
        by_group.setdefault(r["group"], []).append(r)
    assert all(len(v) == 6 for v in by_group.values())
    assert {r["question_type"] for r in rows} == {
        "price_up",
        "price_constant",
        "price_down",
        "asset_comparison",
        "past_info",
        "future_info",
    }
    climbs = {r["question_type"]: r["label"] for r in by_group["headline-2"]}
    assert climbs == {
        "price_up": "yes",
        "price_constant": "no",
        "price_down": "no",
        "asset_comparison": "no",
        "past_info": "yes",
        "future_info": "no",
    }
    assert any(r["headline"] == "gold holds gains after fed minutes" for r in rows)  # quoted line break


def test_headline_groups_never_split():
    for root in (FIXTURES, SAMPLE_DIR):
        s = load("headline", root)
        where: dict[str, set[str]] = {}
        for name, rows in s.splits.items():
            for r in rows:
                where.setdefault(r["group"], set()).add(name)
        assert all(len(v) == 1 for v in where.values())


def test_ner_records_and_spans():
    s = load("ner", SAMPLE_DIR)
    rows = {r["id"]: r for rows in s.splits.values() for r in rows}
    first = rows["FIN5-0000"]
    assert first["doc"] == 0 and first["tokens"][:2] == ["This", "CREDIT"]
    assert first["text"] == " ".join(first["tokens"]) and len(first["tags"]) == len(first["tokens"])
    assert set(t for r in rows.values() for t in r["tags"]) <= {"O", "I-PER", "I-ORG", "I-LOC", "I-MISC"}
    assert rows["FIN5-0010"]["doc"] == 1 and "FIN5-0009" not in rows  # no entity in 0009
    # FIN3 sentences without PER/ORG/LOC ("3 . REPAYMENT", an I-MISC-only sentence) are not in test
    assert sorted(r["id"] for r in s.splits["test"]) == [
        "FIN3-0000",
        "FIN3-0001",
        "FIN3-0003",
        "FIN3-0004",
        "FIN3-0005",
        "FIN3-0007",
    ]
    assert "\u201cNotice\u201d" in rows["FIN3-0005"]["text"]
    from finbench.data.ner import spans

    assert spans(
        ["a", "HALDEN", "TRUST", "BANK", "and", "Boston", "Kim"],
        ["O", "I-ORG", "I-ORG", "I-ORG", "O", "I-LOC", "I-PER"],
    ) == [("HALDEN TRUST BANK", "ORG"), ("Boston", "LOC"), ("Kim", "PER")]


def test_ner_cls_items():
    s = load("ner_cls", SAMPLE_DIR)
    first = [r for r in s.splits["train"] if r["id"].startswith("FIN5-0000-")]
    assert [(r["entity"], r["label"]) for r in first] == [
        ("HALDEN TRUST BANK", "organization"),
        ("Marlow Industries Inc", "organization"),
    ]
    test = s.splits["test"]
    assert ("Lender", "person") in {(r["entity"], r["label"]) for r in test}
    assert not any(r["entity"] == "English" for r in test)  # MISC is not a ner_cls label
    assert len({(r["text"], r["entity"], r["label"]) for r in test}) == len(test)


def test_convfinqa_records():
    s = load("convfinqa", SAMPLE_DIR)
    rows = {r["id"]: r for rows in s.splits.values() for r in rows}
    t3 = rows["Single_HLD/2015/page_42.pdf-1#3"]
    assert t3["doc_id"] == "HLD/2015/page_42.pdf" and t3["turn"] == 3
    assert t3["history"] == [
        ["what was freight revenue in 2015?", "412.5"],
        ["and in 2014?", "389.1"],
        ["what was the change?", "23.4"],
    ]
    assert t3["answer"] == pytest.approx(0.06014) and t3["answer_str"] == "6.0%"
    assert " | 2015 | 2014" in t3["context"] and "freight | 412.5 | 389.1" in t3["context"]
    assert t3["context"].startswith("halden logistics") and t3["context"].endswith("millions of dollars .")
    assert rows["Single_CVN/2012/page_19.pdf-1#2"]["answer"] == "yes"
    assert rows["Single_PNE/2019/page_55.pdf-3#2"]["answer"] == pytest.approx(600.0)


def test_convfinqa_no_page_in_two_splits():
    for root in (FIXTURES, SAMPLE_DIR):
        s = load("convfinqa", root)
        pages = {name: {r["doc_id"] for r in rows} for name, rows in s.splits.items()}
        assert not pages["train"] & pages["test"] and not pages["dev"] & pages["test"]
        assert not pages["train"] & pages["dev"]
        assert all(pages.values())
    assert page("Double_HLD/2015/page_42.pdf") == page("Single_HLD/2015/page_42.pdf-1") == "HLD/2015/page_42.pdf"


def test_convfinqa_pot_format_matches_tomoro(tmp_path):
    (tmp_path / "convfinqa").mkdir()
    shutil.copy(FIXTURES / "convfinqa/pot_convfinqa_dev.json", tmp_path / "convfinqa")
    pot = load("convfinqa", tmp_path)
    tom = load("convfinqa", FIXTURES)
    assert len(pot.problems) == 2  # __import__ call, division by zero
    assert all("malformed conversation" in p.reason for p in pot.problems)
    a = {r["id"]: r for rows in pot.splits.values() for r in rows}
    b = {r["id"]: r for rows in tom.splits.values() for r in rows}
    assert set(a) == set(b)
    for key, r in a.items():
        if isinstance(r["answer"], str):
            assert r["answer"] == b[key]["answer"]
        else:
            assert r["answer"] == pytest.approx(b[key]["answer"], rel=1e-4)
    assert pot.counts() == tom.counts()  # same pages -> same halves


def test_run_program_is_safe_and_exact():
    assert run_program("x0 = 60.94 - 25.14; ans = x0 / 25.14") == 1.42403
    assert run_program("ans = 13.4%") == 0.134
    assert run_program("ans = 36197 > 345059") == "no"
    assert run_program("ans = -(2 + 3) * 4") == -20.0
    for bad in (
        "ans = __import__('os').system('true')",
        "ans = x9 + 1",
        "ans = 2 ** 3",
        "x0 = 1",
        "ans = 1 / 0",
        "import os; ans = 1",
        "ans = (1 > 0) + 1",
        "ans = 'a'",
    ):
        with pytest.raises(ValueError):
            run_program(bad)


def test_tatqa_records():
    s = load("tatqa", SAMPLE_DIR)
    r = next(
        r for r in s.splits["train"] + s.splits["dev"] if r["question"].startswith("What is the change in service")
    )
    assert r["answer"] == 15.4 and r["answer_type"] == "arithmetic" and r["scale"] == "million"
    assert r["derivation"] == "310.4-295.0" and r["doc_id"] == "dev-table-0"
    assert r["context"].startswith(" | 2019 | 2018\nProduct revenue | $ 1,204.6 | $ 1,088.2")
    # paragraphs follow `order`, even when the file lists them reversed (fixture)
    t = load("tatqa").splits["test"]
    ctx = next(x["context"] for x in t if x["doc_id"] == "test-table-1")
    assert ctx.index("Lease liabilities are discounted") < ctx.index("The average incremental")


def test_finqa_records():
    s = published("finqa", SAMPLE_DIR)
    r = s.splits["test"][0]
    assert r["id"] == "BRW/2019/page_12.pdf-1" and r["doc_id"] == "BRW/2019/page_12.pdf"
    assert r["answer"] == pytest.approx(0.12884) and r["answer_str"] == "12.9%"
    assert r["program"] == "divide(310.5, 2410)"
    assert "operating income | 310.5 | 288.0" in r["context"]
    assert r["context"].startswith("brightwell group") and r["context"].endswith("figures in millions .")
    assert any(x["answer"] == "yes" for x in s.splits["train"])


def test_general_and_math_messages():
    lima = load("general", SAMPLE_DIR).splits["train"]
    multi = lima[2]["messages"]
    assert [m["role"] for m in multi] == ["user", "assistant", "user", "assistant"]
    assert multi[0]["content"].startswith("If interest rates fall")
    gsm = load("math", SAMPLE_DIR).splits["train"]
    ans = gsm[0]["messages"][1]["content"]
    assert "<<" not in ans and ">>" not in ans
    assert ans == "The pens cost 7 * 3 = $21.\nHer change is 50 - 21 = $29.\n#### 29"


# -- splits ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", TASKS)
def test_splits_deterministic(task):
    a = load(task)
    data.clear_cache()
    b = load(task)
    assert a.splits == b.splits
    assert [str(p) for p in a.problems] == [str(p) for p in b.problems]


def test_cache_returns_fresh_containers():
    a = load("fpb")
    a.splits["test"][0]["label"] = "changed"
    a.splits["test"].clear()
    b = load("fpb")
    assert b.splits["test"] and b.splits["test"][0]["label"] != "changed"


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("root", [FIXTURES, SAMPLE_DIR], ids=["fixtures", "sample"])
def test_dev_never_overlaps_test(task, root):
    s = load(task, root)
    if "dev" not in s.splits:
        return
    dev, test = s.splits["dev"], s.splits["test"]
    assert not {r["id"] for r in dev} & {r["id"] for r in test}
    key = {"headline": "group", "convfinqa": "doc_id", "tatqa": "doc_id", "finqa": "id"}.get(task, "text")
    assert not {r[key] for r in dev} & {r[key] for r in test}


def test_seeded_helpers():
    keys = [f"k{i}" for i in range(50)]
    p1 = partition(keys, {"train": 0.8, "dev": 0.1, "test": 0.1})
    p2 = partition(list(reversed(keys)), {"train": 0.8, "dev": 0.1, "test": 0.1})
    assert p1 == p2
    assert sorted(list(p1.values()).count(n) for n in ("train", "dev", "test")) == [5, 5, 40]
    assert set(partition(["a", "b", "c"], {"train": 0.8, "dev": 0.1, "test": 0.1}).values()) == {"train", "dev", "test"}
    rows = [{"g": g} for g in "aabbccddeeffgghhiijj"]
    tr, dv = carve_dev(rows, group=lambda r: r["g"], exclude={"a"})
    assert len(dv) == 2 and len({r["g"] for r in dv}) == 1 and dv[0]["g"] != "a"
    assert carve_dev(rows, group=lambda r: r["g"]) == carve_dev(list(rows), group=lambda r: r["g"])


# -- the sample sets ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", ALL_TASKS)
def test_sample_dir_loads(task, monkeypatch):
    monkeypatch.setenv(DATA_ENV, "sample")
    s = load_splits(task)
    assert not s.problems, [str(p) for p in s.problems]
    if task in TASKS:
        assert set(s.splits) == {"train", "dev", "test"}
        assert all(s.splits[k] for k in ("train", "dev", "test"))
    else:
        assert set(s.splits) == {"train"} and s.splits["train"]
    assert all(SAMPLE_DIR in p.parents for p in s.files)


def test_sample_readme_says_synthetic():
    text = (SAMPLE_DIR / "README.md").read_text().lower()
    assert "synthetic" in text and "never benchmark" in text


def test_sample_fpb_fingpt_file_matches_split():
    s = published("fpb", SAMPLE_DIR)
    lines = (SAMPLE_DIR / "fpb/fingpt/fpb_test.jsonl").read_text().splitlines()
    assert [fingpt_input(json.loads(x)["context"]) for x in lines] == [r["text"] for r in s.splits["test"]]


# -- missing data ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", ALL_TASKS)
def test_missing_file_raises_dataerror(task, tmp_path):
    with pytest.raises(DataError) as e:
        load_splits(task, tmp_path)
    msg = str(e.value)
    assert "FINBENCH_DATA_DIR" in msg
    assert re.search(r"\b(fpb|fiqa_sa|tfns|headline|ner|convfinqa|tatqa|finqa|general|math)/\S+", msg)
    assert str(tmp_path) in msg


def test_missing_messages_name_path_and_source(tmp_path):
    with pytest.raises(DataError, match=r"fpb/Sentences_50Agree\.txt.*yya518/FinBERT"):
        load_splits("fpb", tmp_path)
    with pytest.raises(DataError, match=r"github\.com/czyssrs/FinQA \(dataset/\*\.json\).*\$FINBENCH_DATA_DIR/finqa/"):
        load_splits("finqa", tmp_path)
    with pytest.raises(DataError, match="convfinqa/tomoro_convfinqa_dataset_dev.json"):
        load_splits("convfinqa", tmp_path)


def test_unset_or_bad_dir_and_unknown_task(monkeypatch, tmp_path):
    monkeypatch.delenv(DATA_ENV, raising=False)
    with pytest.raises(DataError, match=DATA_ENV):
        load_splits("fpb")
    with pytest.raises(DataError, match="not a directory"):
        load_splits("fpb", tmp_path / "nope")
    with pytest.raises(DataError, match="unknown finbench data task"):
        load_splits("nope", FIXTURES)


def test_hf_mode_other_tasks_need_local_dir():
    with pytest.raises(DataError, match="local"):
        load_splits("ner", "hf")


def test_whole_file_not_json_is_dataerror(tmp_path):
    (tmp_path / "general").mkdir()
    (tmp_path / "general/lima.json").write_text("[{not json")
    with pytest.raises(DataError, match="not a valid UTF-8 JSON file"):
        load_splits("general", tmp_path)


# -- check ---------------------------------------------------------------------------------------------------------
def test_check_rows_and_table(tmp_path):
    shutil.copytree(FIXTURES, tmp_path / "d")
    shutil.rmtree(tmp_path / "d/finqa")
    rows = {r["task"]: r for r in check(tmp_path / "d")}
    assert set(rows) == set(ALL_TASKS + data.KNOWLEDGE)
    assert rows["finqa"]["status"] == "missing" and "czyssrs/FinQA" in rows["finqa"]["message"]
    fpb = rows["fpb"]
    assert fpb["status"] == "found" and fpb["counts"] == {"train": 13, "dev": 2, "test": 5} and fpb["problems"] == 2
    f0 = fpb["files"][0]
    assert f0["path"] == "fpb/Sentences_50Agree.txt" and f0["size"] == (tmp_path / "d" / f0["path"]).stat().st_size
    assert re.fullmatch(r"[0-9a-f]{12}", f0["sha256"])
    table = format_check(list(rows.values()))
    assert "fpb" in table and "missing" in table and "sha256" in table and "czyssrs/FinQA" in table


def test_check_without_data_dir(monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    rows = check()
    assert all(r["status"] == "missing" and DATA_ENV in r["message"] for r in rows)


# -- real data (skipped unless FINBENCH_DATA_DIR is the real data dir) -------------------------------------------------
REAL_COUNTS = {
    "fpb": {"train": 3271, "dev": 363, "test": 1212},
    "fiqa_sa": {"train": 823, "dev": 92, "test": 235},
    "tfns": {"train": 8589, "dev": 954, "test": 2388},
    "headline": {"train": 50730, "dev": 6342, "test": 6342},
    "ner": {"train": 460, "dev": 51, "test": 98},
    "ner_cls": {"train": 723, "dev": 77, "test": 206},
    "convfinqa": {"train": 694, "dev": 68, "test": 728},
    "tatqa": {"train": 1500, "dev": 168, "test": 1663},
    "general": {"train": 1029},
    "math": {"train": 7473},
}
REAL_PROBLEMS = {"headline": 1}  # one headline duplicated after normalisation (lines 9925 / 10479)


def real_fingpt(rel: str) -> list[dict]:
    return [json.loads(x) for x in (Path(REAL) / rel).read_text(encoding="utf-8").splitlines() if x.strip()]


@pytest.mark.realdata
@realdata
@pytest.mark.parametrize("task", sorted(REAL_COUNTS))
def test_real_counts(task):
    s = load_splits(task, REAL)
    assert s.counts() == REAL_COUNTS[task]
    assert len(s.problems) == REAL_PROBLEMS.get(task, 0), [str(p) for p in s.problems]


@pytest.mark.realdata
@realdata
def test_real_finqa_is_missing_with_instructions():
    if (Path(REAL) / "finqa/test.json").exists():
        pytest.skip("FinQA present in this data dir")
    with pytest.raises(DataError, match=r"github\.com/czyssrs/FinQA"):
        load_splits("finqa", REAL)


@pytest.mark.realdata
@realdata
def test_real_fpb_test_is_the_fingpt_split():
    """Computed test split == fpb/fingpt/fpb_test.jsonl position by position: texts compare EXACTLY (the odd
    characters SOURCE.md calls mojibake are in the latin-1 original too, so no normalisation is needed), labels too."""
    test = published("fpb", REAL).splits["test"]
    fingpt = real_fingpt("fpb/fingpt/fpb_test.jsonl")
    assert len(test) == len(fingpt) == 1212
    assert [r["text"] for r in test] == [fingpt_input(f["context"]) for f in fingpt]
    assert [r["label"] for r in test] == [f["target"] for f in fingpt]


@pytest.mark.realdata
@realdata
def test_real_fiqa_test_is_the_fingpt_235():
    test = published("fiqa_sa", REAL).splits["test"]
    fingpt = real_fingpt("fiqa_sa/fingpt/fiqa_test.jsonl")
    assert len(test) == len(fingpt) == 235
    assert [r["text"] for r in test] == [fingpt_input(f["context"]) for f in fingpt]
    assert [r["label"] for r in test] == [f["target"] for f in fingpt]
    assert [r["source"] for r in test] == ["post" if "this tweet" in f["context"] else "headline" for f in fingpt]


@pytest.mark.realdata
@realdata
def test_real_ner_test_is_the_fingpt_98():
    test = published("ner", REAL).splits["test"]
    fingpt = real_fingpt("ner/fingpt/ner_test.jsonl")
    assert [r["text"] for r in test] == list(dict.fromkeys(fingpt_input(f["context"]) for f in fingpt))
    assert len(test) == 98
    # every (sentence, entity, type) FinGPT asks about is one of the ner_cls test items
    cls = {(r["text"], r["entity"], r["label"]) for r in load_splits("ner_cls", REAL).splits["test"]}
    asked = {
        (fingpt_input(f["context"]), re.search(r"'(.*)'", f["context"].split("\n")[0]).group(1), f["target"])
        for f in fingpt
    }
    assert asked <= cls


@pytest.mark.realdata
@realdata
def test_real_tfns_test_is_sent_valid():
    s = load_splits("tfns", REAL)
    assert len(s.splits["test"]) == 2388
    assert [r["label"] for r in s.splits["test"]].count("positive") == 475  # label 1 (Bullish)


@pytest.mark.realdata
@realdata
def test_real_convfinqa_pot_agrees_with_tomoro():
    root = Path(REAL)
    reader = Reader("convfinqa", root, "")
    tom = read_tomoro(reader, root / "convfinqa/tomoro_convfinqa_dataset_dev.json")
    pot = read_pot(reader, root / "convfinqa/pot_convfinqa_dev.json")
    assert not reader.problems
    assert [c["id"] for c in tom] == [c["id"] for c in pot] and len(tom) == 421
    mismatches = []
    for a, b in zip(tom, pot):
        assert a["questions"] == b["questions"]
        for t, (x, y) in enumerate(zip(a["answers"], b["answers"])):
            same = x == y if isinstance(x, str) or isinstance(y, str) else y == pytest.approx(x, rel=1e-4, abs=1e-9)
            if not same:
                mismatches.append((a["id"], t, x, y))
    assert sum(len(c["answers"]) for c in tom) == 1490
    assert not mismatches, mismatches[:10]


@pytest.mark.realdata
@realdata
def test_real_convfinqa_pages_disjoint():
    s = load_splits("convfinqa", REAL)
    pages = {name: {r["doc_id"] for r in rows} for name, rows in s.splits.items()}
    assert not pages["train"] & pages["test"] and not pages["dev"] & pages["test"] and not pages["dev"] & pages["train"]
    assert {k: len(v) for k, v in pages.items()} == {"train": 98, "dev": 11, "test": 109}
