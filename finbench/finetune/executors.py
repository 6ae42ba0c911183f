"""Where a sweep's runs execute: here, on a Ray cluster, or on Slurm (through submitit).

Each pending run of the plan (train -> merge -> evaluate: `sweep.run(only=[name])`) becomes one unit of work on the
engine, asking for the resources of its recipe's `resources:` section (flags override). The engine does all the
scheduling, queueing, concurrency and retrying: Ray bounds concurrency by resources (and by a `finbench_run` custom
resource when asked) and retries a task whose worker died; Slurm runs job arrays (`%N` bounds concurrency) and
submitit requeues a preempted or timed-out job, which resumes training from its last complete checkpoint.
finbench only submits runs that are not done (DONE.json: never redone) and records where each went
(`submissions.jsonl`) and what each unit is doing (`runs/<name>/STATE.json`), which `finbench sweep status` shows.
Units log to `logs/<name>.log` in the sweep dir (the local executor prints to the console as before). Ray and Slurm
need the sweep dir on storage every node sees, and finbench installed on every node.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import sys
import time
from pathlib import Path

from finbench import artifacts

from . import sweep
from .recipe import RecipeError, Resources, load
from .rundir import DONE, STATE

EXECUTORS = ("local", "ray", "slurm")
EVAL_BACKENDS = ("auto", "hf", "vllm")
SUBMISSIONS = "submissions.jsonl"
RAY_SLOT = "finbench_run"  # custom Ray resource: a node started with --resources='{"finbench_run": K}' runs K
# environment the units need, passed to Ray workers on an existing cluster (never tokens or keys)
WORKER_ENV = (
    "FINBENCH_DATA_DIR",
    "FINBENCH_CACHE_DIR",
    "HF_HOME",
    "HF_HUB_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "TRANSFORMERS_OFFLINE",
)


@dataclasses.dataclass(frozen=True)
class Unit:
    """One run as a picklable unit of work (what the engine ships to a worker)."""

    sweep_dir: str  # absolute
    cwd: str  # the submitter's working directory (recipes may hold relative output dirs)
    name: str
    eval_args: tuple[str, ...]
    allow_leakage: bool
    model: str  # lm-eval backend for the evaluation
    model_args: str  # its extra model_args (vLLM parallelism)
    log: str | None  # None: inherit the console


def eval_backend(backend: str, gpus: int, tensor_parallel_size: int | None) -> tuple[str, str]:
    """(lm-eval model, extra model_args) for a unit with `gpus` GPUs.

    auto: vLLM when the unit has GPUs, else hf (as `finbench sweep run` always did). vLLM on several GPUs shards the
    evaluation: tensor_parallel_size GPUs per model replica (default 1: a 135M-8B model fits on one GPU) and
    data_parallel_size = gpus / tensor_parallel_size replicas (lm-eval dispatches them as Ray actors)."""
    if backend not in EVAL_BACKENDS:
        raise RecipeError(f"--eval-backend: {backend!r}; choose one of {', '.join(EVAL_BACKENDS)}")
    if backend == "auto":
        backend = "vllm" if gpus > 0 else "hf"
    if backend == "hf":
        if tensor_parallel_size:
            raise RecipeError("--tensor-parallel-size needs --eval-backend vllm")
        return "hf", ""
    tp = tensor_parallel_size or 1
    replicas = max(gpus, 1)
    if tp < 1 or replicas % tp:
        raise RecipeError(
            f"--tensor-parallel-size {tp} must divide the run's {replicas} GPU(s) "
            "(data_parallel_size = GPUs / tensor_parallel_size)"
        )
    return "vllm", f"tensor_parallel_size={tp},data_parallel_size={replicas // tp}"


def resources_for(sweep_dir: Path, plan: dict, entry: dict, overrides: dict) -> Resources:
    """The recipe's resources with flags applied; the zero-shot run takes those of the plan's first recipe."""
    recipe_entry = entry if entry["recipe"] else next((e for e in plan["runs"] if e["recipe"]), None)
    base = load(sweep_dir / recipe_entry["recipe"]).resources if recipe_entry else Resources()
    r = dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})
    if r.gpus < 0 or r.cpus < 1 or r.mem_gb < 0 or r.time_min < 1:
        raise RecipeError(f"resources {dataclasses.asdict(r)}: gpus >= 0, cpus >= 1, mem_gb >= 0, time_min >= 1")
    return r


@contextlib.contextmanager
def _output_to(log: str | None):
    """Send this process's stdout/stderr (and its subprocesses') to `log` for the duration."""
    if log is None:
        yield
        return
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(log, "a", buffering=1) as f:
        f.write(f"==== {time.strftime('%Y-%m-%d %H:%M:%S')} on {socket.gethostname()} (pid {os.getpid()})\n")
        f.flush()
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def _write_state(sweep_dir: Path, name: str, state: str, **extra) -> None:
    path = Path(sweep_dir) / "runs" / name / STATE
    artifacts.write_text(
        path,
        json.dumps(
            {"state": state, "host": socket.gethostname(), "pid": os.getpid(), "time": _now(), **extra}, indent=2
        )
        + "\n",
    )


def run_unit(unit: Unit) -> int:
    """Run one planned run here (what every engine executes); 1 if it completed now, 0 if it was already done."""
    os.chdir(unit.cwd)
    # lm-eval's vLLM data parallelism starts its own Ray actors on this unit's GPUs: never on the outer cluster
    os.environ.pop("RAY_ADDRESS", None)
    sweep_dir = Path(unit.sweep_dir)
    _write_state(sweep_dir, unit.name, "running", log=unit.log)
    try:
        with _output_to(unit.log):
            n = sweep.run(
                sweep_dir,
                list(unit.eval_args),
                only=[unit.name],
                allow_leakage=unit.allow_leakage,
                model=unit.model,
                model_args=unit.model_args,
            )
    except BaseException as exc:  # the engine sees the exception too; STATE.json keeps it for `sweep status`
        _write_state(sweep_dir, unit.name, "failed", log=unit.log, error=f"{type(exc).__name__}: {exc}")
        raise
    _write_state(sweep_dir, unit.name, "done", log=unit.log)
    return n


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


def _record(sweep_dir: Path, rows: list[dict], when: str | None = None) -> None:
    """Append submissions; `when` is taken before submitting, so a unit that starts at once is not shown queued."""
    with open(Path(sweep_dir) / SUBMISSIONS, "a") as f:
        for row in rows:
            f.write(json.dumps({"time": when or _now(), **row}) + "\n")


@dataclasses.dataclass
class Options:
    """`finbench sweep run` settings beyond the evaluation's arguments."""

    executor: str = "local"
    only: list[str] | None = None
    allow_leakage: bool = False
    resources: dict = dataclasses.field(default_factory=dict)  # gpus/cpus/mem_gb/time_min overrides
    max_concurrent: int | None = None
    eval_backend: str = "auto"
    eval_model_args: str = ""  # appended to the evaluation's model_args (e.g. vLLM's dtype=float32,max_model_len=4096)
    tensor_parallel_size: int | None = None
    ray_address: str | None = None
    slurm_cluster: str | None = None  # None: Slurm (sbatch); "local": submitit's local executor (tests)
    slurm_partition: str | None = None
    slurm_account: str | None = None
    wait: bool = True


