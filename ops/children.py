"""`serve`'s children: each in a process group of its own, stopped as a group, and started
again when it exits on its own, as production's systemd units do (`Restart=always` with the
default `KillMode=control-group`: what is left of the unit is stopped, then it starts again).

A qcluster whose main process is killed leaves its sentinel and workers running as orphans
(django-q2's sentinel does not watch its parent), and a gunicorn master's web processes keep
the listening socket: the group is ended before the child starts again, so no orphan decodes
beside its replacement and the port is free. A chunk an orphan was decoding is queued again by
the dead-worker recovery, as after any crash.

A child that keeps exiting soon after its start (a port taken, a broken setting) is not started
for ever: after QUICK_EXITS in a row, `serve` stops everything and says which."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# Graceful stop first; whatever is left at this point is killed, so the whole stop stays well
# under 5 s (a test holds it to that).
GRACE_SECONDS = 2.0
STOP_SECONDS = 3.5
# A child that ends sooner than this after its start did not get going (a qcluster loads its
# models and warms them up first); QUICK_EXITS such ends in a row and it is given up on.
QUICK_EXIT_SECONDS = 30.0
QUICK_EXITS = 3


def group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs. A killed worker whose sentinel died with it is
    an orphan zombie until init reaps it, which some inits do late or never; signal 0 counts it,
    so on Linux the group's members are read from /proc and zombies left out."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return True
    for entry in proc.iterdir():
        if entry.name.isdigit() and _running_in_group(entry / "stat", pgid):
            return True
    return False


def _running_in_group(stat_path: Path, pgid: int) -> bool:
    try:
        stat = stat_path.read_text()
    except OSError:
        return False  # gone meanwhile
    # After the command's name (which may hold spaces or parentheses): state, ppid, pgrp.
    state, _ppid, group = stat.rsplit(")", 1)[1].split()[:3]
    return state != "Z" and int(group) == pgid


def _killpg(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def children_stop(children: list[subprocess.Popen], *, whole_group: bool = False) -> None:
    """SIGTERM to each child (to its whole group with `whole_group`: its leader is gone), wait
    for each group to be gone, SIGKILL the groups at the deadline."""
    start = time.monotonic()
    for child in children:
        if whole_group:
            _killpg(child.pid, signal.SIGTERM)
        elif child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for limit, final in ((GRACE_SECONDS, False), (STOP_SECONDS, True)):
        while time.monotonic() - start < limit:
            for child in children:
                child.poll()  # reap a leader that exited, or its zombie keeps the group "alive"
            if not any(group_alive(child.pid) for child in children):
                return
            time.sleep(0.05)
        if not final:
            for child in children:
                _killpg(child.pid, signal.SIGKILL)
    for child in children:
        child.wait()


def exit_described(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-code).name}"
        return f"signal {-code}"
    return f"code {code}"


@dataclass
class Child:
    """One command `serve` keeps running."""

    name: str
    command: list[str]
    env: dict[str, str]
    cwd: Path
    process: subprocess.Popen | None = field(default=None, repr=False)
    started: float = 0.0
    quick_exits: int = 0

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, env=self.env, cwd=self.cwd, process_group=0)
        self.started = time.monotonic()

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def restart(self, say: Callable[[str], None]) -> bool:
        """End what is left of the child's group and start it again; False (and nothing
        started) when it has ended soon after its start QUICK_EXITS times in a row."""
        assert self.process is not None
        ran = time.monotonic() - self.started
        self.quick_exits = self.quick_exits + 1 if ran < QUICK_EXIT_SECONDS else 0
        what = f"{self.name} (pid {self.process.pid}) exited with"
        what += f" {exit_described(self.process.returncode)} after {ran:.0f} s"
        children_stop([self.process], whole_group=True)
        if self.quick_exits >= QUICK_EXITS:
            say(
                f"{what}, the {QUICK_EXITS}th time in a row within {QUICK_EXIT_SECONDS:.0f} s"
                " of its start: not starting it again."
            )
            return False
        say(f"{what}; starting it again.")
        self.start()
        return True
