"""Issue 12, beyond the list: `finbench sweep run` SIGKILLed between training and evaluation resumes without
retraining (docs/RELIABILITY.md)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from helpers import SMOKE, cli, env


@pytest.mark.slow
def test_sweep_killed_between_train_and_eval_resumes_without_retraining(tmp_path, default_model):
    cmd = [sys.executable, "-m", "finbench.cli", "sweep"]
    plan = cli("sweep", "plan", "--template", SMOKE, "--tasks", "fpb", "-o", tmp_path)  # in-process: no trl re-import
    assert plan.returncode == 0, plan.stderr
    args = ["run", str(tmp_path), "--only", "single-fpb", "--tasks", "finbench_fpb", "--limit", "2"]
    proc = subprocess.Popen(
        cmd + args, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    seen = []
    for line in proc.stdout:  # the sweep prints the evaluation command once training and export are done
        seen.append(line)
        if line.startswith("[sweep] ") and "finbench.cli eval" in line:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(60)
    assert proc.returncode == -signal.SIGKILL, "".join(seen[-40:])
    run = tmp_path / "runs" / "single-fpb"
    assert (run / "merged" / "config.json").exists() and (run / "train_summary.json").exists()
    assert not (run / "DONE.json").exists() and not (run / "eval").exists()
    summary = (run / "train_summary.json").read_text()

    # killed a moment earlier, during the export: the merged model is not there yet
    import shutil

    shutil.rmtree(run / "merged")
    again = subprocess.run(cmd + args, env=env(), capture_output=True, text=True, timeout=1800)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "single-fpb: trained; exporting the merged model" in again.stdout
    assert "[finetune]" not in again.stdout and "resuming from" not in again.stdout  # not retrained
    assert (run / "train_summary.json").read_text() == summary  # its measured throughput is kept
    assert (run / "DONE.json").exists() and list((run / "eval").rglob("results_*.json"))
    assert json.loads((run / "DONE.json").read_text())["name"] == "single-fpb"
    assert "1 run(s) completed now" in again.stdout
