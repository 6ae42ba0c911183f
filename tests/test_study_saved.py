"""finetune/recipes/study/saved.sh: what the study's job finished is saved into the checkout (slim exports) and
restored into a fresh $STUDY, with the same scores, and nothing half-written is saved."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from recorded import RECORDED, SENTIMENT, STUDY

SCRIPT = Path(__file__).resolve().parents[1] / "finetune" / "recipes" / "study" / "saved.sh"


def _saved(action: str, study: Path, saved: Path) -> str:
    env = {**os.environ, "STUDY": str(study), "SAVED": str(saved), "PY": sys.executable}
    done = subprocess.run(["bash", str(SCRIPT), action], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _scores(path: Path) -> list:
    """Every metric row (score and CI) of the runs under `path`, as `finbench report` computes them (few bootstrap
    draws: the two sides are compared, not the CI's width)."""
    from finbench import results

    rows = [r for f in results.results_files(path) for r in results.metric_rows(results.load_run(f), n_boot=50)]
    assert rows
    return [(r.task, r.metric, r.filter, r.n, r.value, r.reported, r.lo, r.hi) for r in rows]


def _study(root: Path) -> Path:
    """A $STUDY as the job leaves it: one finished run, one run still training, a dev check done and one under way,
    a knowledge evaluation, the throughput benchmark."""
    study = root / "study"
    run = study / "sweep" / "runs" / "single_fpb-seed1"
    shutil.copytree(SENTIMENT, run / "eval")  # a full lm-eval output dir (samples .jsonl with docs and prompts)
    (run / "DONE.json").write_text(json.dumps({"name": "single_fpb-seed1", "eval_args": []}) + "\n")
    shutil.copy(STUDY / "single-fpb-seed1" / "recipe.yaml", run / "recipe.yaml")
    (run / "train_summary.json").write_text('{"train_tokens_per_second": 100.0}\n')
    (run / "adapter").mkdir()
    (study / "sweep" / "runs" / "single_fpb-seed2" / "checkpoint-10").mkdir(parents=True)  # not finished
    shutil.copytree(SENTIMENT, study / "dev_check" / "zero-shot")
    (study / "dev_check" / "single_fpb-seed1.tmp").mkdir()  # a check under way
    shutil.copytree(RECORDED / "knowledge" / "zero-shot" / "mmlu", study / "knowledge" / "zero-shot" / "mmlu")
    (study / "train_throughput.json").write_text('{"tokens_per_second": 1.0}\n')
    return study


def test_save_then_restore_into_a_fresh_study_keeps_every_score(tmp_path):
    study, saved = _study(tmp_path), tmp_path / "checkout" / "results" / "study"
    out = _saved("save", study, saved)
    assert "saved single_fpb-seed1" in out and "saved dev_check/zero-shot" in out

    run = saved / "single_fpb-seed1"
    assert sorted(p.name for p in run.iterdir()) == ["DONE.json", "eval", "recipe.yaml", "train_summary.json"]
    assert not (saved / "single_fpb-seed2").exists()  # unfinished: nothing of it is saved
    assert not list(saved.glob("dev_check/*.tmp")) and not list(saved.glob(".*"))
    assert (saved / "knowledge" / "zero-shot" / "mmlu" / ".finbench-slim").is_file()
    samples = list((run / "eval").rglob("samples_*"))
    assert samples and all(p.name.endswith(".jsonl.gz") for p in samples)  # slim: no documents or prompts
    assert _scores(run / "eval") == _scores(study / "sweep" / "runs" / "single_fpb-seed1" / "eval")
    assert _saved("save", study, saved).strip() == ""  # nothing new: nothing rewritten

    fresh = tmp_path / "fresh"  # a new machine: an empty home
    out = _saved("restore", fresh, saved)
    assert "restored single_fpb-seed1" in out and "restored knowledge/zero-shot/mmlu" in out
    back = fresh / "sweep" / "runs" / "single_fpb-seed1"
    assert (back / "DONE.json").read_bytes() == (run / "DONE.json").read_bytes()
    assert _scores(back / "eval") == _scores(run / "eval")
    assert (fresh / "dev_check" / "zero-shot").is_dir()
    assert (fresh / "train_throughput.json").read_text() == '{"tokens_per_second": 1.0}\n'
    assert _saved("restore", fresh, saved).strip() == ""  # restored already: left alone

    # a benchmark re-run into the checkout is newer than the copy restore put into $STUDY: save keeps it; a newer
    # one in $STUDY (the job's own re-run) is saved
    (saved / "train_throughput.json").write_text('{"tokens_per_second": 2.0}\n')
    os.utime(fresh / "train_throughput.json", (1, 1))
    assert "train_throughput" not in _saved("save", fresh, saved)
    assert (saved / "train_throughput.json").read_text() == '{"tokens_per_second": 2.0}\n'
    (fresh / "train_throughput.json").write_text('{"tokens_per_second": 3.0}\n')
    assert "saved train_throughput.json" in _saved("save", fresh, saved)
    assert (saved / "train_throughput.json").read_text() == '{"tokens_per_second": 3.0}\n'


def test_restore_leaves_a_run_the_study_finished_itself(tmp_path):
    study, saved = _study(tmp_path), tmp_path / "saved"
    _saved("save", study, saved)
    done = study / "sweep" / "runs" / "single_fpb-seed1" / "DONE.json"
    done.write_text('{"name": "single_fpb-seed1", "eval_args": ["--tasks", "finbench_fpb"]}\n')
    assert _saved("restore", study, saved).strip() == ""
    assert "finbench_fpb" in done.read_text()
    assert (study / "sweep" / "runs" / "single_fpb-seed1" / "adapter").is_dir()  # the model's files stay


def test_watch_commits_what_the_job_finished_and_nothing_else(tmp_path):
    """`saved.sh watch` beside the job: its first pass saves the finished run and commits results/study, and only it
    (an engineer's uncommitted edit in the same checkout stays uncommitted); stopped by a real signal."""
    study, checkout = _study(tmp_path), tmp_path / "checkout"
    env = {
        **os.environ,
        "STUDY": str(study),
        "PY": sys.executable,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    env.pop("SAVED", None)  # the default, results/study of the checkout it runs in

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=checkout, env=env, capture_output=True, text=True, check=True).stdout

    checkout.mkdir()
    git("init", "-q")
    (checkout / "README.md").write_text("v1\n")
    git("add", "README.md")
    git("commit", "-q", "-m", "init")
    (checkout / "README.md").write_text("v2, not to be committed by the watcher\n")
    watcher = subprocess.Popen(
        ["bash", str(SCRIPT), "watch"],
        cwd=checkout,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        for _ in range(240):  # its first pass runs at once; allow for a loaded machine
            if git("log", "--format=%s").count("\n") == 2:
                break
            time.sleep(0.5)
        committed = git("show", "--name-only", "--format=", "HEAD").split()
    finally:
        os.killpg(watcher.pid, signal.SIGTERM)
        out, err = watcher.communicate(timeout=30)
    assert "results/study/single_fpb-seed1/DONE.json" in committed, (out, err)
    assert all(p.startswith("results/study/") for p in committed) and "README.md" not in committed
    assert git("status", "--porcelain").split() == ["M", "README.md"]  # the edit is still there, uncommitted
    assert "committed results/study" in out


def test_usage_error_says_what_to_run(tmp_path):
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env={**os.environ, "STUDY": "x"})
    assert done.returncode == 2 and "save|restore" in done.stderr
