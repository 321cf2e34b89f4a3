"""The clock fault's shim (tools/faults/wallclock.c): the wall clock of a process that
preloads it steps by the offset file's seconds, while its sleeps, its timed waits on
multiprocessing's locks (until a wall-clock deadline: they waited the offset longer), its
monotonic clock and the age of a file it just wrote stay what they are (libfaketime 0.9.10
broke the sleeps)."""

import shutil
import subprocess
import sys
import time

import pytest

from tools.faults.environment import clock_offset_file, clock_shim_prepare

COMPILER = shutil.which("cc") or shutil.which("gcc")
pytestmark = pytest.mark.skipif(
    not COMPILER or sys.platform != "linux", reason="needs a C compiler and LD_PRELOAD"
)

PROBE = """
import multiprocessing, os, time
wall, mono = time.time(), time.monotonic()
time.sleep(0.15)
lock = multiprocessing.Lock()
lock.acquire()
lock.acquire(timeout=0.15)  # a wait until a wall-clock deadline (sem_timedwait)
slept = time.monotonic() - mono
with open(os.environ["PROBE_FILE"], "w") as f:
    f.write("x")
age = time.time() - os.stat(os.environ["PROBE_FILE"]).st_mtime
print(wall, slept, age)
"""


def _probe(env: dict[str, str], tmp_path) -> tuple[float, float, float]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**env, "PROBE_FILE": str(tmp_path / "probe")},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    wall, slept, age = map(float, done.stdout.split())
    return wall, slept, age


def test_the_wall_clock_steps_and_nothing_else_does(tmp_path):
    env = clock_shim_prepare(tmp_path, COMPILER)
    before = time.time()
    wall, slept, age = _probe(env, tmp_path)
    assert abs(wall - before) < 30, "offset 0: the real time"

    clock_offset_file(tmp_path).write_text("3600\n")
    before = time.time()
    wall, slept, age = _probe(env, tmp_path)
    assert 3600 - 30 < wall - before < 3600 + 30, "an hour ahead"
    assert 0.25 < slept < 5, "time.sleep and a lock's timed wait wait as long as asked"
    assert abs(age) < 5, "a file just written is not an hour old"
