"""`finbench data check`: per task, found/missing, counts per split, problems, and size + sha256 of each file read."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from pathlib import Path

from finbench.config import DataError, is_sample

from . import ALL_TASKS, KNOWLEDGE, load_splits, resolve


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:12]


# Records in the published files (docs/DATA.md, each folder's SOURCE.md): a file that reads fewer is cut or edited.
PUBLISHED = {
    "fpb/Sentences_50Agree.txt": 4846,
    "fpb/fingpt/fpb_test.jsonl": 1212,
    "fiqa_sa/fingpt/fiqa_test.jsonl": 235,
    "tfns/sent_train.csv": 9543,
    "tfns/sent_valid.csv": 2388,
    "tfns/fingpt/tfns_test.jsonl": 2388,
    "headline/gold-dataset-sinha-khandait.csv": 10570,
    "ner/fingpt/ner_test.jsonl": 3502,
    "math/gsm8k/train.jsonl": 7473,
    "math/gsm8k/test.jsonl": 1319,
}
LINE_FILES = (".csv", ".tsv", ".txt", ".jsonl")


def last_record_whole(path: Path) -> bool:
    """For a line-oriented file without a final newline: is its last record whole? Some published files end without
    one (two MMLU test CSVs, byte for byte as released: knowledge/mmlu_finance/SOURCE.md), so the missing newline
    alone proves nothing. JSON lines: the last line parses. CSV/TSV: the file parses (no quoted field left open) and
    the last row has the first row's number of fields, its last one non-empty. Other text files (.txt): every
    published one ends with a newline, so none is taken as whole."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".jsonl":
        try:
            json.loads(text.rstrip().rsplit("\n", 1)[-1])
        except ValueError:
            return False
        return True
    if path.suffix in (".csv", ".tsv"):
        try:
            rows = [
                r
                for r in csv.reader(io.StringIO(text), delimiter="\t" if path.suffix == ".tsv" else ",", strict=True)
                if r
            ]
        except csv.Error:  # e.g. "unexpected end of data": a quoted field the cut left open
            return False
        return len(rows) > 1 and len(rows[-1]) == len(rows[0]) and rows[-1][-1].strip() != ""
    return False


def file_problems(path: Path, rel: str, counts: dict[str, int], sample: bool = False) -> list[str]:
    """What is wrong with a data file as a whole: empty, or cut short (a line-oriented file that does not end with
    a newline and whose last record is not whole: `last_record_whole`), with the rows read and the published count."""
    size = path.stat().st_size
    read = ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"
    published = f"; the published file has {PUBLISHED[rel]} records" if rel in PUBLISHED and not sample else ""
    if size == 0 or not path.read_bytes().strip():
        return [f"{rel}: the file is empty ({size} bytes); re-download it (docs/DATA.md)"]
    if path.suffix in LINE_FILES:
        with open(path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n" and not last_record_whole(path):
                return [
                    f"{rel}: looks truncated: it ends mid-row (no final newline); rows read: {read}{published}. "
                    "Re-download or re-copy it (docs/DATA.md)"
                ]
    return []


def _missing(task: str, error: DataError) -> dict:
    return {
        "task": task,
        "status": "missing",
        "message": str(error),
        "counts": {},
        "problems": 0,
        "problem_examples": [],
        "files": [],
    }


def check(data_dir: str | os.PathLike | None = None) -> list[dict]:
    """One dict per task: task, status ("found"; "problem": an empty or cut-short file; "missing"), message (the
    DataError text when missing, the file problems otherwise), counts
    ({split: n}), problems (count), problem_examples (first 3 as text), files ([{path, size, sha256}])."""
    try:
        root = resolve(data_dir)
    except DataError as e:
        return [_missing(t, e) for t in ALL_TASKS + KNOWLEDGE]
    rows = []
    for task in ALL_TASKS + KNOWLEDGE:
        try:
            s = load_splits(task, data_dir)
        except DataError as e:
            rows.append(_missing(task, e))
            continue
        files, broken = [], []
        for p in s.files:
            rel = str(p.relative_to(root)) if root != "hf" and p.is_relative_to(root) else str(p)
            files.append(
                {"path": rel, "size": p.stat().st_size, "sha256": _digest(p)}
                if p.is_file()
                else {"path": rel, "size": None, "sha256": None}
            )
            if p.is_file():
                broken += file_problems(p, rel, s.counts(), root != "hf" and is_sample(Path(root)))
        if not broken and not any(s.counts().values()):
            broken.append("no records were read from its files")
        # a broken file is a problem even where its rows parse: the task's counts are not the published ones
        rows.append(
            {
                "task": task,
                "status": "problem" if broken else "found",
                "message": "; ".join(broken),
                "counts": s.counts(),
                "problems": len(s.problems) + len(broken),
                "problem_examples": broken + [str(p) for p in s.problems[:3]],
                "files": files,
            }
        )
    from finbench import decontam

    decontam.annotate(rows, data_dir)  # per task: test records with a near-duplicate in its train split
    return rows


def format_check(rows: list[dict]) -> str:
    """A readable table: one line per task (status, train/dev/test counts, problems), then its files; messages for
    missing tasks and the first problems underneath."""
    head = f"{'task':<12} {'status':<8} {'train':>7} {'dev':>6} {'test':>6} {'problems':>8}"
    lines = [head, "-" * len(head)]
    notes = []
    for r in rows:
        c = r["counts"]
        cell = lambda k, c=c: str(c[k]) if k in c else "-"  # noqa: E731
        lines.append(
            f"{r['task']:<12} {r['status']:<8} {cell('train'):>7} {cell('dev'):>6} {cell('test'):>6} {r['problems']:>8}"
        )
        for f in r["files"]:
            size = f"{f['size']:,} B" if f["size"] is not None else "?"
            lines.append(f"{'':<14}{f['path']}  {size}  sha256 {f['sha256']}")
        if r["status"] == "missing":
            notes.append(f"{r['task']}: {r['message']}")
        notes += [f"{r['task']}: problem: {p}" for p in r["problem_examples"]]
    from finbench import decontam

    notes += decontam.notes(rows)
    return "\n".join(lines + ([""] + notes if notes else []))
