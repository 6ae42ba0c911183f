"""Run a child command (an lm-eval run, a sweep's evaluation) so that nothing it starts outlives finbench.

The child gets its own process group. SIGINT, SIGTERM and SIGHUP sent to finbench (Ctrl-C, `timeout`, `kill`,
Slurm's `scancel`, a closed terminal) are passed on to that whole group; whatever is still in it after a grace
period is killed. Without this a stopped `finbench eval` left lm-eval's vLLM engine processes computing on: vLLM's
EngineCore outlived a SIGTERM of its process group for 14 minutes on this project's CPU machine (2026-12-01)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
GRACE_S = 15.0  # how long the group has to exit after the forwarded signal before it is killed


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of the group exists but is not ours to signal
        return True
    return True


def _kill_group(pgid: int, grace_s: float) -> None:
    """Wait up to `grace_s` for every process of the group to exit, then SIGKILL what is left."""
    deadline = time.monotonic() + grace_s
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _group_alive(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _drain(stream, into: list) -> None:
    into.append(stream.read())
    stream.close()


def run(cmd: list[str], grace_s: float = GRACE_S, **kw) -> subprocess.CompletedProcess:
    """subprocess.run(cmd, **kw) (Popen's keyword arguments, plus capture_output) in a new process group, with
    finbench's stop signals passed on to the group.

    Returns when the child has exited, not when every process holding its output pipes has (a process the child
    left behind is killed, then its output read). A child stopped by a forwarded signal has returncode -signum (or
    what it chose to exit with); nothing of its group is left running when this returns. Main thread only."""
    received: list[int] = []
    if kw.pop("capture_output", False):
        kw["stdout"] = kw["stderr"] = subprocess.PIPE
    group: list[int] = []  # the child's pgid once it exists

    def forward(signum, _frame):
        received.append(signum)
        try:
            if group:
                os.killpg(group[0], signum)
        except ProcessLookupError:
            pass

    # installed before the child starts, so a signal at any moment reaches it (or stops it as soon as it exists)
    previous = {s: signal.signal(s, forward) for s in FORWARDED}
    try:
        proc = subprocess.Popen(cmd, start_new_session=True, **kw)
    except BaseException:
        for s, h in previous.items():
            signal.signal(s, h)
        raise
    pgid = proc.pid
    group.append(pgid)
    if received:
        forward(received[-1], None)
    outputs = {name: [] for name in ("stdout", "stderr") if getattr(proc, name) is not None}
    readers = [
        threading.Thread(target=_drain, args=(getattr(proc, name), into), daemon=True) for name, into in outputs.items()
    ]
    for t in readers:
        t.start()

    try:
        proc.wait()
    finally:
        if proc.poll() is None:  # finbench itself is failing: stop the child first
            try:
                os.killpg(pgid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                pass
        _kill_group(pgid, grace_s if received else 0.0)  # what the child left in its group goes with it
        proc.wait()
        for s, h in previous.items():
            signal.signal(s, h)
        for t in readers:
            t.join()
    got = {name: (into[0] if into else None) for name, into in outputs.items()}
    return subprocess.CompletedProcess(cmd, proc.returncode, got.get("stdout"), got.get("stderr"))
