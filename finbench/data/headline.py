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


def parse(reader: Reader, path: Path) -> list[tuple[str, str, dict[str, str]]]:
    """(group id, headline, {question_type: yes/no}) per usable row, first occurrence of each headline kept.
    csv handles quoting (one headline holds a quoted line break); ids use the row's first line number."""
    rd = csv.reader(io.StringIO(reader.text(path, "utf-8"), newline=""), delimiter="\t")
    header = next(rd, None) or []
    missing = [c for c in ("News", *(q[0] for q in QUESTIONS)) if c not in header]
    if missing:
        reader.problem(path, "line 1", f"header lacks column(s) {missing}")
        return []
    col = {name: header.index(name) for name in header}
    out = []
    seen: dict[str, int] = {}
    prev = rd.line_num
    for rec in rd:
        first, prev = prev + 1, rd.line_num
        where = f"line {first}"
        if not rec:  # blank (or undecodable, already a problem) line
            continue
        if len(rec) != len(header):
            reader.problem(path, where, f"expected {len(header)} tab-separated columns, got {len(rec)}")
            continue
        text = " ".join(rec[col["News"]].split())
        values = {qtype: rec[col[column]].strip() for column, qtype, _ in QUESTIONS}
        bad = {k: v for k, v in values.items() if v not in ("0", "1")}
        key = text.lower()
        if not text:
            reader.problem(path, where, "empty headline")
        elif bad:
            reader.problem(path, where, f"non-binary value(s) {bad}")
        elif key in seen:
            reader.problem(path, where, f"duplicate of the headline on line {seen[key]} (dropped)")
        else:
            seen[key] = first
            out.append((f"headline-{first}", text, {k: "yes" if v == "1" else "no" for k, v in values.items()}))
    return out


def load(root: Path) -> Splits:
    reader = Reader("headline", root, SOURCE)
    rows = parse(reader, reader.path(FILE))
    part = partition((g for g, _, _ in rows), FRACTIONS)
    splits: dict[str, list[dict]] = {name: [] for name in FRACTIONS}
    for group, text, answers in rows:
        for _, qtype, question in QUESTIONS:
            splits[part[group]].append(
                {
                    "id": f"{group}-{qtype}",
                    "headline": text,
                    "group": group,
                    "question_type": qtype,
                    "question": question,
                    "label": answers[qtype],
                }
            )
    return reader.done(splits)
