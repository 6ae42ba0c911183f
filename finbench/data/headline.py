"""Gold news headlines (Sinha & Khandait): dedup, seeded 80/10/10 split by headline, 6 yes/no items per headline."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ._common import Reader, Splits, partition

FILE = "headline/gold-dataset-sinha-khandait.csv"
SOURCE = (
    "the Kaggle dataset ankurzing/sentiment-analysis-in-commodity-market-gold (gold-dataset-sinha-khandait.csv; "
    "a GitHub copy: github.com/TGajanan/Sentiment-Analysis-of-Commodity-News-Gold-NLP commit fa6241c3)"
)
# (source column, question_type, question)
QUESTIONS = (
    ("Price Direction Up", "price_up", "Does the news headline talk about price going up?"),
    ("Price Direction Constant", "price_constant", "Does the news headline talk about price staying constant?"),
    ("Price Direction Down", "price_down", "Does the news headline talk about price going down?"),
    ("Asset Comparision", "asset_comparison", "Does the news headline compare gold with any other asset?"),
    ("Past Information", "past_info", "Does the news headline talk about something that has already happened?"),
    ("Future Information", "future_info", "Does the news headline talk about something expected in the future?"),
)
FRACTIONS = {"train": 0.8, "dev": 0.1, "test": 0.1}


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


def parse(reader: Reader, path: Path) -> list[tuple[str, str, dict[str, str]]]:
    """(group id, headline, {question_type: yes/no}) per usable row, first occurrence of each headline kept."""
    lines = reader.lines(path, "utf-8")
    if not lines:
        reader.problem(path, "file", "empty file")
        return []
    header = next(csv.reader([lines[0][1]], delimiter="\t"))
    missing = [c for c in ("News", *(q[0] for q in QUESTIONS)) if c not in header]
    if missing:
        reader.problem(path, "line 1", f"header lacks column(s) {missing}")
        return []
    col = {name: header.index(name) for name in header}
    out = []
    seen: dict[str, int] = {}
    for n, line in lines[1:]:
        if not line.strip():
            continue
        rec = next(csv.reader(io.StringIO(line), delimiter="\t"), [])
        if len(rec) != len(header):
            reader.problem(path, f"line {n}", f"expected {len(header)} tab-separated columns, got {len(rec)}")
            continue
        text = rec[col["News"]].strip()
        values = {qtype: rec[col[column]].strip() for column, qtype, _ in QUESTIONS}
        bad = {k: v for k, v in values.items() if v not in ("0", "1")}
        if not text:
            reader.problem(path, f"line {n}", "empty headline")
        elif bad:
            reader.problem(path, f"line {n}", f"non-binary value(s) {bad}")
        elif normalise(text) in seen:
            reader.problem(path, f"line {n}", f"duplicate of the headline on line {seen[normalise(text)]} (dropped)")
        else:
            seen[normalise(text)] = n
            out.append((f"headline-{n}", text, {k: "yes" if v == "1" else "no" for k, v in values.items()}))
    return out


def load(root: Path) -> Splits:
    reader = Reader("headline", root, SOURCE)
    rows = parse(reader, reader.path(FILE))
    part = partition((g for g, _, _ in rows), FRACTIONS)
    splits: dict[str, list[dict]] = {name: [] for name in FRACTIONS}
    for group, text, answers in rows:
        for _, qtype, question in QUESTIONS:
            splits[part[group]].append({
                "id": f"{group}-{qtype}", "headline": text, "group": group, "question_type": qtype,
                "question": question, "label": answers[qtype],
            })
    return reader.done(splits)
