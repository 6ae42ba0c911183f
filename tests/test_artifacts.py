"""finbench.artifacts, the one home of atomic writes: an output directory is replaced as a whole or not at all, a
killed writer leaves only a `.<name>.<random>.tmp` that readers skip and the next writer removes, Ctrl-C cleans up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from finbench import artifacts, results

# A writer that stages `final` with a new version and stops half-way (the parent then signals it).
WRITER = """
import sys, time
from pathlib import Path
from finbench import artifacts
with artifacts.staged_dir(Path(sys.argv[1])) as tmp:
    (tmp / "weights").write_text("half")
    print("staged", flush=True)
    time.sleep(60)
    (tmp / "weights").write_text("new")
"""


def _writer(final) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(final)],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdout.readline() == "staged\n"
    return proc


def _old_version(tmp_path):
    final = tmp_path / "run"
    (final / "nested").mkdir(parents=True)
    (final / "weights").write_text("old")
    (final / "nested" / "results_x.json").write_text("{}")
    return final


def test_ctrl_c_mid_write_keeps_the_old_version_and_leaves_nothing(tmp_path):
    final = _old_version(tmp_path)
    proc = _writer(final)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) != 0
    assert (final / "weights").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_killed_writer_leaves_only_what_readers_skip_and_the_next_writer_removes(tmp_path):
    final = _old_version(tmp_path)
    proc = _writer(final)
    (tmp_path / ".run.abc.tmp" / "x").mkdir(parents=True)  # a results file in it must not count as a result
    (tmp_path / ".run.abc.tmp" / "x" / "results_y.json").write_text("{}")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != "run")
    assert len(left) == 2 and all(n.startswith(".run.") and n.endswith(".tmp") for n in left)
    assert (final / "weights").read_text() == "old"
    assert [f.name for f in results.results_files(tmp_path)] == ["results_x.json"]  # the staging dirs are skipped
    # a neighbour's staging dir (another output whose name starts the same) is not this output's to remove
    (tmp_path / ".run.v2.xyz.tmp").mkdir()
    (tmp_path / ".other.abc.tmp").mkdir()
    with artifacts.staged_dir(final) as tmp:
        (tmp / "weights").write_text("new")
    assert (final / "weights").read_text() == "new" and not (final / "nested").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.abc.tmp", ".run.v2.xyz.tmp", "run"]


def test_an_error_mid_write_keeps_the_old_version(tmp_path):
    final = _old_version(tmp_path)
    with pytest.raises(OSError, match="No space"):
        with artifacts.staged_dir(final) as tmp:
            (tmp / "weights").write_text("half")
            raise OSError(28, "No space left on device")
    assert (final / "weights").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_the_output_gets_the_usual_permissions_not_mkdtemps_private_ones(tmp_path):
    old = os.umask(0o022)
    try:
        with artifacts.staged_dir(tmp_path / "site") as tmp:
            (tmp / "index.html").write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "site").stat().st_mode & 0o777 == 0o755


def test_write_text_replaces_a_file_whole(tmp_path):
    path = tmp_path / "report.md"
    artifacts.write_text(path, "one")
    artifacts.write_text(path, "two")
    assert path.read_text() == "two" and sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]


def test_clean_stale_without_a_name_removes_every_temporary_of_the_folder(tmp_path):
    for name in (".a.x1.tmp", ".b.tmp"):
        (tmp_path / name).mkdir()
    (tmp_path / ".c.y2.tmp").write_text("")
    (tmp_path / "keep.tmp").write_text("")  # not hidden: not a writer's temporary
    artifacts.clean_stale(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.tmp"]
