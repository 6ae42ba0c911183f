"""MMLU's finance-relevant subjects (hendrycks/test CSVs): professional_accounting, econometrics, high-school macro- and
microeconomics -> one record per question {id, subject, question, choices (A-D texts), label (the gold letter)}.

MMLU's `test` is finbench's test (1,024), its `val` finbench's dev (112), its `dev` (the 5 few-shot exemplars per
subject) finbench's train (20). The text is kept as published (no-break spaces and the mojibake of the originals
stay, as in other MMLU results). The test split comes in a seeded order (`--limit N` is a sample).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ._common import Reader, Splits

SUBJECTS = ("professional_accounting", "econometrics", "high_school_macroeconomics", "high_school_microeconomics")
LETTERS = ("A", "B", "C", "D")
PARTS = {"train": "dev", "dev": "val", "test": "test"}  # finbench split -> MMLU split
SOURCE = (
    "MMLU (Hendrycks et al. 2021, github.com/hendrycks/test data.tar; the copy in "
    "github.com/stanford-cs336/assignment5-alignment data/mmlu/) -> knowledge/mmlu_finance/{dev,val,test}/"
)


def _parse(reader: Reader, path: Path, subject: str, part: str) -> list[dict]:
    out = []
    rows = csv.reader(io.StringIO(reader.text(path, "utf-8"), newline=""))
    for n, row in enumerate(rows, 1):
        where = f"row {n} (line {rows.line_num})"
        if len(row) != 6:
            reader.problem(path, where, f"expected 6 columns (question, A, B, C, D, answer), got {len(row)}")
            continue
        label = row[5].strip()
        if label not in LETTERS:
            reader.problem(path, where, f"answer {row[5]!r} is not one of A-D")
            continue
        if not row[0].strip():
            reader.problem(path, where, "empty question")
            continue
        out.append(
            {"id": f"{subject}/{part}/{n}", "subject": subject, "question": row[0], "choices": row[1:5], "label": label}
        )
    return out


def load(root: Path) -> Splits:
    reader = Reader("mmlu_finance", root, SOURCE)
    splits: dict[str, list[dict]] = {}
    for name, part in PARTS.items():
        records = []
        for subject in SUBJECTS:
            path = reader.path(f"knowledge/mmlu_finance/{part}/{subject}_{part}.csv")
            records += _parse(reader, path, subject, part)
        splits[name] = records
    by_id = {r["id"]: r for r in splits["test"]}
    splits["test"] = list(by_id.values())  # file order; load_splits applies the evaluation order
    return reader.done(splits)
