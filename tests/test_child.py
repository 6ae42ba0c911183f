"""finbench.child: a stopped finbench leaves nothing of its child's process tree running (real processes, real
signals). The grandchild below ignores SIGHUP, SIGINT and SIGTERM, like vLLM's EngineCore outlived a SIGTERM of its
process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

# the child: starts a grandchild that ignores SIGTERM and writes its pid, then waits for it
TREE = textwrap.dedent(
    """
    import subprocess, sys
    g = subprocess.Popen([sys.executable, "-c",
        "import os, signal, time; [signal.signal(s, signal.SIG_IGN) for s in (1, 2, 15)]; "
        "open(os.environ['PIDFILE'], 'w').write(str(os.getpid())); time.sleep(600)"])
    g.wait()
    """
)

# the parent: what finbench eval does, finbench.child.run on the tree
PARENT = textwrap.dedent(
    """
    import sys
    from finbench import child
    rc = child.run([sys.executable, "-c", sys.argv[1]], grace_s=2.0).returncode
    print("rc", rc, flush=True)
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purposes
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_for(path, timeout=30.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"{path} was never written")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_to_finbench_stops_the_childs_whole_tree(tmp_path, sig):
    pidfile = tmp_path / "grandchild.pid"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, TREE],
        env={**os.environ, "PIDFILE": str(pidfile)},
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # so the signal reaches only the parent, as a `kill PID` would
    )
    grandchild = _wait_for(pidfile)
    assert _alive(grandchild)
    parent.send_signal(sig)
    out, _ = parent.communicate(timeout=30)
    assert parent.returncode == 0 and out.startswith("rc ")  # the parent returned (it did not die mid-wait)
    deadline = time.monotonic() + 10
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild), "the signal-ignoring grandchild outlived the stopped run"


def test_a_finished_child_returns_its_output_and_leaves_no_stray_process(tmp_path):
    from finbench import child

    pidfile = tmp_path / "stray.pid"
    # the child exits at once, leaving a sleeping process of its group behind (a leaked engine process)
    code = (
        "import subprocess, sys, os; "
        "subprocess.Popen([sys.executable, '-c', 'import os,time; "
        'open(os.environ["PIDFILE"],"w").write(str(os.getpid())); time.sleep(600)\']); '
        "import time; [time.sleep(0.05) for _ in range(600) if not os.path.getsize(os.environ['PIDFILE'])]; "
        "print('done')"
    )
    pidfile.write_text("")
    env = {**os.environ, "PIDFILE": str(pidfile)}
    r = child.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert (r.returncode, r.stdout) == (0, "done\n")
    stray = _wait_for(pidfile)
    deadline = time.monotonic() + 10
    while _alive(stray) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(stray)