def submit(sweep_dir: Path, eval_args: list[str], opts: Options) -> int:
    """Run (local) or submit (ray, slurm) every pending run; returns how many completed now (0 if not waited for).

    Raises RuntimeError naming the failed runs and their logs."""
    if opts.executor not in EXECUTORS:
        raise RecipeError(f"--executor: {opts.executor!r}; choose one of {', '.join(EXECUTORS)}")
    if opts.max_concurrent is not None and opts.max_concurrent < 1:
        raise RecipeError("--max-concurrent must be >= 1")
    sweep_dir = Path(sweep_dir).resolve()
    plan = sweep.read_plan(sweep_dir)
    names = [e["name"] for e in plan["runs"]]
    unknown = [n for n in opts.only or [] if n not in names]
    if unknown:
        raise RecipeError(f"--only: no run named {unknown[0]!r} in {sweep_dir}/plan.json")
    units: list[tuple[Unit, Resources]] = []
    for e in plan["runs"]:
        if opts.only and e["name"] not in opts.only:
            continue
        if (sweep_dir / "runs" / e["name"] / DONE).exists():
            print(f"[sweep] {e['name']}: done, skipped", flush=True)
            continue
        r = resources_for(sweep_dir, plan, e, opts.resources)
        model, model_args = eval_backend(opts.eval_backend, r.gpus, opts.tensor_parallel_size)
        model_args = ",".join(a for a in (model_args, opts.eval_model_args) if a)
        log = None if opts.executor == "local" else str(sweep_dir / "logs" / f"{e['name']}.log")
        units.append(
            (
                Unit(
                    str(sweep_dir), os.getcwd(), e["name"], tuple(eval_args), opts.allow_leakage, model, model_args, log
                ),
                r,
            )
        )
    if not units:
        return 0
    return {"local": _local, "ray": _ray, "slurm": _slurm}[opts.executor](sweep_dir, units, opts)


