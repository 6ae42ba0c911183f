"""`finbench leaderboard build`: load runs -> table -> site, written atomically (finbench.artifacts.staged_dir: a
fresh temporary directory beside SITE_DIR, renamed into place), so a crash never leaves half a site; an existing
SITE_DIR is replaced only if it is empty or a site this command built (it carries site.MARKER)."""

from __future__ import annotations

import sys
from pathlib import Path

from .. import artifacts, results
from .load import load
from .site import MARKER, render
from .table import build_table


class SiteError(results.ResultsError):
    """The output directory cannot be (re)placed; the message says what to do."""


def write_site(files: dict[str, bytes], out: Path) -> None:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SiteError(f"--out {out} is a file; choose a directory path for the site")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise SiteError(
            f"--out {out} is a non-empty directory that this command did not build; "
            "choose a new or empty directory (it is replaced as a whole on every build)"
        )
    with artifacts.staged_dir(out) as tmp:
        for rel, data in sorted(files.items()):
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def build(
    paths: list[Path],
    out: Path,
    n_boot: int = results.N_BOOT,
    seed: int = results.SEED,
    title: str = "finbench leaderboard",
    err=None,
) -> int:
    """Exit status: 0 built (warnings printed for what was skipped), 2 nothing usable or bad arguments."""
    err = err or sys.stderr
    if n_boot < 1:
        print(f"finbench leaderboard: --n-boot must be >= 1, got {n_boot}", file=err)
        return 2
    entries, warnings = load(paths, n_boot, seed)
    for f, why in warnings:
        print(f"finbench leaderboard: warning: {f}: {why}", file=err)
    if not entries:
        print(
            "finbench leaderboard: nothing usable in "
            + ", ".join(str(p) for p in paths)
            + " (need lm-eval results_*.json with --log_samples files beside them); no site written",
            file=err,
        )
        return 2
    table = build_table(entries, n_boot, seed)
    for flag in table.flags:
        print(f"finbench leaderboard: flag: {flag}", file=err)
    write_site(render(table, warnings, title), out)
    print(
        f"{out}: {len(table.rows)} runs x {len(table.columns)} task columns"
        f"{f', {len(warnings)} input(s) skipped' if warnings else ''}",
        file=err,
    )
    return 0
