"""Twitter Financial News Sentiment: sent_train.csv -> train (+dev), sent_valid.csv -> test; 0/1/2 = neg/pos/neu."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ._common import Reader, Splits, carve_dev

FILES = {"train": "tfns/sent_train.csv", "test": "tfns/sent_valid.csv"}
SOURCE = (
    "huggingface.co/datasets/zeroshot/twitter-financial-news-sentiment (sent_train.csv, sent_valid.csv; a GitHub copy: "
    "github.com/umaima-aman/Twee_Sentiment_Analysis-DeepLearning commit 0286b19b)"
)
# Upstream convention: 0 = Bearish, 1 = Bullish, 2 = Neutral. (FinLoRA's tfns_test.jsonl swaps 1 and 2: not used.)
LABELS = {0: "negative", 1: "positive", 2: "neutral"}


def convert(raw_label: object) -> str | None:
    """The canonical label for a raw 0/1/2 label (int or digit string), None when it is not one."""
    s = str(raw_label).strip()
    return LABELS.get(int(s)) if s.isdigit() else None


def parse(reader: Reader, part: str, path: Path) -> list[dict]:
    rows = []
    rd = csv.reader(io.StringIO(reader.text(path, "utf-8"), newline=""))
    header = next(rd, None)
    if header is None or [h.strip() for h in header] != ["text", "label"]:
        reader.problem(path, "line 1", f"expected header 'text,label', got {header!r}")
    n, prev = 0, rd.line_num
    for rec in rd:
        first, prev = prev + 1, rd.line_num
        if not rec:  # blank (or undecodable, already a problem) line
            continue
        n += 1
        where = f"line {first}"
        if len(rec) != 2:
            reader.problem(path, where, f"expected 2 columns, got {len(rec)}")
            continue
        tweet, raw = rec
        lab = convert(raw)
        if lab is None:
            reader.problem(path, where, f"label {raw!r} is not 0, 1 or 2")
        elif not tweet.strip():
            reader.problem(path, where, "empty text")
        else:
            rows.append({"id": f"tfns-{part}-{n}", "text": tweet, "label": lab})
    return rows


def build(train: list[dict], test: list[dict], reader: Reader) -> Splits:
    train, dev = carve_dev(train, group=lambda r: r["text"], exclude={r["text"] for r in test})
    return reader.done({"train": train, "dev": dev, "test": test})


def load(root: Path) -> Splits:
    reader = Reader("tfns", root, SOURCE)
    parts = {part: parse(reader, part, reader.path(rel)) for part, rel in FILES.items()}
    return build(parts["train"], parts["test"], reader)
