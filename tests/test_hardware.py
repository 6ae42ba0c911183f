"""finbench.hardware: native-bf16 detection and the vLLM dtype finbench eval adds on a CPU without it."""

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
