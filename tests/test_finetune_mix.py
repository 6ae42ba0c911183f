"""Mixtures (train splits only, evaluation prompts, byte-reproducible) and the leakage guard, on the sample sets."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, cli, real_data_dir
from finbench import data, prompts
from finbench.config import SAMPLE_DIR, DataError
from finbench.finetune import leakage, mix, recipe
from finbench.finetune.leakage import LeakageError

SMOKE = ROOT / "finetune" / "recipes" / "smoke.yaml"


def _recipe(**mixture) -> recipe.Recipe:
    base = {"tasks": [{"task": "fpb", "cap": 5}, {"task": "ner", "cap": 3}, {"task": "tatqa", "cap": 2}]}
    return recipe.from_dict({"name": "t", "mixture": {**base, **mixture}})


def test_records_are_train_documents_in_the_eval_format(sample_data):
    m = mix.build(_recipe())
    assert m.manifest["sources"]["fpb"]["taken"] == 5 and m.manifest["examples"] == 10
    for rec in m.records:
        task = rec["source"]
        splits = data.load_splits(task).splits
        train = {f"{task}/{d['id']}": d for d in splits["train"]}
        others = {f"{task}/{d['id']}" for s in ("dev", "test") for d in splits.get(s, [])}
        assert rec["id"] in train and rec["id"] not in others
        doc = train[rec["id"]]
        assert rec["messages"] == [
            {"role": "user", "content": prompts.prompt(task, doc)},
            {"role": "assistant", "content": prompts.target(task, doc)},
        ]


def test_byte_identical_for_a_seed_and_different_for_another(sample_data):
    r = _recipe()
    a, b = mix.dumps(mix.build(r).records), mix.dumps(mix.build(r).records)
    assert a == b
    other = dataclasses.replace(r, training={**r.training, "seed": 7})
    assert mix.dumps(mix.build(other).records) != a


def test_general_and_math_shares(sample_data):
    m = mix.build(_recipe(general=1.0, math=0.5))
    sources = m.manifest["sources"]
    finance = sum(sources[t]["taken"] for t in ("fpb", "ner", "tatqa"))
    assert sources["math"]["asked"] == round(0.5 * finance) == sources["math"]["taken"]
    assert sources["general"]["asked"] == finance
    assert sources["general"]["taken"] == min(finance, sources["general"]["available"])
    counts = {s: sum(r["source"] == s for r in m.records) for s in ("general", "math")}
    assert counts == {"general": sources["general"]["taken"], "math": sources["math"]["taken"]}
    if sources["general"]["taken"] < finance:
        assert any(n.startswith("general: asked for") for n in m.manifest["notes"])


def test_dev_mixture_for_selection_uses_dev_split_only(sample_data):
    r = _recipe(general=1.0, dev_cap=2)
    m = mix.build(r, "dev")
    assert {x["source"] for x in m.records} <= {"fpb", "ner", "tatqa"}
    for rec in m.records:
        dev = {f"{rec['source']}/{d['id']}" for d in data.load_splits(rec["source"]).splits["dev"]}
        assert rec["id"] in dev


def test_missing_train_split_is_a_clear_error(tmp_path, monkeypatch):
    shutil.copytree(SAMPLE_DIR, tmp_path / "d")
    shutil.rmtree(tmp_path / "d" / "tatqa")
    monkeypatch.setenv("FINBENCH_DATA_DIR", str(tmp_path / "d"))
    data.clear_cache()
    with pytest.raises(DataError, match="tatqa"):
        mix.build(_recipe())


def test_shipped_smoke_mixture_passes_the_guard(sample_data):
    report = leakage.guard(mix.build(recipe.load(SMOKE)).records)
    assert report.clean and report.examples > 0 and "no overlap" in report.format()


def test_normalise_ignores_case_accents_spacing_punctuation():
    assert leakage.normalise("Net sales  rose , to EUR 5 mn .") == leakage.normalise("net sales rose to EUR 5mn")
    assert leakage.normalise("Café") == leakage.normalise("cafe")
    assert leakage.text_key("a b") != leakage.text_key("a c")


def test_guard_flags_test_documents_by_id_text_and_page(sample_data):
    test = {t: data.load_splits(t).splits["test"] for t in ("fpb", "convfinqa")}
    fpb_doc, page_doc = test["fpb"][0], test["convfinqa"][0]
    by_id = {
        "id": f"fpb/{fpb_doc['id']}",
        "source": "fpb",
        "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}],
    }
    # a "general" example whose user turn is a test sentence, re-spaced and re-cased
    by_text = {
        "id": "general/lima-x",
        "source": "general",
        "messages": [
            {"role": "user", "content": fpb_doc["text"].upper().replace(" ", "  ")},
            {"role": "assistant", "content": "ok"},
        ],
    }
    # a ConvFinQA training turn on the same report page as a test turn: a train record edited to point at it
    train_doc = data.load_splits("convfinqa").splits["train"][0]
    edited = dict(train_doc, doc_id=page_doc["doc_id"])
    assert "convfinqa" in leakage.leaked("convfinqa", edited, leakage.test_index())
    report = leakage.check([by_id, by_text])
    assert not report.clean
    assert report.overlaps[("fpb", "fpb")] == 1 and report.overlaps[("general", "fpb")] == 1
    with pytest.raises(LeakageError, match="Training stopped"):
        leakage.guard([by_id, by_text])
    assert not leakage.guard([by_id], allow=True).clean


def test_decontaminate_drops_leaked_train_documents(tmp_path, monkeypatch):
    """A LIMA example that repeats an FPB test sentence is dropped (and counted) by the builder, kept without it."""
    shutil.copytree(SAMPLE_DIR, tmp_path / "d")
    lima = tmp_path / "d" / "general" / "lima.json"
    monkeypatch.setenv("FINBENCH_DATA_DIR", str(tmp_path / "d"))
    data.clear_cache()
    sentence = data.load_splits("fpb").splits["test"][0]["text"]
    rows = json.loads(lima.read_text())
    rows.append({"instruction": sentence, "input": "", "output": "positive", "history": []})
    lima.write_text(json.dumps(rows))
    data.clear_cache()
    r = _recipe(general=50.0)
    m = mix.build(r)
    assert m.manifest["sources"]["general"]["leaked_dropped"] == 1
    assert leakage.check(m.records).clean
    dirty = dataclasses.replace(r, mixture=dataclasses.replace(r.mixture, decontaminate=False))
    report = leakage.check(mix.build(dirty).records)
    assert report.overlaps[("general", "fpb")] == 1


def test_cli_mix_and_check_leakage(tmp_path, monkeypatch):
    """`finbench finetune mix` and `check-leakage` in this process (the console entry point is covered elsewhere;
    a subprocess here would re-import trl and transformers for each command)."""
    monkeypatch.setenv("FINBENCH_DATA_DIR", "sample")  # restored after the test; --data-dir sets it
    out = tmp_path / "mix.jsonl"
    proc = cli("finetune", "mix", SMOKE, "-o", out, "--data-dir", "sample")
    assert proc.returncode == 0, proc.stderr
    records = mix.read(out)
    assert len(records) == json.loads(proc.stdout[: proc.stdout.index("\n}") + 2])["examples"]
    ok = cli("finetune", "check-leakage", "--mixture", out, "--data-dir", "sample")
    assert ok.returncode == 0 and "no overlap" in ok.stdout
    test_doc = data.load_splits("fpb", SAMPLE_DIR).splits["test"][0]
    records.append({"id": f"fpb/{test_doc['id']}", "source": "fpb", "messages": records[0]["messages"]})
    out.write_text(mix.dumps(records))
    bad = cli("finetune", "check-leakage", "--mixture", out, "--data-dir", "sample")
    assert bad.returncode == 1 and "share a document with the fpb test split" in bad.stderr


@pytest.mark.realdata
@pytest.mark.skipif(real_data_dir() is None, reason="needs FINBENCH_DATA_DIR pointing at the real data dir")
@pytest.mark.slow
def test_shipped_cocktail_on_real_data_is_clean_and_reproducible(tmp_path):
    """`finbench finetune mix` on the shipped cocktail recipe: paper caps, decontaminated, the guard passes. Built
    twice, by the console entry point in a subprocess and in this process (where the leakage index is then built
    once for the build and the check): the two files are byte-identical."""
    cocktail = ROOT / "finetune" / "recipes" / "cocktail_general_math.yaml"
    cmd = [sys.executable, "-m", "finbench.cli", "finetune", "mix", str(cocktail), "-o", str(tmp_path / "a.jsonl")]
    first = subprocess.run(cmd, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    proc = cli("finetune", "mix", cocktail, "-o", tmp_path / "b.jsonl")
    assert proc.returncode == 0, proc.stderr
    outs = [(tmp_path / name).read_bytes() for name in ("a.jsonl", "b.jsonl")]
    assert outs[0] == outs[1]
    manifest = json.loads(proc.stdout[: proc.stdout.index("\n}") + 2])
    src = manifest["sources"]
    assert (
        src["headline"]["taken"] == 10000
        and src["fpb"]["taken"] == src["fpb"]["available"] - src["fpb"]["leaked_dropped"]
    )
    assert src["fpb"]["leaked_dropped"] > 0  # the FinGPT FPB split repeats test sentences in train
    finance = sum(
        src[t]["taken"] for t in ("headline", "fpb", "fiqa_sa", "tfns", "ner", "ner_cls", "convfinqa", "tatqa")
    )
    # all of LIMA but what decontamination drops (2 examples repeat a knowledge-set test question or passage)
    assert src["general"]["asked"] == finance
    assert src["general"]["taken"] == src["general"]["available"] - src["general"]["leaked_dropped"]
    assert src["math"]["asked"] == round(0.5 * finance)
    assert src["math"]["taken"] == min(src["math"]["asked"], src["math"]["available"])
    assert "no overlap" in proc.stdout
    check = cli("finetune", "check-leakage", "--mixture", tmp_path / "a.jsonl")
    assert check.returncode == 0 and "no overlap" in check.stdout


PARAGRAPH = (
    "We adopted the provisions of Topic 606 in fiscal 2019 utilizing the modified retrospective method and "
    "recorded a cumulative effect adjustment, net of tax, to the opening balance of retained earnings, with a "
    "decrease to receivables and an increase to inventories."
)


@pytest.fixture
def near_dup_data(tmp_path, monkeypatch):
    """The sample sets plus three near-duplicates of test documents in train files: a TFNS tweet without its ticker
    prefix and with a URL, an FPB test sentence inside a longer sentence, a TAT-QA paragraph in another table."""
    root = tmp_path / "d"
    shutil.copytree(SAMPLE_DIR, root)
    monkeypatch.setenv("FINBENCH_DATA_DIR", str(root))
    data.clear_cache()
    tweet = next(d["text"] for d in data.load_splits("tfns").splits["test"] if "Fairlight" in d["text"])
    # "$FRLT - Fairlight Pharma initiated at Outperform"
    sentence = next(d["text"] for d in data.load_splits("fpb").splits["test"] if "Baltic" in d["text"])
    with open(root / "tfns" / "sent_train.csv", "a", newline="") as fh:
        fh.write(f'"{tweet.split(" - ", 1)[1]} https://t.co/Zz9Yy8Xx7W",1\r\n')
    fpb_file = root / "fpb" / "Sentences_50Agree.txt"  # a train line rewritten (a new line would move the split)
    lines = fpb_file.read_bytes().decode("latin-1").split("\r\n")
    n = int(data.load_splits("fpb").splits["train"][0]["id"].split("-")[1])
    lines[n - 1] = f"According to the report , t{sentence[1:]} , up from 15 % .@positive"
    fpb_file.write_bytes("\r\n".join(lines).encode("latin-1"))
    test_path, dev_path = root / "tatqa" / "tatqa_dataset_test_gold.json", root / "tatqa" / "tatqa_dataset_dev.json"
    test, dev = json.loads(test_path.read_text()), json.loads(dev_path.read_text())
    test[0]["paragraphs"].append({"uid": "p-x", "order": 99, "text": PARAGRAPH})
    other = json.loads(json.dumps(dev[0]))
    other["table"]["uid"] = "dev-table-x"
    other["paragraphs"] = [{"uid": "p-y", "order": 1, "text": "Other paragraph. " + PARAGRAPH}]
    for i, q in enumerate(other["questions"]):
        q["uid"] = f"dev-q-x-{i}"
    test_path.write_text(json.dumps(test))
    dev_path.write_text(json.dumps(dev + [other]))
    data.clear_cache()
    probes = {"tfns": "Zz9Yy8Xx7W", "fpb": "According to the report", "tatqa": "Other paragraph."}
    for task, probe in probes.items():  # the planted documents are train records (not dev) with a new text key
        hits = [d for d in data.load_splits(task).splits["train"] if probe in d.get("text", d.get("context", ""))]
        assert hits and not leakage.leaked(task, hits[0], leakage.test_index()), task
    yield {"tfns": tweet, "fpb": sentence, "tatqa": PARAGRAPH}
    data.clear_cache()


def test_mix_drops_near_duplicates_and_lists_them(near_dup_data):
    tasks = [{"task": t, "cap": 1000} for t in ("tfns", "fpb", "tatqa")]
    r = recipe.from_dict({"name": "t", "mixture": {"tasks": tasks}})
    m = mix.build(r)
    src = m.manifest["sources"]
    n_questions = len(data.load_splits("tatqa").splits["train"]) - src["tatqa"]["taken"]
    assert src["tfns"]["near_duplicates_dropped"] == 1 == src["fpb"]["near_duplicates_dropped"]
    assert src["tatqa"]["near_duplicates_dropped"] == n_questions >= 1  # every question on the planted table
    assert src["tfns"]["taken"] == src["tfns"]["available"] - src["tfns"]["leaked_dropped"]
    assert {d["source"] for d in m.dropped if d["why"] == "near-duplicate"} == {"tfns", "fpb", "tatqa"}
    tweet = next(d for d in m.dropped if d["source"] == "tfns")
    planted = next(d["id"] for d in data.load_splits("tfns").splits["test"] if d["text"] == near_dup_data["tfns"])
    assert tweet["test"][0]["tests"] == [f"tfns/{planted}"]
    assert "Fairlight Pharma initiated at Outperform https://t.co/Zz9Yy8Xx7W" in tweet["test"][0]["train_text"]
    assert leakage.check(m.records).clean
    dirty = dataclasses.replace(r, mixture=dataclasses.replace(r.mixture, decontaminate=False))
    report = leakage.check(mix.build(dirty).records)
    assert {(p["source"], p["test_tasks"][0]) for p in report.pairs} == {
        ("tfns", "tfns"),
        ("fpb", "fpb"),
        ("tatqa", "tatqa"),
    }
    assert report.overlaps[("fpb", "fpb")] == 1 and not report.clean


def test_cli_check_leakage_names_near_duplicates_side_by_side(near_dup_data, tmp_path):
    r = tmp_path / "r.yaml"
    r.write_text("name: t\nmixture:\n  tasks:\n  - {task: tfns, cap: 100}\n  - {task: fpb, cap: 100}\n")
    out = tmp_path / "m" / "mix.jsonl"
    proc = cli("finetune", "mix", r, "-o", out)
    assert proc.returncode == 0, proc.stderr
    dropped = [json.loads(line) for line in (tmp_path / "m" / "mix.dropped.jsonl").read_text().splitlines()]
    assert {d["source"] for d in dropped} == {"tfns", "fpb"}
    ok = cli("finetune", "check-leakage", "--mixture", out)
    assert ok.returncode == 0 and "no overlap" in ok.stdout
    # the mixture a guard without near-duplicates wrote: the dropped examples back in
    records = mix.read(out)
    train = {f"tfns/{d['id']}": d for d in data.load_splits("tfns").splits["train"]}
    records += [mix._record("tfns", train[d["id"]]) for d in dropped if d["source"] == "tfns"]
    out.write_text(mix.dumps(records))
    bad = cli("finetune", "check-leakage", "--mixture", out)
    assert bad.returncode == 1, bad.stdout
    test_line = next(ln for ln in bad.stderr.splitlines() if ln.strip().startswith("test  tfns/"))
    train_line = bad.stderr.splitlines()[bad.stderr.splitlines().index(test_line) + 1]
    assert near_dup_data["tfns"] in test_line
    assert (
        train_line.strip().startswith("train tfns/")
        and "Fairlight Pharma initiated at Outperform https://t.co/" in train_line
    )


def test_data_check_counts_test_records_with_a_near_duplicate_in_train(near_dup_data):
    from finbench.data.check import check, format_check

    rows = {r["task"]: r for r in check()}
    assert rows["tfns"]["train_near_duplicates"] == [1, rows["tfns"]["counts"]["test"]]
    assert rows["fpb"]["train_near_duplicates"][0] == 1
    tatqa_records = sum(
        d["doc_id"] == data.load_splits("tatqa").splits["test"][0]["doc_id"]
        for d in data.load_splits("tatqa").splits["test"]
    )
    assert rows["tatqa"]["train_near_duplicates"][0] == tatqa_records  # every question on the planted table
    assert rows["ner"]["train_near_duplicates"][0] == 0 and "train_near_duplicates" not in rows["general"]
    text = format_check(list(rows.values()))
    assert f"tfns: 1 of {rows['tfns']['counts']['test']} test records" in text and "ner: 0 of" not in text


@pytest.mark.realdata
@pytest.mark.skipif(real_data_dir() is None, reason="needs FINBENCH_DATA_DIR pointing at the real data dir")
@pytest.mark.slow  # builds the leakage index over every real test split (~25 s, as long as the rest of this module)
def test_the_knowledge_sets_test_splits_are_in_the_leakage_index():
    """FinanceBench evidence (10-K pages), FinanceMath and MMLU finance questions: a training example that repeats one
    is caught, exactly (same text) or as a near-duplicate (a filing page inside a longer report context)."""
    index = leakage.test_index()
    assert not set(data.KNOWLEDGE) & set(index.missing)
    for task in data.KNOWLEDGE:
        assert sum(t == task for t in index.ids.values()) == len(data.load_splits(task).splits["test"])
    question = data.load_splits("mmlu_finance").splits["test"][0]["question"]
    assert leakage.leaked("fpb", {"id": "x", "text": question, "label": "neutral"}, index) == {"mmlu_finance"}
    bench = data.load_splits("financebench").splits["test"][0]
    page = max(bench["evidence"], key=len)
    words = page.split()
    context = "Unrelated opening remarks of the annual report. " + " ".join(words[: min(len(words), 400)])
    record = {
        "id": "tatqa/x",
        "source": "tatqa",
        "messages": [
            {"role": "user", "content": f"Context:\n{context}\n\nQuestion: What was it?"},
            {"role": "assistant", "content": "1"},
        ],
    }
    hits = leakage.near_duplicates([record], index)
    assert hits and "financebench" in {t for h in hits[0] for t in h["test_tasks"]}
    clean = {
        "id": "tatqa/y",
        "source": "tatqa",
        "messages": [
            {"role": "user", "content": "Context:\nThe cat sat on the mat for a while.\n\nQuestion: ?"},
            {"role": "assistant", "content": "1"},
        ],
    }
    assert not leakage.near_duplicates([clean], index)
