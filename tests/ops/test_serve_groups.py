"""`serve` waits for each child's process group to be gone, and a group killed at the deadline
must count as gone once nothing of it runs: a killed worker whose sentinel died with it stays a
zombie until init reaps it, which some inits do late or never (then the stop always took its
whole limit)."""

import subprocess
import sys
import textwrap

import pytest

from tools.live_platform import BASE_DIR

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="prctl and /proc are Linux's")

# In a process of its own: it becomes the subreaper of what it starts and never reaps the
# orphan, as an init that reaps late would (the test's own process is left as it was).
SCRIPT = textwrap.dedent(
    """
    import ctypes, os, signal, subprocess, sys, time
    from ops.children import group_alive

    PR_SET_CHILD_SUBREAPER = 36
    assert ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    # A leader (the sentinel) with a child of its own in its group (a worker).
    leader = subprocess.Popen(
        [sys.executable, "-c", "import os, time\\nif os.fork() == 0: time.sleep(60)\\nelse: time.sleep(60)"],
        process_group=0,
    )
    time.sleep(1)
    running = group_alive(leader.pid)
    os.killpg(leader.pid, signal.SIGKILL)
    leader.wait()
    time.sleep(0.5)
    zombies = [
        pid for pid in os.listdir("/proc") if pid.isdigit()
        and open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[:3] == ["Z", str(os.getpid()), str(leader.pid)]
    ]
    print(running, zombies != [], group_alive(leader.pid))
    """
)


def test_a_group_left_with_only_a_zombie_is_gone():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=BASE_DIR,  # the script imports the project from there
    )
    running, orphan_zombie, alive_after = result.stdout.split()
    assert running == "True", "a group with processes running is alive"
    assert orphan_zombie == "True", "the worker's zombie is still there (the case under test)"
    assert alive_after == "False", "a group with nothing left but a zombie is gone"
