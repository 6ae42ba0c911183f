"""Atomic files and directories for outputs (runs, reports, sites, models): a reader (or a resumed run) sees the old
version or the new one, never a half-written one, even after a kill or a full disk mid-write. Every temporary name is
`.<name>.<random>.tmp` beside the output, which every finbench reader skips and the next writer removes."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_stage(final: Path) -> Path:
    """A fresh temporary dir beside `final` (`.<name>.<random>.tmp`, the umask's mode), after removing what a killed
    earlier writer of `final` left there. staged_dir uses it; a caller that publishes the stage itself
    (`finbench eval` merges it into an existing output dir) calls it directly."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(final.parent, final.name)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    try:
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the output it becomes should not be
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


@contextmanager
def staged_dir(final: Path) -> Iterator[Path]:
    """Yield a fresh temporary dir beside `final`; on success it replaces `final` as a whole (the old version is
    removed only after the new one is in place); on any error, Ctrl-C included, it is deleted and `final` is left as
    it was. What a killed earlier writer of `final` left beside it is removed first: one writer per `final` at a time
    (callers that may race hold a lock, as default_model does)."""
    final = Path(final)
    tmp = new_stage(final)
    try:
        yield tmp
        old = None
        if final.exists():
            old = tmp.with_name(tmp.name[: -len(".tmp")] + ".old.tmp")
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            _remove(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def merge_stage(stage: Path, final: Path, last: Callable[[Path], bool] = lambda f: False) -> None:
    """Publish a stage from new_stage into `final`: the whole dir in one rename when `final` does not exist, else file
    by file into it (what `final` already holds stays, unless the stage has a file at the same path), the files that
    `last` picks after all the others, so a reader that looks for those finds the rest in place; the stage is
    removed. (`finbench eval` adds a run to an output dir that may hold earlier runs, as lm-eval does.)"""
    stage, final = Path(stage), Path(final)
    if not final.exists():
        os.replace(stage, final)
        return
    for f in sorted((f for f in stage.rglob("*") if f.is_file()), key=last):
        target = final / f.relative_to(stage)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(f, target)
    shutil.rmtree(stage, ignore_errors=True)


def _remove(p: Path) -> None:
    shutil.rmtree(p, ignore_errors=True) if p.is_dir() and not p.is_symlink() else p.unlink(missing_ok=True)


def clean_stale(parent: Path, name: str | None = None) -> None:
    """Remove temporary dirs/files left by a killed writer (names `.<x>.<random>.tmp`): all of them in `parent`, or
    only those of the output `name` (`.<name>.<random>.tmp`, `.<name>.<random>.old.tmp`; never another output's)."""
    pattern = re.compile(rf"\.{re.escape(name)}\.[a-z0-9_]+(\.old)?\.tmp" if name else r"\..*\.tmp")
    for p in Path(parent).glob(".*.tmp"):
        if pattern.fullmatch(p.name):
            _remove(p)
