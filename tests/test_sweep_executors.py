"""Sweep executors: resources and evaluation parallelism per unit, Slurm (submitit) parameters, the status view;
a real local Ray cluster and submitit's local executor running the smoke sweep, compared with `--executor local`."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from finbench.finetune import executors, recipe, sweep
from finbench.finetune.recipe import RecipeError
from helpers import SMOKE, SMOKE_EVAL, cli, env

# The engines' tests prove the executor on the smallest real unit of work: the base model's evaluation and one
# training run (a few LoRA steps on the sample sets, merged, evaluated on one document with a short reply).
RUNS = ["zero-shot", "single-fpb"]
EVAL = SMOKE_EVAL


def _plan(tmp_path: Path, resources: dict | None = None) -> Path:
    template = recipe.load(SMOKE)
    if resources:
        template = dataclasses.replace(template, resources=recipe.Resources(**resources))
    sweep.plan(template, ["fpb", "ner_cls"], ["base"], tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    "backend, gpus, tp, expected",
    [
        ("auto", 0, None, ("hf", "")),
        ("auto", 1, None, ("vllm", "tensor_parallel_size=1,data_parallel_size=1")),
        ("auto", 4, None, ("vllm", "tensor_parallel_size=1,data_parallel_size=4")),
        ("vllm", 8, 2, ("vllm", "tensor_parallel_size=2,data_parallel_size=4")),
        ("vllm", 4, 4, ("vllm", "tensor_parallel_size=4,data_parallel_size=1")),
        ("hf", 4, None, ("hf", "")),
    ],
)
def test_evaluation_parallelism_follows_the_units_gpus(backend, gpus, tp, expected):
    assert executors.eval_backend(backend, gpus, tp) == expected


def test_evaluation_parallelism_rejects_what_cannot_split():
    with pytest.raises(RecipeError, match="must divide the run's 4 GPU"):
        executors.eval_backend("vllm", 4, 3)
    with pytest.raises(RecipeError, match="needs --eval-backend vllm"):
        executors.eval_backend("hf", 2, 2)


def test_recipe_resources_are_validated_and_not_part_of_its_identity(tmp_path):
    r = recipe.load(SMOKE)
    assert r.resources == recipe.Resources()
    big = dataclasses.replace(r, resources=recipe.Resources(gpus=4, cpus=32, mem_gb=200, time_min=600))
    assert big.fingerprint() == r.fingerprint()  # a run moved to a bigger node resumes
    again = recipe.from_dict(json.loads(json.dumps(big.to_dict())))
    assert again.resources == big.resources
    with pytest.raises(RecipeError, match="resources.gpus: must be >= 0"):
        recipe.from_dict({**r.to_dict(), "resources": {"gpus": -1}})
    with pytest.raises(RecipeError, match="resources.nodes: unknown field"):
        recipe.from_dict({**r.to_dict(), "resources": {"nodes": 2}})


def test_resources_come_from_the_recipe_and_flags_override(tmp_path):
    d = _plan(tmp_path, {"gpus": 2, "cpus": 16, "mem_gb": 64, "time_min": 300})
    plan = sweep.read_plan(d)
    by_name = {e["name"]: e for e in plan["runs"]}
    r = executors.resources_for(d, plan, by_name["single-fpb"], {"gpus": None, "time_min": 90})
    assert r == recipe.Resources(gpus=2, cpus=16, mem_gb=64, time_min=90)
    zero = executors.resources_for(d, plan, by_name["zero-shot"], {})
    assert zero.gpus == 2  # the base model's evaluation asks what the recipes ask
    with pytest.raises(RecipeError, match="cpus >= 1"):
        executors.resources_for(d, plan, by_name["single-fpb"], {"cpus": 0})


def test_slurm_job_array_asks_for_gres_time_and_requeue_signal(tmp_path, monkeypatch):
    submitit = pytest.importorskip("submitit")
    bin_dir = tmp_path / "bin"  # submitit's Slurm executor wants an srun on PATH; the sbatch text is only rendered
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    r = recipe.Resources(gpus=2, cpus=16, mem_gb=64, time_min=300)
    opts = executors.Options(executor="slurm", max_concurrent=4, slurm_partition="gpu", slurm_account="fin")
    params = executors.slurm_parameters(r, 55, opts, "finbench-grid")
    ex = submitit.AutoExecutor(folder=tmp_path / "%j", cluster="slurm")
    ex.update_parameters(**params)
    slurm = ex._executor
    text = submitit.slurm.slurm._make_sbatch_string(
        command="python -m x", folder=slurm.folder, map_count=55, **slurm.parameters
    )
    for line in [
        "#SBATCH --gres=gpu:2",
        "#SBATCH --array=0-54%4",
        "#SBATCH --cpus-per-task=16",
        "#SBATCH --mem=64GB",
        "#SBATCH --time=300",
        "#SBATCH --partition=gpu",
        "#SBATCH --account=fin",
        "#SBATCH --signal=USR2@",
        "#SBATCH --job-name=finbench-grid",
    ]:
        assert line in text, line
    unit = executors._SlurmUnit()
    assert isinstance(unit.checkpoint("u"), submitit.helpers.DelayedSubmission)  # requeued on preemption
    local = executors.slurm_parameters(r, 3, dataclasses.replace(opts, slurm_cluster="local", max_concurrent=None), "x")
    assert local["gpus_per_node"] == 2 and "slurm_gres" not in local and local["slurm_array_parallelism"] == 3


def test_submit_rejects_bad_options(tmp_path):
    d = _plan(tmp_path)
    with pytest.raises(RecipeError, match="no run named 'single-tfns'"):
        executors.submit(d, EVAL, executors.Options(only=["single-tfns"]))
    with pytest.raises(RecipeError, match="--max-concurrent must be >= 1"):
        executors.submit(d, EVAL, executors.Options(executor="ray", max_concurrent=0))
    with pytest.raises(RecipeError, match="--executor: 'k8s'"):
        executors.submit(d, EVAL, executors.Options(executor="k8s"))
    assert not (d / executors.SUBMISSIONS).exists()


def test_status_reports_each_runs_state_and_log(tmp_path):
    d = _plan(tmp_path)
    logs = d / "logs"
    executors._record(
        d,
        [
            {"executor": "ray", "name": n, "task_id": f"t{i}", "log": str(logs / f"{n}.log")}
            for i, n in enumerate(["zero-shot", "single-fpb", "single-ner_cls"])
        ],
    )
    time.sleep(1.1)
    runs = d / "runs"
    (runs / "zero-shot").mkdir(parents=True)
    (runs / "zero-shot" / "DONE.json").write_text("{}")
    executors._write_state(d, "single-fpb", "failed", log=str(logs / "single-fpb.log"), error="RuntimeError: boom")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    executors._write_state(d, "single-ner_cls", "running", log=str(logs / "single-ner_cls.log"))
    state = json.loads((runs / "single-ner_cls" / executors.STATE).read_text())
    rows = {r["name"]: r for r in executors.status(d)}
    assert rows["single-ner_cls"]["state"] == "running"  # this process is alive
    state["pid"] = dead.pid
    (runs / "single-ner_cls" / executors.STATE).write_text(json.dumps(state))
    rows = {r["name"]: r for r in executors.status(d)}
    assert rows["zero-shot"]["state"] == "done"
    assert rows["single-fpb"]["state"] == "failed" and rows["single-fpb"]["detail"] == "RuntimeError: boom"
    assert rows["single-fpb"]["log"] == str(logs / "single-fpb.log") and rows["single-fpb"]["job"] == "t1"
    assert rows["single-ner_cls"]["state"] == "failed" and "killed" in rows["single-ner_cls"]["detail"]
    assert rows["pair-fpb+ner_cls"]["state"] == "pending"
    time.sleep(1.1)
    executors._record(d, [{"executor": "ray", "name": "single-fpb", "task_id": "t9", "log": None}])
    assert {r["name"]: r for r in executors.status(d)}["single-fpb"]["state"] == "queued"  # resubmitted
    out = subprocess.run(
        [sys.executable, "-m", "finbench.cli", "sweep", "status", str(d)], env=env(), capture_output=True, text=True
    )
    assert out.returncode == 1, out.stderr  # a failed run
    assert out.stdout.splitlines()[-1] == "1 pending, 1 queued, 0 running, 1 done, 1 failed"
    assert str(logs / "single-ner_cls.log") in out.stdout


def test_unit_passes_vllm_parallelism_to_the_evaluation_and_records_failure(tmp_path, monkeypatch, default_model):
    """Argument plumbing only (no GPU here): the unit's `finbench eval` command, and its STATE.json on failure."""
    d = _plan(tmp_path, {"gpus": 4})
    seen = []

    def fake_eval(cmd, *a, **k):  # stands in for `finbench eval --model vllm` on 4 GPUs
        seen.append(cmd)
        return subprocess.CompletedProcess(cmd, 3)

    monkeypatch.setattr(sweep.child, "run", fake_eval)
    opts = executors.Options(only=["zero-shot"], tensor_parallel_size=2)
    with pytest.raises(RuntimeError, match="evaluation of .* failed"):
        executors.submit(d, EVAL, opts)
    cmd = seen[0]
    assert cmd[cmd.index("--model") + 1] == "vllm"
    parallel = "tensor_parallel_size=2,data_parallel_size=2"
    assert cmd[cmd.index("--model_args") + 1] == f"pretrained={default_model},{parallel}"
    assert cmd[-len(EVAL) :] == EVAL
    state = json.loads((d / "runs" / "zero-shot" / executors.STATE).read_text())
    assert state["state"] == "failed" and "exit 3" in state["error"]
    assert not (d / "runs" / "zero-shot" / "DONE.json").exists()