def _local(sweep_dir: Path, units: list[tuple[Unit, Resources]], opts: Options) -> int:
    """In order, in this process, stopping at the first failure (as `finbench sweep run` always did)."""
    _record(sweep_dir, [{"executor": "local", "name": u.name, "log": None} for u, _ in units])
    return sum(run_unit(u) for u, _ in units)


def _failed(sweep_dir: Path, failures: dict[str, str], units: list[tuple[Unit, Resources]]) -> None:
    logs = {u.name: u.log for u, _ in units}
    for name, err in failures.items():  # a unit killed outright could not say so itself
        state = Path(sweep_dir) / "runs" / name / STATE
        if not state.exists() or json.loads(state.read_text()).get("state") != "failed":
            _write_state(sweep_dir, name, "failed", log=logs[name], error=err)
    raise RuntimeError(
        f"{len(failures)} run(s) failed: "
        + "; ".join(f"{n} (log: {logs[n]}): {err.splitlines()[0] if err else ''}" for n, err in failures.items())
    )


def _ray(sweep_dir: Path, units: list[tuple[Unit, Resources]], opts: Options) -> int:
    """Ray tasks with resource requests, on the cluster at --ray-address, the one this process joined, or a new
    local one. Each unit runs in a fresh worker process that exits after it (max_calls=1; Ray's default for tasks
    that ask for GPUs at definition), so a run's GPU memory, threads and working directory never leak into the next."""
    import ray

    started = not ray.is_initialized()
    slots = {}
    if started:
        if opts.ray_address:
            env = {k: os.environ[k] for k in WORKER_ENV if k in os.environ}
            ray.init(address=opts.ray_address, runtime_env={"env_vars": env} if env else None)
        else:  # a local cluster for this sweep, with a slot resource when concurrency is bounded
            slots = {RAY_SLOT: opts.max_concurrent} if opts.max_concurrent else {}
            ray.init(resources=slots or None, include_dashboard=False)
    try:
        have_slots = RAY_SLOT in ray.cluster_resources()
        if opts.max_concurrent and not have_slots:
            raise RecipeError(
                f"--max-concurrent on an existing Ray cluster: start its nodes with "
                f"--resources='{{\"{RAY_SLOT}\": K}}' (K runs per node), or bound concurrency by "
                "resources (--gpus-per-run/--cpus-per-run)"
            )
        task = ray.remote(max_calls=1)(run_unit)
        refs, when = {}, _now()
        for u, r in units:
            opts_r = {"num_cpus": r.cpus, "num_gpus": r.gpus, "retry_exceptions": False}
            if r.mem_gb:
                opts_r["memory"] = r.mem_gb * 2**30
            if have_slots:
                opts_r["resources"] = {RAY_SLOT: 1}
            refs[u.name] = task.options(name=f"finbench-sweep:{u.name}", **opts_r).remote(u)
        _record(
            sweep_dir,
            [
                {
                    "executor": "ray",
                    "name": u.name,
                    "task_id": refs[u.name].task_id().hex(),
                    "resources": dataclasses.asdict(r),
                    "log": u.log,
                }
                for u, r in units
            ],
            when,
        )
        print(f"[sweep] submitted {len(refs)} run(s) as Ray tasks; `finbench sweep status {sweep_dir}`", flush=True)
        done, failures = 0, {}
        for name, ref in refs.items():
            try:
                done += ray.get(ref)
                print(f"[sweep] {name}: done", flush=True)
            except (ray.exceptions.RayError, RuntimeError) as exc:
                failures[name] = str(exc)
                print(f"[sweep] {name}: failed (log: {sweep_dir / 'logs' / (name + '.log')})", flush=True)
    finally:
        if started:
            ray.shutdown()
    if failures:
        _failed(sweep_dir, failures, units)
    return done


class _SlurmUnit:
    """The callable submitit runs; Checkpointable, so submitit requeues it on preemption or timeout (USR2) and it
    resumes from the run's last complete training checkpoint."""

    def __call__(self, unit: Unit) -> int:
        return run_unit(unit)

    def checkpoint(self, unit: Unit):
        import submitit

        return submitit.helpers.DelayedSubmission(self, unit)


def slurm_parameters(r: Resources, n: int, opts: Options, job_name: str) -> dict:
    """submitit.AutoExecutor parameters for an array of n runs with resources r."""
    p = {
        "name": job_name,
        "timeout_min": r.time_min,
        "cpus_per_task": r.cpus,
        "tasks_per_node": 1,
        "nodes": 1,
        "slurm_array_parallelism": min(n, opts.max_concurrent or n),
    }
    if r.mem_gb:
        p["mem_gb"] = r.mem_gb
    if opts.slurm_cluster == "local":  # submitit's local executor: CUDA_VISIBLE_DEVICES from gpus_per_node
        p["gpus_per_node"] = r.gpus
    elif r.gpus:
        p["slurm_gres"] = f"gpu:{r.gpus}"
    if opts.slurm_partition:
        p["slurm_partition"] = opts.slurm_partition
    if opts.slurm_account:
        p["slurm_account"] = opts.slurm_account
    return p


