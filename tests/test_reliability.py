"""Issue 12: faults that lost data, leaked a key or crashed, each reproduced the way it was found (real `finbench
eval` subprocesses against a local fake API server, real lm-eval output dirs, real signals) and kept fixed.
docs/RELIABILITY.md lists each fault with the test here that proves it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from fakeapi import FakeAPI
from helpers import ROOT, cli, env, tiny_llama

KEY = "sk-finbench-test-KEY-0123456789abcdef"  # the key a user exports: must never be written anywhere
SPELLINGS = [
    "api_key",
    "API_KEY",
    "Api-Key",
    "apikey",
    "openai_api_key",
    "token",
    "auth_token",
    "secret",
    "password",
    "authorization",
    "bearer",
    "Authorization",
]


@pytest.fixture(autouse=True)
def _restore_data_env(monkeypatch):
    """In-process `finbench eval/data check --data-dir D` set FINBENCH_DATA_DIR for the process: undo it after
    each test (monkeypatch restores the value it saw first)."""
    if "FINBENCH_DATA_DIR" in os.environ:
        monkeypatch.setenv("FINBENCH_DATA_DIR", os.environ["FINBENCH_DATA_DIR"])
    else:
        monkeypatch.delenv("FINBENCH_DATA_DIR", raising=False)


def _env(base: Path, **extra) -> dict:
    return env(None, **{"FINBENCH_CACHE_DIR": str(base / "cache"), "OPENAI_API_KEY": KEY, **extra})


def _eval_cmd(api: FakeAPI, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "finbench.cli",
        "eval",
        "--backend",
        "finbench-chat-completions",
        "--model_args",
        f"model=fake-model,base_url={api.base_url}",
        "--tasks",
        "finbench_sentiment",
        "--limit",
        "4",
        "--data-dir",
        "sample",
        "--output_path",
        str(out),
        *extra,
    ]


def _logged(base: Path, name: str, proc) -> None:
    """Keep a run's console output as a log file under `base` (the key grep covers logs too)."""
    (base / "logs").mkdir(exist_ok=True)
    (base / "logs" / f"{name}.log").write_text(proc.stdout + proc.stderr)


@pytest.fixture(scope="module")
def api_runs(tmp_path_factory):
    """Two identical real `finbench eval` runs (API model, fake server, key in the environment): run1 fills the
    response cache, run2 must be answered from it. Reused by every test below that needs a real output dir."""
    base = tmp_path_factory.mktemp("reliability")
    with FakeAPI() as api:
        procs = {}
        for name in ("run1", "run2"):
            before = api.completions
            procs[name] = subprocess.run(
                _eval_cmd(api, base / name), env=_env(base), capture_output=True, text=True, timeout=900
            )
            _logged(base, name, procs[name])
            assert procs[name].returncode == 0, procs[name].stderr[-3000:]
            procs[name].requests = api.completions - before
        yield SimpleNamespace(base=base, api=api, procs=procs, run1=base / "run1", run2=base / "run2")