# ---- real engines, real training and real lm_eval on the sample data ------------------------------------------

# What differs between two sweeps of the same plan that is not a result: when lm-eval ran (its results file's `date`
# and `total_evaluation_time_seconds`), where the sweep dir is (in model_args, model_name, model_name_sanitized and
# train_summary.json's selected_checkpoint/resumed_from), the memory addresses in lm-eval's dump of the task config
# (`<function _prompt at 0x7f…>`: a different process), and this training session's own timing and token count.
TIMESTAMPS = ("date", "total_evaluation_time_seconds")
SESSION = ("train_seconds_this_session", "train_tokens_this_session", "train_tokens_per_second", "resumed_from")


def _outputs(sweep_dir: Path, name: str) -> dict:
    """A run's results: per-document samples (bytes), lm-eval's results file and train_summary.json, minus the
    TIMESTAMPS, SESSION fields and the sweep dir's path."""

    def unpath(text: str) -> str:
        text = text.replace(str(sweep_dir), "<SWEEP>").replace(str(sweep_dir).replace("/", "__"), "<SWEEP>")
        return re.sub(r" at 0x[0-9a-f]+>", " at 0x…>", text)

    ev = sweep_dir / "runs" / name / "eval"
    (results,) = list(ev.rglob("results_*.json"))
    res = {k: v for k, v in json.loads(unpath(results.read_text())).items() if k not in TIMESTAMPS}
    samples = {p.name.rsplit("_", 1)[0]: p.read_bytes() for p in ev.rglob("samples_*.jsonl")}
    out = {"results": res, "samples": samples, "n_samples_files": len(samples)}
    if (ev / "train_summary.json").exists():
        summary = json.loads(unpath((ev / "train_summary.json").read_text()))
        out["train"] = {k: v for k, v in summary.items() if k not in SESSION}
    return out


