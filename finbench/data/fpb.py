"""Financial PhraseBank (50Agree): latin-1 `sentence@label` lines -> records; test = FinGPT's 25% split."""

from __future__ import annotations

from pathlib import Path

from ._common import SEED, SENTIMENT_LABELS, Reader, Splits, carve_dev, fingpt_input

FILE = "fpb/Sentences_50Agree.txt"
FINGPT = "fpb/fingpt/fpb_test.jsonl"
SOURCE = (
    "the Financial PhraseBank v1.0 zip (FinancialPhraseBank-v1.0/Sentences_50Agree.txt; e.g. github.com/yya518/FinBERT "
    "commit be92b390, or huggingface.co/datasets/takala/financial_phrasebank)"
)


def parse(reader: Reader, path: Path) -> list[dict]:
    rows = []
    for n, line in reader.lines(path, "latin-1"):
        if not line.strip():
            continue
        text, sep, label = line.rpartition("@")
        label = label.strip()
        if not sep or not text.strip():
            reader.problem(path, f"line {n}", "no '@' separating sentence and label")
        elif label not in SENTIMENT_LABELS:
            reader.problem(path, f"line {n}", f"unknown label {label!r}")
        else:
            rows.append({"id": f"fpb-{n}", "text": text, "label": label})
    return rows


def fingpt_split(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """FinGPT's split: datasets.Dataset over the rows in file order, train_test_split(test_size=0.25, seed=42);
    both halves in the order datasets returns them."""
    import datasets

    ds = datasets.Dataset.from_dict({"i": list(range(len(rows)))})
    parts = ds.train_test_split(test_size=0.25, seed=SEED)
    return [rows[i] for i in parts["train"]["i"]], [rows[i] for i in parts["test"]["i"]]


def check_fingpt(reader: Reader, test: list[dict]) -> None:
    """When fpb/fingpt/fpb_test.jsonl is present, every position must hold the same text and label."""
    path = reader.path(FINGPT, required=False)
    if path is None:
        return
    items = reader.jsonl(path)
    if len(items) != len(test):
        reader.problem(path, "file", f"{len(items)} FinGPT test items but the computed split has {len(test)}")
    for (n, obj), row in zip(items, test):
        text = fingpt_input(str(obj.get("context", "")))
        if text != row["text"] or obj.get("target") != row["label"]:
            reader.problem(path, f"line {n}", f"differs from computed test item {row['id']}")


def build(rows: list[dict], reader: Reader, check: bool = True) -> Splits:
    train, test = fingpt_split(rows) if len(rows) >= 2 else (rows, [])
    if check:
        check_fingpt(reader, test)
    train, dev = carve_dev(train, group=lambda r: r["text"], exclude={r["text"] for r in test})
    return reader.done({"train": train, "dev": dev, "test": test})


def load(root: Path) -> Splits:
    reader = Reader("fpb", root, SOURCE)
    path = reader.path(FILE)
    return build(parse(reader, path), reader)
