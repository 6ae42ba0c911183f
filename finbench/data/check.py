"""`finbench data check`: per task, found/missing, counts per split, problems, and size + sha256 of each file read."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from finbench.config import DataError

from . import ALL_TASKS, KNOWLEDGE, load_splits, resolve


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:12]


def _missing(task: str, error: DataError) -> dict:
    return {"task": task, "status": "missing", "message": str(error), "counts": {}, "problems": 0,
            "problem_examples": [], "files": []}


def check(data_dir: str | os.PathLike | None = None) -> list[dict]:
    """One dict per task: task, status ("found"/"missing"), message (the DataError text when missing), counts
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
        files = []
        for p in s.files:
            rel = str(p.relative_to(root)) if root != "hf" and p.is_relative_to(root) else str(p)
            files.append({"path": rel, "size": p.stat().st_size, "sha256": _digest(p)} if p.is_file()
                         else {"path": rel, "size": None, "sha256": None})
        rows.append({"task": task, "status": "found", "message": "", "counts": s.counts(),
                     "problems": len(s.problems), "problem_examples": [str(p) for p in s.problems[:3]],
                     "files": files})
    return rows


def format_check(rows: list[dict]) -> str:
    """A readable table: one line per task (status, train/dev/test counts, problems), then its files; messages for
    missing tasks and the first problems underneath."""
    head = f"{'task':<12} {'status':<8} {'train':>7} {'dev':>6} {'test':>6} {'problems':>8}"
    lines = [head, "-" * len(head)]
    notes = []
    for r in rows:
        c = r["counts"]
        cell = lambda k: str(c[k]) if k in c else "-"  # noqa: E731
        lines.append(f"{r['task']:<12} {r['status']:<8} {cell('train'):>7} {cell('dev'):>6} {cell('test'):>6} "
                     f"{r['problems']:>8}")
        for f in r["files"]:
            size = f"{f['size']:,} B" if f["size"] is not None else "?"
            lines.append(f"{'':<14}{f['path']}  {size}  sha256 {f['sha256']}")
        if r["status"] == "missing":
            notes.append(f"{r['task']}: {r['message']}")
        notes += [f"{r['task']}: problem: {p}" for p in r["problem_examples"]]
    return "\n".join(lines + ([""] + notes if notes else []))