def _sweep_plan(d: Path) -> Path:
    """`finbench sweep plan` of the smoke template on fpb: the zero-shot run and single-fpb (in this process: a
    subprocess would re-import trl for the recipe's SFTConfig; the files are the same)."""
    proc = cli("sweep", "plan", "--template", SMOKE, "--tasks", "fpb", "-o", d)
    assert proc.returncode == 0, proc.stderr
    return d


@pytest.mark.slow
def test_ray_sweep_matches_local_and_resumes_a_killed_run(tmp_path, smoke_sweep, monkeypatch):
    ray = pytest.importorskip("ray")
    for k in ("FINBENCH_DATA_DIR", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.setenv(k, env()[k])
    d = tmp_path / "ray"
    _sweep_plan(d)
    try:
        ray.init(num_cpus=2, include_dashboard=False)
        # one run started on the cluster and killed by it midway through training (after its checkpoint-2)
        opts = executors.Options(executor="ray", only=RUNS, resources={"cpus": 2})
        unit = executors.Unit(
            str(d), os.getcwd(), "single-fpb", tuple(EVAL), False, "hf", "", str(d / "logs" / "single-fpb.log")
        )
        ref = ray.remote(executors.run_unit).options(num_cpus=2, max_retries=0).remote(unit)
        ckpt = d / "runs" / "single-fpb" / "checkpoints" / "checkpoint-2" / "trainer_state.json"
        deadline = time.time() + 900
        while not ckpt.exists() and time.time() < deadline:
            time.sleep(0.5)
        assert ckpt.exists(), (d / "logs" / "single-fpb.log").read_text()[-3000:]
        ray.cancel(ref, force=True)
        with pytest.raises(ray.exceptions.RayError):
            ray.get(ref, timeout=120)
        assert not (d / "runs" / "single-fpb" / "train_summary.json").exists()  # it really stopped midway
        time.sleep(2)
        killed = {r["name"]: r for r in executors.status(d)}["single-fpb"]
        assert killed["state"] == "failed" and "killed" in killed["detail"], killed

        assert executors.submit(d, EVAL, opts) == len(RUNS)
        log = (d / "logs" / "single-fpb.log").read_text()
        assert "[finetune] resuming from" in log and "checkpoint-" in log.split("resuming from")[1].split("\n")[0]
        summary = json.loads((d / "runs" / "single-fpb" / "train_summary.json").read_text())
        assert summary["resumed_from"]
        rows = executors.status(d)
        assert [r["state"] for r in rows if r["name"] in RUNS] == ["done"] * len(RUNS)
        assert executors.submit(d, EVAL, opts) == 0  # a finished run is never redone
    finally:
        ray.shutdown()
    reference = smoke_sweep.dir  # `finbench sweep run --executor local` of the same plan (conftest)
    for name in RUNS:
        assert _outputs(d, name) == _outputs(reference, name), name


@pytest.mark.slow
def test_slurm_code_path_on_submitits_local_executor(tmp_path, smoke_sweep):
    """submitit's local executor (not a Slurm cluster): the same pickled unit, job array and result collection.
    The zero-shot run only (evaluation); training inside an engine's unit is what the Ray and real-Slurm tests run."""
    pytest.importorskip("submitit")
    d = tmp_path / "slurm"
    _sweep_plan(d)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "finbench.cli",
            "sweep",
            "run",
            str(d),
            "--executor",
            "slurm",
            "--slurm-local",
            "--wait",
            "--only",
            "zero-shot",
            *EVAL,
        ],
        env=env(),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "1 run(s) completed now" in run.stdout and "1 job array(s)" in run.stdout
    (sub,) = [json.loads(line) for line in (d / executors.SUBMISSIONS).read_text().splitlines()]
    assert sub["name"] == "zero-shot" and sub["executor"] == "slurm (local)" and sub["job_id"]
    assert "[sweep] zero-shot: done" in Path(sub["log"]).read_text()  # the unit's own log
    assert _outputs(d, "zero-shot") == _outputs(smoke_sweep.dir, "zero-shot")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def slurm_cluster(tmp_path_factory):
    """A real single-node Slurm (Debian's slurmctld + slurmd, munge) on 127.0.0.1, started and stopped here."""
    daemons = [shutil.which(x) or f"/usr/sbin/{x}" for x in ("munged", "slurmctld", "slurmd")]
    if not all(os.access(d, os.X_OK) for d in daemons) or not shutil.which("sbatch"):
        pytest.skip("Debian's slurmctld, slurmd, slurm-client and munge are not installed (scripts/test.sh does)")
    if os.geteuid() != 0 or not Path("/etc/munge/munge.key").exists():
        pytest.skip("a local Slurm needs root and /etc/munge/munge.key")
    d = tmp_path_factory.mktemp("slurm")
    host = socket.gethostname().split(".")[0]
    for sub in ("state", "spool", "munge"):
        (d / sub).mkdir()
    conf = d / "slurm.conf"
    conf.write_text(f"""ClusterName=finbench
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
AuthType=auth/munge
AuthInfo=socket={d}/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
NodeName={host} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
    slurm_env = env(SLURM_CONF=str(conf))
    pid_files = [d / "munge" / "munged.pid", d / "slurmctld.pid", d / "slurmd.pid"]
    subprocess.run(
        [
            daemons[0],
            f"--socket={d}/munge/munge.socket",
            f"--pid-file={pid_files[0]}",
            f"--log-file={d}/munge/munged.log",
            f"--seed-file={d}/munge/seed",
            "--force",
        ],
        check=True,
    )
    try:
        subprocess.run([daemons[1]], env=slurm_env, check=True)
        subprocess.run([daemons[2]], env=slurm_env, check=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            out = subprocess.run(["sinfo", "-h", "-o", "%t"], env=slurm_env, capture_output=True, text=True).stdout
            if out.strip() == "idle":
                break
            time.sleep(1)
        else:
            pytest.fail(f"the local Slurm node did not come up: {(d / 'slurmctld.log').read_text()[-2000:]}")
        yield slurm_env
    finally:
        for pid_file in reversed(pid_files):  # only the daemons this fixture started, by their pid
            if pid_file.exists():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)
        time.sleep(2)


def _trained_copy(reference: Path, d: Path, name: str) -> None:
    """Put the reference sweep's trained run `name` (adapter, merged model, summary; no checkpoints, no evaluation)
    into sweep `d`, as a run whose unit was killed after export: its next unit only evaluates."""
    src, dst = reference / "runs" / name, d / "runs" / name
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("DONE.json", "eval", "checkpoints", executors.STATE))
    for f in ("train_summary.json", "recipe.yaml"):  # the paths they hold, moved with the run
        (dst / f).write_text((dst / f).read_text().replace(str(reference), str(d)))


@pytest.mark.slow
def test_sweep_on_a_real_local_slurm(tmp_path, smoke_sweep, slurm_cluster):
    """sbatch job array on a single-node slurmctld + slurmd on 127.0.0.1; same outputs as --executor local.
    Training inside an engine's unit is the Ray test's; here single-fpb arrives trained (the local reference's
    adapter and merged model), so both array tasks are evaluations: the job array is what is tested."""
    pytest.importorskip("submitit")
    reference = smoke_sweep.dir
    d = tmp_path / "slurm"
    _sweep_plan(d)
    _trained_copy(reference, d, "single-fpb")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "finbench.cli",
            "sweep",
            "run",
            str(d),
            "--executor",
            "slurm",
            "--wait",
            "--only",
            "zero-shot,single-fpb",
            "--cpus-per-run",
            str(os.cpu_count()),
            "--max-concurrent",
            "1",
            "--time-min-per-run",
            "60",
            *EVAL,
        ],
        env=slurm_cluster,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "2 run(s) completed now" in run.stdout
    subs = [json.loads(line) for line in (d / executors.SUBMISSIONS).read_text().splitlines()]
    assert [s["executor"] for s in subs] == ["slurm (slurm)"] * 2
    assert [s["job_id"].split("_")[1] for s in subs] == ["0", "1"]  # one array, two tasks
    array = subs[0]["job_id"].split("_")[0]
    script = (d / "slurm" / array / f"{array}_submission.sh").read_text()  # the sbatch file submitit submitted
    for line in [
        "#SBATCH --array=0-1%1",
        f"#SBATCH --cpus-per-task={os.cpu_count()}",
        "#SBATCH --time=60",
        "#SBATCH --signal=USR2@",
    ]:
        assert line in script, line
    status = subprocess.run(
        [sys.executable, "-m", "finbench.cli", "sweep", "status", str(d)], env=env(), capture_output=True, text=True
    )
    assert status.returncode == 0 and "2 done" in status.stdout.splitlines()[-1], status.stdout
    assert "[finetune]" not in (d / "logs" / "single-fpb.log").read_text()  # evaluated, not retrained
    for name in ("zero-shot", "single-fpb"):
        assert _outputs(d, name) == _outputs(reference, name), name
