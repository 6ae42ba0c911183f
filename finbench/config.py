"""Where finbench finds its data and keeps its caches (environment variables, resolved in one place)."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "FINBENCH_DATA_DIR"
CACHE_ENV = "FINBENCH_CACHE_DIR"
SAMPLE = "sample"
SAMPLE_DIR = Path(__file__).parent / "data" / "samples"


class DataError(Exception):
    """A data problem the user can fix; its message says what to do (the CLI prints it without a traceback)."""


def data_dir(value: str | os.PathLike | None = None) -> Path:
    """Resolve the data directory: an explicit value, else $FINBENCH_DATA_DIR; `sample` selects the sample sets."""
    raw = str(value) if value is not None else os.environ.get(DATA_ENV, "")
    if not raw:
        raise DataError(
            f"{DATA_ENV} is not set. Point it at a directory laid out like finbench's data dir "
            f"(e.g. export {DATA_ENV}=../shared/data; see docs/DATA.md for where to get each source), "
            f"or set {DATA_ENV}={SAMPLE} to use the small sample sets shipped with finbench (not benchmark data)."
        )
    if raw == SAMPLE:
        return SAMPLE_DIR
    path = Path(raw).expanduser()
    if not path.is_dir():
        raise DataError(
            f"{DATA_ENV}={raw} is not a directory. Point it at a directory laid out like finbench's data dir "
            f"(see docs/DATA.md), or set {DATA_ENV}={SAMPLE} for the sample sets."
        )
    return path.resolve()


def is_sample(path: Path) -> bool:
    return path.resolve() == SAMPLE_DIR.resolve()


def cache_dir() -> Path:
    """finbench's cache ($FINBENCH_CACHE_DIR, else $XDG_CACHE_HOME/finbench, else ~/.cache/finbench)."""
    raw = os.environ.get(CACHE_ENV)
    if raw:
        return Path(raw).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "finbench"


def tasks_dir() -> Path:
    """The lm-eval task configs (repo `tasks/`, installed as the package `finbench.tasks`): `--include_path`."""
    import finbench.tasks

    return Path(finbench.tasks.__file__).parent