def _slurm(sweep_dir: Path, units: list[tuple[Unit, Resources]], opts: Options) -> int:
    """One submitit job array per distinct resource request; waits for the jobs only with opts.wait."""
    import submitit

    groups: dict[Resources, list[Unit]] = {}
    for u, r in units:
        groups.setdefault(r, []).append(u)
    cluster = opts.slurm_cluster or "slurm"
    jobs = []
    for r, group in groups.items():
        when = _now()
        ex = submitit.AutoExecutor(folder=sweep_dir / "slurm" / "%j", cluster=cluster)
        ex.update_parameters(**slurm_parameters(r, len(group), opts, f"finbench-{sweep_dir.name}"))
        array = ex.map_array(_SlurmUnit(), group)
        jobs += list(zip(group, array))
        _record(
            sweep_dir,
            [
                {
                    "executor": f"slurm ({cluster})",
                    "name": u.name,
                    "job_id": j.job_id,
                    "resources": dataclasses.asdict(r),
                    "log": u.log,
                    "engine_log": str(j.paths.stdout),
                }
                for u, j in zip(group, array)
            ],
            when,
        )
    print(
        f"[sweep] submitted {len(jobs)} run(s) as {len(groups)} job array(s) "
        f"({', '.join(sorted({j.job_id.split('_')[0] for _, j in jobs}))}); `finbench sweep status {sweep_dir}`",
        flush=True,
    )
    if not opts.wait:
        return 0
    done, failures = 0, {}
    for u, j in jobs:
        try:
            done += j.result()
            print(f"[sweep] {u.name}: done", flush=True)
        except Exception as exc:  # submitit's FailedJobError / UncompletedJobError carry the job's traceback
            failures[u.name] = str(exc)
            print(f"[sweep] {u.name}: failed (log: {u.log}; engine log: {j.paths.stdout})", flush=True)
    if failures:
        _failed(sweep_dir, failures, [(u, None) for u, _ in jobs])
    return done


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def status(sweep_dir: Path) -> list[dict]:
    """Per run: state (pending, queued, running, done, failed), where it was submitted, its log."""
    sweep_dir = Path(sweep_dir)
    plan = sweep.read_plan(sweep_dir)
    submitted: dict[str, dict] = {}
    path = sweep_dir / SUBMISSIONS
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                submitted[row["name"]] = row  # the latest submission of each run
    rows = []
    for e in plan["runs"]:
        run_dir = sweep_dir / "runs" / e["name"]
        sub = submitted.get(e["name"], {})
        row = {
            "name": e["name"],
            "state": "pending",
            "executor": sub.get("executor", ""),
            "job": sub.get("job_id") or sub.get("task_id", ""),
            "log": sub.get("log"),
            "detail": "",
        }
        st = json.loads((run_dir / STATE).read_text()) if (run_dir / STATE).exists() else None
        if (run_dir / DONE).exists():
            row["state"] = "done"
        elif st and st.get("time", "") >= sub.get("time", ""):
            row["state"], row["log"] = st["state"], st.get("log") or row["log"]
            if st["state"] == "failed":
                row["detail"] = st.get("error", "").splitlines()[0] if st.get("error") else ""
            elif st["state"] == "running" and st["host"] == socket.gethostname() and not _alive(st["pid"]):
                row["state"], row["detail"] = "failed", f"killed (pid {st['pid']} is gone); rerun to resume"
            elif st["state"] == "running":
                row["detail"] = f"on {st['host']} since {st['time']}"
        elif sub:
            row["state"] = "queued"
        rows.append(row)
    return rows


def format_status(rows: list[dict]) -> str:
    width = max([3] + [len(str(r["job"])) for r in rows])  # Ray task ids are long and alike at the start
    lines = [f"{'run':<44} {'state':<8} {'executor':<16} {'job':<{width}} log"]
    for r in rows:
        detail = f"  ({r['detail']})" if r["detail"] else ""
        lines.append(
            f"{r['name']:<44} {r['state']:<8} {r['executor'] or '-':<16} {str(r['job'] or '-'):<{width}} "
            f"{r['log'] or '-'}{detail}"
        )
    counts = {s: sum(r["state"] == s for r in rows) for s in ("pending", "queued", "running", "done", "failed")}
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items()))
    return "\n".join(lines)
