"""A non-editable install ships what `lm_eval --include_path "$(finbench tasks-dir)"` needs: the task YAMLs, their
templates, utils.py, and the sample sets; and the leaderboard's site templates."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from conftest import ROOT


def test_wheel_contains_tasks_templates_samples_and_site_templates(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("finbench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped_tasks = {n.split("/", 2)[2] for n in names if n.startswith("finbench/tasks/")}
    repo_tasks = {p.name for p in (ROOT / "tasks").iterdir() if p.is_file()}
    assert shipped_tasks == repo_tasks
    samples = {
        p.relative_to(ROOT / "finbench").as_posix()
        for p in (ROOT / "finbench" / "data" / "samples").rglob("*")
        if p.is_file()
    }
    assert samples and {f"finbench/{s}" for s in samples} <= names
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "finbench").rglob("*.py")}
    assert modules - names == set()  # every sub-package is listed in pyproject.toml
    templates = {
        f"finbench/leaderboard/templates/{p.name}" for p in (ROOT / "finbench" / "leaderboard" / "templates").iterdir()
    }
    assert templates and templates <= names
    assert {"finbench/leaderboard/build.py", "finbench/regress.py"} <= names