def _terminal_signals() -> None:
    """In the child before exec: SIGINT as in a terminal (a shell starts background jobs with SIGINT ignored, and
    Python then never raises KeyboardInterrupt; a test run from such a job must not inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _grep(root: Path, needle: str) -> list[str]:
    found = subprocess.run(["grep", "-r", "-l", "-a", needle, str(root)], capture_output=True, text=True)
    return found.stdout.split()


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _samples(run: Path, task: str) -> Path:
    return next(run.rglob(f"samples_{task}_*.jsonl"))


# -- 5: the API response cache is on by default ------------------------------------------------------------------
@pytest.mark.slow
def test_second_identical_api_run_is_answered_entirely_from_the_cache(api_runs):
    first, second = api_runs.procs["run1"], api_runs.procs["run2"]
    assert first.requests == 12  # 3 tasks x 4 documents reached the server
    assert second.requests == 0  # ... and none the second time
    assert "API usage: 12 requests sent, 0 answers from the response cache" in first.stdout
    assert "API usage: 0 requests sent, 12 answers from the response cache" in second.stdout
    db = api_runs.base / "cache" / "api_responses.sqlite"
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 12


# -- 4: a key is refused in every spelling and never written ---------------------------------------------------------
@pytest.mark.slow
def test_a_key_is_never_written_to_outputs_logs_or_caches(api_runs):
    base, api = api_runs.base, api_runs.api
    # the runs did use the key (from the environment) ...
    assert api.authorizations and all(a == f"Bearer {KEY}" for a in api.authorizations)
    # ... and a key in --model_args is refused in every spelling, for finbench eval and for plain lm-eval
    # (the first spelling through the real console entry point, the others in this process: same code, no start-up)
    with FakeAPI() as other:
        for i, name in enumerate(SPELLINGS):
            out = base / f"refused{i}"
            cmd = _eval_cmd(other, out)
            cmd[cmd.index("--model_args") + 1] += f",{name}={KEY}"
            if i == 0:
                proc = subprocess.run(cmd, env=_env(base), capture_output=True, text=True, timeout=300)
            else:
                proc = cli(*cmd[cmd.index("eval") :])
            _logged(base, f"refused-{i}", proc)
            assert proc.returncode == 2, (name, proc.stderr[-2000:])
            assert f"--model_args {name}=… is refused" in proc.stderr and "Traceback" not in proc.stderr
            assert not out.exists()
        lm = subprocess.run(
            [
                sys.executable,
                "-m",
                "finbench.lmeval",
                "run",
                "--model",
                "finbench-chat-completions",
                "--model_args",
                f"model=m,base_url={other.base_url},API_KEY={KEY}",
                "--tasks",
                "finbench_fpb",
                "--include_path",
                str(ROOT / "tasks"),
                "--output_path",
                str(base / "lm_eval_refused"),
                "--log_samples",
            ],
            env=_env(base),
            capture_output=True,
            text=True,
            timeout=300,
        )
        _logged(base, "lm_eval-refused", lm)
        assert lm.returncode == 2 and "API_KEY=… is refused" in lm.stderr
        assert other.completions == 0  # nothing was sent
    # also a key-looking value under an innocent name
    proc = cli(
        "eval",
        "--backend",
        "finbench-chat-completions",
        "--model_args",
        f"model=m,base_url=http://127.0.0.1:9/v1/chat/completions,extra=Bearer {KEY}",
        "--data-dir",
        "sample",
    )
    assert proc.returncode == 2 and "extra=… is refused" in proc.stderr and KEY not in proc.stderr
    # grep over every output dir, log and cache of this module, and finbench's cache dir
    leaked = _grep(base, KEY) + _grep(base, KEY[6:])
    assert leaked == [], leaked


def test_model_args_are_masked_in_every_spelling():
    from finbench.results import redact

    for name in SPELLINGS:
        assert KEY not in redact(f"model=m,{name}={KEY},base_url=http://h/v1"), name
        assert KEY not in redact({"model": "m", name: KEY}), name
    text = redact("pretrained=/m,tokenizer=/t,add_bos_token=True,max_gen_toks=8,x=Bearer abc123")
    assert "tokenizer=/t" in text and "add_bos_token=True" in text and "abc123" not in text
    paths = "pretrained=/ckpt/sk-learn-model-checkpoint-1,peft=/m/hf_models_2024/adapter"
    assert redact(paths) == paths  # a path is not a key

    from finbench.preflight import refuse_secrets

    refuse_secrets({"pretrained": "/ckpt/sk-learn-model-checkpoint-1", "tokenizer": "/t", "add_bos_token": True})


# -- 1 and 6: a run with a task's samples missing is reported as incomplete, not averaged without it ------------------
@pytest.mark.slow
def test_report_names_a_task_whose_samples_are_missing_and_computes_no_group_without_it(api_runs, tmp_path):
    full = cli("report", api_runs.run1)
    assert full.returncode == 0 and "finbench_sentiment" in full.stdout and "INCOMPLETE" not in full.stdout
    cut = _copy(api_runs.run1, tmp_path / "cut")
    _samples(cut, "finbench_fpb").unlink()
    rep = cli("report", cut)
    assert rep.returncode == 1
    assert "INCOMPLETE RUN: 1 of 3 tasks" in rep.stdout and "finbench_fpb: no samples file" in rep.stdout
    assert "group averages not computed (they would leave those tasks out): finbench_sentiment" in rep.stdout
    table = rep.stdout.split("INCOMPLETE RUN")[0]
    assert "finbench_sentiment " not in table and "finbench_fpb " not in table and "finbench_tfns " in table
    assert "incomplete: finbench_fpb" in rep.stderr


@pytest.mark.slow
def test_sigint_while_lm_eval_writes_its_outputs_leaves_a_complete_run_or_none(api_runs, tmp_path):
    """Ctrl-C (SIGINT to the process group) the moment lm-eval's results file appears in the staging dir, i.e.
    while it writes the samples files: the output path then holds nothing, or a complete run."""
    from finbench import results

    out = tmp_path / "run"
    with FakeAPI() as api:
        proc = subprocess.Popen(
            _eval_cmd(api, out),
            env=_env(api_runs.base),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            preexec_fn=_terminal_signals,
        )
        seen = None
        while proc.poll() is None and seen is None:
            seen = next(iter(tmp_path.glob(".run.*.tmp/*/results_*.json")), None)
            time.sleep(0.001)
        if seen is not None:
            os.killpg(proc.pid, signal.SIGINT)
            at_kill = sorted(p.name for p in seen.parent.iterdir())  # which samples files were written by then
        stdout, stderr = proc.communicate(timeout=300)
    print(f"SIGINT with {at_kill} in the staging dir; exit {proc.returncode}")
    assert seen is not None, "the run finished before its results file was seen: " + stderr[-2000:]
    assert "Traceback" not in stderr
    if proc.returncode == 130:  # interrupted in time: nothing under the output path, no staging dir left
        assert not out.exists() and not list(tmp_path.glob(".run.*.tmp"))
        assert f"nothing was written to {out}" in stderr
    else:  # lm-eval had finished: the run is complete
        run = results.find_runs(out)[0]
        assert results.incomplete_tasks(run) == {} and (out / results.META_FILE).is_file()


@pytest.mark.slow
def test_a_run_killed_mid_generation_leaves_nothing_readers_would_take_for_a_result(api_runs, tmp_path):
    out = tmp_path / "run"
    with FakeAPI(delay_s=1.0) as api:
        proc = subprocess.Popen(
            _eval_cmd(api, out),
            env=_env(api_runs.base, FINBENCH_CACHE_DIR=str(tmp_path / "c")),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        while api.completions < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(60)
    assert api.completions >= 2
    assert not out.exists() and list(tmp_path.glob(".run.*.tmp"))  # only the hidden staging dir is left
    rep = cli("report", tmp_path)
    assert rep.returncode == 2 and "no lm-eval results_*.json" in rep.stderr


# -- 15: SIGINT during generation: one line, no traceback -----------------------------------------------------------
@pytest.mark.slow
def test_sigint_during_generation_prints_one_line_and_writes_nothing(api_runs, tmp_path):
    out = tmp_path / "run"
    with FakeAPI(delay_s=1.0) as api:
        proc = subprocess.Popen(
            _eval_cmd(api, out),
            env=_env(api_runs.base, FINBENCH_CACHE_DIR=str(tmp_path / "c")),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            preexec_fn=_terminal_signals,
        )
        deadline = time.monotonic() + 300
        while api.completions < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr[-3000:]
    assert f"[finbench] interrupted: the evaluation was stopped; nothing was written to {out}" in stderr
    assert not out.exists() and not list(tmp_path.glob(".run.*.tmp"))


# -- 2, 3, 16: the regression gate ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_regress_fails_when_the_candidate_lacks_a_task_the_baseline_scored(api_runs, tmp_path):
    cand = _copy(api_runs.run2, tmp_path / "cand")
    _samples(cand, "finbench_tfns").unlink()
    proc = cli("regress", "--baseline", api_runs.run1, "--candidate", cand)
    assert proc.returncode == 2
    assert "finbench_tfns (candidate: no samples file" in proc.stderr and "cannot pass" in proc.stderr
    # a samples file cut short (whole lines lost) fails the gate too
    cut = _copy(api_runs.run2, tmp_path / "cut")
    f = _samples(cut, "finbench_fpb")
    f.write_text("".join(f.read_text().splitlines(keepends=True)[:2]))
    proc = cli("regress", "--baseline", api_runs.run1, "--candidate", cut)
    assert proc.returncode == 2 and "finbench_fpb (candidate: " in proc.stderr and "2 of the 4 documents" in proc.stderr
    # a candidate that did not evaluate the task at all
    fewer = _copy(api_runs.run2, tmp_path / "fewer")
    res = next(fewer.rglob("results_*.json"))
    data = json.loads(res.read_text())
    del data["configs"]["finbench_fiqa_sa"]
    res.write_text(json.dumps(data))
    _samples(fewer, "finbench_fiqa_sa").unlink()
    proc = cli("regress", "--baseline", api_runs.run1, "--candidate", fewer)
    assert proc.returncode == 2 and "finbench_fiqa_sa (candidate: not evaluated)" in proc.stderr
    # the two complete runs compare
    ok = cli("regress", "--baseline", api_runs.run1, "--candidate", api_runs.run2)
    assert ok.returncode == 0 and "UNCHANGED" in ok.stdout


@pytest.mark.slow
def test_regress_refuses_a_nan_max_drop_and_a_run_compared_with_itself(api_runs, tmp_path):
    for flag in (["--max-drop", "nan"], ["--max-drop", "inf"], ["--alpha", "nan"], ["--max-drop", "-0.1"]):
        proc = cli("regress", "--baseline", api_runs.run1, "--candidate", api_runs.run2, *flag)
        assert proc.returncode == 2 and "finite --max-drop" in proc.stderr, flag
    same = cli("regress", "--baseline", api_runs.run1, "--candidate", api_runs.run1)
    assert same.returncode == 2 and "are the same run" in same.stderr
    copy = cli("regress", "--baseline", api_runs.run1, "--candidate", _copy(api_runs.run1, tmp_path / "copy"))
    assert copy.returncode == 0 and "identical copies" in copy.stdout


# -- 13: a dir with two runs -----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_report_on_a_dir_with_two_runs_lists_them_and_reports_the_one_asked_for(api_runs, tmp_path):
    both = _copy(api_runs.run1, tmp_path / "both")
    model_dir = next(both.rglob("results_*.json")).parent
    for f in next(api_runs.run2.rglob("results_*.json")).parent.iterdir():
        shutil.copy(f, model_dir / f.name)
    rep = cli("report", both)
    files = sorted(model_dir.glob("results_*.json"))
    assert rep.returncode == 2 and "2 runs under it" in rep.stderr and all(str(f) in rep.stderr for f in files)
    assert "no samples files beside it" not in rep.stderr
    one = cli("report", files[1])
    assert one.returncode == 0 and f"results: {files[1]}" in one.stdout and "finbench_sentiment" in one.stdout


# -- beyond the list: leaderboard build with a run whose samples are cut ----------------------------------------------
@pytest.mark.slow
def test_leaderboard_skips_and_names_a_task_whose_samples_are_cut(api_runs, tmp_path):
    cut = _copy(api_runs.run1, tmp_path / "cut")
    f = _samples(cut, "finbench_fpb")
    f.write_text("".join(f.read_text().splitlines(keepends=True)[:2]))
    proc = cli("leaderboard", "build", cut, "--out", tmp_path / "site", "--n-boot", "100")
    text = proc.stdout + proc.stderr
    assert "finbench_fpb: " in text and "holds 2 of the 4 documents lm-eval scored (cut short); task skipped" in text
    assert (tmp_path / "site" / "index.html").is_file()
    from finbench.leaderboard.load import load

    entries, warnings = load([cut], 100, 0)
    assert [sorted(e.cells) for e in entries] == [["finbench_fiqa_sa", "finbench_tfns"]]
    assert any("finbench_fpb" in w for _, w in warnings)


# -- 9-12: bad eval arguments are refused before anything loads ------------------------------------------------------
def test_eval_suggests_the_task_name_for_a_data_name():
    proc = cli("eval", "--tasks", "fpb", "--data-dir", "sample")
    assert (
        proc.returncode == 2
        and "--tasks fpb: no such finbench task or group; did you mean finbench_fpb?" in proc.stderr
    )
    typo = cli("eval", "--tasks", "finbench_fbp", "--data-dir", "sample")
    assert typo.returncode == 2 and "did you mean finbench_fpb?" in typo.stderr


@pytest.mark.parametrize("limit", ["0", "-3", "nan", "2.5"])
def test_eval_refuses_a_bad_limit_before_loading_the_model(limit, monkeypatch):
    import finbench.default_model as dm

    monkeypatch.setattr(dm, "prepare", lambda *a, **k: pytest.fail("the model was prepared"))
    proc = cli("eval", "--tasks", "finbench_fpb", "--limit", limit, "--data-dir", "sample")
    assert proc.returncode == 2 and f"--limit {float(limit):g}: give a number of documents" in proc.stderr


def test_eval_says_a_model_path_does_not_exist(tmp_path):
    proc = cli(
        "eval",
        "--tasks",
        "finbench_fpb",
        "--limit",
        "2",
        "--data-dir",
        "sample",
        "--model_args",
        f"pretrained={tmp_path / 'no-such-model'}",
    )
    assert proc.returncode == 2 and f"model path {tmp_path / 'no-such-model'} does not exist" in proc.stderr
    assert "Repo id" not in proc.stderr


def test_eval_names_a_truncated_safetensors_file(tmp_path, default_model):
    model = tmp_path / "model"
    model.mkdir()
    for f in default_model.iterdir():
        if f.is_file() and f.suffix != ".safetensors":
            shutil.copy(f, model / f.name)
    with open(default_model / "model.safetensors", "rb") as src:  # a copy cut short at 8 MiB
        (model / "model.safetensors").write_bytes(src.read(8 << 20))
    proc = cli(
        "eval",
        "--tasks",
        "finbench_fpb",
        "--limit",
        "2",
        "--data-dir",
        "sample",
        "--output_path",
        tmp_path / "out",
        "--model_args",
        f"pretrained={model}",
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{model / 'model.safetensors'} is damaged or cut short" in proc.stderr
    assert "finbench finetune export" in proc.stderr and not (tmp_path / "out").exists()


# -- 7, 8: data check on a truncated and an empty file ---------------------------------------------------------------
def _sample_copy(tmp_path: Path) -> Path:
    from finbench.config import SAMPLE_DIR

    return Path(shutil.copytree(SAMPLE_DIR, tmp_path / "data"))


def test_data_check_says_a_csv_cut_mid_row_looks_truncated(tmp_path):
    data = _sample_copy(tmp_path)
    csv = data / "tfns" / "sent_train.csv"
    raw = csv.read_bytes()
    csv.write_bytes(raw[: len(raw) // 5])  # cut inside a row, as a failed download or copy leaves it
    proc = cli("data", "check", "--data-dir", data)
    assert proc.returncode == 1
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("tfns "))
    assert line.split()[1] == "problem"
    assert "tfns/sent_train.csv: looks truncated: it ends mid-row (no final newline); rows read: train 2" in proc.stdout
    assert "the published file has 9543 records" in proc.stdout


def test_data_check_on_a_cut_copy_of_the_real_tfns_file_gives_rows_read_and_published(tmp_path):
    from helpers import real_data_dir

    real = real_data_dir()
    if real is None or not (real / "tfns" / "sent_train.csv").is_file():
        pytest.skip("needs the real data (FINBENCH_DATA_DIR)")
    data = tmp_path / "data"
    shutil.copytree(real / "tfns", data / "tfns")  # a temporary copy, cut as an interrupted download leaves it
    csv = data / "tfns" / "sent_train.csv"
    raw = csv.read_bytes()
    csv.write_bytes(raw[: len(raw) // 2 + 7])
    rows = {r["task"]: r for r in __import__("finbench.data.check", fromlist=["check"]).check(data)}
    tfns = rows["tfns"]
    assert tfns["status"] == "problem"
    read = sum(tfns["counts"][k] for k in ("train", "dev"))
    assert 4000 < read < 5500  # about half of the 9543 published rows
    assert f"rows read: train {tfns['counts']['train']}" in tfns["message"]
    assert "the published file has 9543 records" in tfns["message"]


def test_data_check_reports_an_empty_file_as_a_problem(tmp_path):
    data = _sample_copy(tmp_path)
    (data / "headline" / "gold-dataset-sinha-khandait.csv").write_bytes(b"")
    proc = cli("data", "check", "--data-dir", data)
    assert proc.returncode == 1
    assert next(ln for ln in proc.stdout.splitlines() if ln.startswith("headline ")).split()[1] == "problem"
    assert "headline/gold-dataset-sinha-khandait.csv: the file is empty (0 bytes)" in proc.stdout
    intact = cli("data", "check", "--data-dir", _sample_copy(tmp_path / "again"))
    assert intact.returncode == 0 and " problem " not in intact.stdout


# -- 14: train into a non-empty folder that is not a finbench run ---------------------------------------------------
def test_train_refuses_a_non_empty_folder_that_is_not_a_finbench_run(tmp_path, sample_data, default_model):
    import yaml

    from helpers import SMOKE

    raw = yaml.safe_load(SMOKE.read_text())
    folder = tmp_path / "my-project"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    (folder / ".draft.tmp").write_text("also mine")
    raw["output_dir"] = str(folder)
    rfile = tmp_path / "recipe.yaml"
    rfile.write_text(yaml.safe_dump(raw))
    proc = cli("finetune", "train", rfile)
    assert proc.returncode != 0
    assert f"output_dir {folder} is not empty and holds no finbench run" in proc.stderr
    assert sorted(p.name for p in folder.iterdir()) == [".draft.tmp", "notes.txt"]


# -- beyond the list: verify-serving with an adapter trained on another base ------------------------------------------
def _tiny(path: Path, seed: int):
    tiny_llama(seed).save_pretrained(path)
    return path


def test_verify_serving_refuses_an_adapter_trained_on_another_base_of_the_same_shape(tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM

    base, other = _tiny(tmp_path / "base", 0), _tiny(tmp_path / "other", 1)
    adapter = tmp_path / "adapter"
    get_peft_model(LlamaForCausalLM.from_pretrained(other), LoraConfig(r=8, target_modules=["q_proj"])).save_pretrained(
        adapter
    )
    proc = cli("verify-serving", "--base", base, "--adapter", adapter, "--output_path", tmp_path / "out")
    assert proc.returncode == 2
    assert f"was trained on {other}, and {base} is another model" in proc.stderr
    assert not (tmp_path / "out").exists()
    (adapter / "adapter_config.json").write_text("{not json")
    bad = cli("verify-serving", "--base", base, "--adapter", adapter, "--output_path", tmp_path / "out")
    assert bad.returncode == 2 and "adapter_config.json is not readable JSON" in bad.stderr


# -- 6, the other paths of the staging dir ---------------------------------------------------------------------------
@pytest.mark.slow  # the real lm_eval process starts, and fails on the flag
def test_a_failed_eval_writes_nothing_and_removes_a_stale_staging_dir(tmp_path, default_model):
    out = tmp_path / "run"
    stale = tmp_path / ".run.killed.tmp"  # what a SIGKILLed earlier run of this output path leaves
    (stale / "m").mkdir(parents=True)
    (stale / "m" / "results_2026-01-01.json").write_text("{}")
    proc = cli(
        "eval",
        "--tasks",
        "finbench_fpb",
        "--limit",
        "2",
        "--data-dir",
        "sample",
        "--output_path",
        out,
        "--model_args",
        f"pretrained={default_model}",
        "--no-such-lm-eval-flag",
        subprocess_run=True,
    )
    assert proc.returncode != 0
    assert f"nothing was written to {out}" in proc.stderr
    assert not out.exists() and not stale.exists() and not list(tmp_path.glob(".run.*.tmp"))


def test_publishing_into_an_existing_output_dir_keeps_the_earlier_run(tmp_path):
    from finbench.cli import _publish

    out, stage = tmp_path / "out", tmp_path / ".out.x.tmp"
    (out / "model").mkdir(parents=True)
    (out / "model" / "results_old.json").write_text("old")
    (out / "model" / "samples_t_old.jsonl").write_text("old")
    (stage / "model").mkdir(parents=True)
    for name in ("results_new.json", "samples_t_new.jsonl", "samples_u_new.jsonl"):
        (stage / "model" / name).write_text("new")
    (stage / "finbench_run.json").write_text("{}")
    assert _publish(stage, out) == [out / "model" / "results_new.json"]
    assert sorted(p.name for p in (out / "model").iterdir()) == [
        "results_new.json",
        "results_old.json",
        "samples_t_new.jsonl",
        "samples_t_old.jsonl",
        "samples_u_new.jsonl",
    ]
    assert (out / "finbench_run.json").is_file() and not stage.exists()
