"""The shipped cocktail on the real data, checked by plain substring search (not finbench.decontam's n-grams).

Every TFNS test tweet and FPB test sentence of at least 5 words and every TAT-QA test paragraph over 200 characters,
normalised (case, accents, URLs, cashtags, punctuation and spacing removed), is looked for as a substring of every
message of the mixture. Shorter texts are bot boilerplate ("On the hour", "$COMDX: Metals Settlement Prices",
"Welcome !") that finbench deliberately compares by exact hash only (finetune/README.md).
"""

from __future__ import annotations

import json
import re
import unicodedata

import pytest

from finbench import data
from finbench.finetune import leakage, mix, recipe
from helpers import ROOT, cli, real_data_dir

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(real_data_dir() is None, reason="needs FINBENCH_DATA_DIR pointing at the real data"),
]
COCKTAIL = ROOT / "finetune" / "recipes" / "cocktail.yaml"


def _norm(text: str) -> str:
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).lower()
    text = re.sub(r"\$[a-z][a-z0-9._]*", " ", re.sub(r"(?:https?://|www\.)\S*", " ", text))
    return " " + " ".join(re.sub(r"[\W_]+", " ", text).split()) + " "


def _test_texts() -> list[tuple[str, str]]:
    """(task/record id, text) of every test tweet and sentence of >= 5 words, every long TAT-QA paragraph."""
    out = [
        (f"{t}/{d['id']}", d["text"])
        for t in ("tfns", "fpb")
        for d in data.load_splits(t).splits["test"]
        if len(_norm(d["text"]).split()) >= 5
    ]
    seen = set()
    for d in data.load_splits("tatqa").splits["test"]:
        for p in d["context"].split("\n"):
            if len(p) > 200 and "|" not in p and p not in seen:
                seen.add(p)
                out.append((f"tatqa/{d['id']}", p))
    return out


def _contained(records: list[dict]) -> list[str]:
    hay = "\n".join(_norm(m["content"]) for r in records for m in r["messages"])
    return [rid for rid, text in _test_texts() if _norm(text) in hay]


@pytest.mark.slow  # builds the 22k-record cocktail on the real data and checks it against every test split (minutes)
def test_mix_of_the_shipped_cocktail_contains_no_test_text(tmp_path):
    out = tmp_path / "cocktail.jsonl"
    proc = cli("finetune", "mix", COCKTAIL, "-o", out)  # in this process: the leakage index is built once here
    assert proc.returncode == 0, proc.stderr
    assert "no overlap" in proc.stdout
    records = mix.read(out)
    assert len(records) > 20000 and len(_test_texts()) > 3000
    assert _contained(records) == []
    dropped = [json.loads(line) for line in mix.dropped_path(out).read_text().splitlines()]
    manifest = json.loads(proc.stdout[: proc.stdout.index("\n}") + 2])
    for task, info in manifest["sources"].items():
        assert info["leaked_dropped"] == sum(d["source"] == task for d in dropped)
    assert manifest["sources"]["tfns"]["near_duplicates_dropped"] > 0


@pytest.mark.slow  # the same mixture again, and the leakage check over it (minutes)
def test_check_leakage_on_a_mixture_written_before_near_duplicates_names_them(tmp_path, monkeypatch):
    """The mixture the exact-hash guard wrote (this build with near-duplicates switched off: byte-identical to main's
    output before the change, sha256 402d0b1a… on this data) fails, and every test tweet, sentence and paragraph the
    substring search finds in it is named, beside the training example."""
    with monkeypatch.context() as m:
        m.setattr(leakage, "near_duplicates", lambda records, index: {})
        old = mix.build(recipe.load(COCKTAIL)).records
    assert len(old) == 22464
    found = _contained(old)
    assert sum(f.startswith("tfns/") for f in found) >= 14 and any(f.startswith("fpb/") for f in found)
    path = tmp_path / "old.jsonl"
    path.write_text(mix.dumps(old))
    proc = cli("finetune", "check-leakage", "--mixture", path)
    assert proc.returncode == 1, proc.stdout
    lines = proc.stderr.splitlines()
    named = {}
    for i, line in enumerate(lines):
        if line.startswith("    test  "):
            assert lines[i + 1].startswith("    train ")
            named.setdefault(line.split()[1].rstrip(":"), lines[i + 1])
    report = leakage.check(old)
    shown_as = {t: p["tests"][0] for p in report.pairs for t in p["tests"]}  # a text's records are shown by its first
    assert set(found) <= set(shown_as)
    assert {shown_as[f] for f in found} <= set(named)
    intelsat = next(p for p in report.pairs if "Intelsat cut to Market Perform at Raymond James" in p["test_text"])
    assert intelsat["tests"][0] in named and "$I - Intelsat cut to Market Perform" in named[intelsat["tests"][0]]


def test_data_check_counts_at_least_the_test_tweets_contained_in_the_train_files():
    from finbench import decontam

    train = "\n".join(_norm(d["text"]) for s in ("train", "dev") for d in data.load_splits("tfns").splits[s])
    contained = {
        d["id"]
        for d in data.load_splits("tfns").splits["test"]
        if len(_norm(d["text"]).split()) >= 5 and _norm(d["text"]) in train
    }
    n, total = decontam.train_overlap("tfns")
    assert total == 2388 and len(contained) >= 14 and n >= len(contained)
