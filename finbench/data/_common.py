"""Shared helpers for the loaders: Splits/Problem types, locating files, reading with problems, seeded splitting."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finbench import registry
from finbench.config import DATA_ENV, DataError

log = logging.getLogger("finbench.data")

SEED = 42
DEV_FRACTION = 0.1
SENTIMENT_LABELS = registry.SENTIMENT_LABELS


@dataclass
class Problem:
    """One row/record that could not be used as given (it is counted and reported, never silently dropped)."""

    file: str
    where: str  # "line 12", "record 3", "row 7", or a record id
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.reason}"


@dataclass
class Splits:
    """Canonical records per split (`train`/`dev`/`test`), the problems met while reading, and the files read."""

    splits: dict[str, list[dict]]
    problems: list[Problem] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.splits.items()}


class Reader:
    """Collects problems and the files read for one task load."""

    def __init__(self, task: str, root: Path, source: str):
        self.task = task
        self.root = root
        self.source = source  # where to get the data (repo/url), for DataError messages
        self.problems: list[Problem] = []
        self.files: list[Path] = []

    # -- locating -----------------------------------------------------------------------------------------
    def path(self, rel: str, required: bool = True) -> Path | None:
        """The file at `rel` under the data dir; DataError (or None when not required) when it is missing."""
        p = self.root / rel
        if p.is_file():
            if p not in self.files:
                self.files.append(p)
            return p
        if not required:
            return None
        raise DataError(missing_message(self.task, self.root, rel, self.source))

    def problem(self, path: Path, where: str | int, reason: str) -> None:
        self.problems.append(Problem(self.rel(path), str(where), reason))

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    # -- reading ------------------------------------------------------------------------------------------
    def _decoded(self, path: Path, encoding: str) -> list[str | None]:
        """Each physical line (split on LF, CR stripped), None where it does not decode (recorded as a problem)."""
        raw = path.read_bytes()
        if raw.startswith(b"\xef\xbb\xbf") and encoding.replace("-", "").lower() == "utf8":
            raw = raw[3:]
        chunks = raw.split(b"\n")
        if chunks and chunks[-1] == b"":
            chunks.pop()
        out: list[str | None] = []
        for n, chunk in enumerate(chunks, 1):
            try:
                out.append(chunk.rstrip(b"\r").decode(encoding))
            except UnicodeDecodeError as e:
                self.problem(path, f"line {n}", f"not valid {encoding} ({e.reason} at byte {e.start})")
                out.append(None)
        return out

    def lines(self, path: Path, encoding: str = "utf-8") -> list[tuple[int, str]]:
        """(1-based line number, text) per line that decodes, CR/LF stripped; other lines are problems."""
        return [(n, line) for n, line in enumerate(self._decoded(path, encoding), 1) if line is not None]

    def text(self, path: Path, encoding: str = "utf-8") -> str:
        """The whole file as text with LF line ends; a line that does not decode is a problem and reads as empty,
        so physical line numbers stay right (e.g. csv.reader.line_num)."""
        return "".join((line or "") + "\n" for line in self._decoded(path, encoding))

    def json(self, path: Path) -> Any:
        """A whole-file JSON document; a file that is not valid JSON is a DataError (nothing can be recovered)."""
        try:
            return json.loads(path.read_bytes().decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DataError(
                f"{self.task}: {path} is not a valid UTF-8 JSON file ({e}). Re-download it; see docs/DATA.md "
                f"({self.source})."
            ) from e

    def json_records(self, path: Path, key: str | None = None) -> list[tuple[str, Any]]:
        """The records of a JSON file holding a list (or `{key: list}`), each with a `where` for problem reports;
        a file of another shape is one problem and no records."""
        data = self.json(path)
        records = data.get(key) if key and isinstance(data, dict) else data
        if not isinstance(records, list):
            self.problem(path, "file", f"expected {{'{key}': [...]}}" if key else "expected a JSON list")
            return []
        return [
            (f"record {i} ({rec.get('id')})" if isinstance(rec, dict) and "id" in rec else f"record {i}", rec)
            for i, rec in enumerate(records)
        ]

    def jsonl(self, path: Path) -> list[tuple[int, dict]]:
        """(line number, object) per non-empty JSON line; undecodable or non-object lines are problems."""
        out = []
        for n, line in self.lines(path, "utf-8"):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                self.problem(path, f"line {n}", f"invalid JSON ({e.msg})")
                continue
            if not isinstance(obj, dict):
                self.problem(path, f"line {n}", f"expected a JSON object, got {type(obj).__name__}")
                continue
            out.append((n, obj))
        return out

    def done(self, splits: dict[str, list[dict]]) -> Splits:
        result = Splits(splits=splits, problems=self.problems, files=self.files)
        report(self.task, self.root, result)
        return result


def missing_message(task: str, root: Path, rel: str, source: str) -> str:
    return (
        f"{task}: missing {rel} under {DATA_ENV}={root} (expected file {root / rel}). "
        f"Get it from {source} and place it at $FINBENCH_DATA_DIR/{rel} (see docs/DATA.md), "
        f"or set {DATA_ENV}=sample for the small synthetic sample sets."
    )


def report(task: str, root: Path, result: Splits) -> None:
    """Log a one-line warning summary of the problems (once per parse; results are cached)."""
    if not result.problems:
        return
    first = "; ".join(str(p) for p in result.problems[:3])
    more = f" (+{len(result.problems) - 3} more)" if len(result.problems) > 3 else ""
    log.warning("%s: %d problem row(s) in %s, skipped: %s%s", task, len(result.problems), root, first, more)


# -- splitting ----------------------------------------------------------------------------------------------
def shuffled(keys: Iterable[str], seed: int = SEED) -> list[str]:
    """Unique keys, sorted, then shuffled with random.Random(seed): independent of hash seeds and input order."""
    out = sorted(set(keys))
    random.Random(seed).shuffle(out)
    return out


def partition(keys: Iterable[str], fractions: dict[str, float], seed: int = SEED) -> dict[str, str]:
    """Assign each unique key to a named part (fractions in the given order; the last part takes the rest).

    Every part gets at least one key when there are at least as many keys as parts.
    """
    order = shuffled(keys, seed)
    names = list(fractions)
    n = len(order)
    sizes = [round(fractions[name] * n) for name in names[:-1]]
    if n >= len(names):
        sizes = [max(1, s) for s in sizes]
        while sum(sizes) > n - 1:  # leave at least one key for the last part
            sizes[sizes.index(max(sizes))] -= 1
    out: dict[str, str] = {}
    start = 0
    for name, size in zip(names, sizes + [n]):
        for key in order[start : start + size]:
            out[key] = name
        start = min(n, start + size)
    return out


def carve_dev(
    train: list[dict],
    group: Callable[[dict], str],
    exclude: Iterable[str] = (),
    fraction: float = DEV_FRACTION,
    seed: int = SEED,
) -> tuple[list[dict], list[dict]]:
    """Split `train` into (train, dev) by group: ~fraction of the groups (at least one when there are two or more),
    chosen by a seeded shuffle of the sorted group keys. Groups in `exclude` (e.g. texts also in test) stay in train,
    so dev never shares a group with test. Records keep their original order."""
    excluded = set(exclude)
    candidates = [k for k in {group(r) for r in train} if k not in excluded]
    order = shuffled(candidates, seed)
    n_dev = round(fraction * len(order))
    if len(order) >= 2:
        n_dev = max(1, n_dev)
    dev_keys = set(order[:n_dev])
    return [r for r in train if group(r) not in dev_keys], [r for r in train if group(r) in dev_keys]


# -- small shared formatting ---------------------------------------------------------------------------------
def fingpt_input(context: str) -> str | None:
    """The `Input: …` text of a FinGPT-format prompt (`Instruction: …\\nInput: …\\nAnswer: `), or None."""
    head, sep, rest = context.partition("\nInput: ")
    if not sep:
        return None
    text, sep, _ = rest.rpartition("\nAnswer:")
    return text if sep else None


def table_text(rows: list[list[Any]]) -> str:
    """A table as pipe rows: one line per row, cells joined by ' | '."""
    return "\n".join(" | ".join(str(c).strip() for c in row) for row in rows)


def format_number(x: Any) -> str:
    """A number as a short string (at most 5 decimals, trailing zeros dropped); strings pass through."""
    if isinstance(x, str):
        return x
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    s = f"{float(x):.5f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def join_context(*parts: str) -> str:
    return "\n".join(p.strip("\r\n") for p in parts if p and p.strip())
