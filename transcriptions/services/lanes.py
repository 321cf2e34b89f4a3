"""Room kept for requests with a client waiting: batch chunks never take every worker.

Fair turns (transcriptions.dispatch) decide who goes next when a worker frees, but a worker
frees only when its chunk ends: with every worker busy on another tenant's 30 s chunks of a
batch, a synchronous request still waited for one of them to finish (measured: up to 7.4 times
its idle latency on 2 workers). So each cluster runs INTERACTIVE_WORKERS more worker processes
than Q_WORKERS, and at most Q_WORKERS of them decode batch chunks (async jobs) at a time; the
others take only chunks with a client waiting (synchronous and streaming requests). A request
arriving while a batch fills the cluster then starts at once, sharing the cores with it. The
room idles while only batches run, costing its models' memory, not CPU.

The Q_WORKERS places for batch work are lock files named after the cluster's sentinel (the
workers' parent process), taken without waiting before a worker claims a chunk. django-q2's
workers are interchangeable and share no memory, and a lock held by a process is released by
the kernel when it dies, so a worker killed mid-chunk never leaves a place taken. A worker that
finds every place taken leaves batch chunks to the workers holding them, which take the next
one when theirs ends (running.turn_run).
"""

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings


def _place_path(place: int) -> Path:
    name = f"{settings.Q_SITE_NAME}-batch-{os.getppid()}-{place}.lock"
    return Path(tempfile.gettempdir()) / name


def _place_take() -> int | None:
    """A free place for batch work in this cluster (a locked file descriptor), or None."""
    for place in range(settings.Q_WORKERS):
        fd = os.open(_place_path(place), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return fd
    return None


class BatchPlace:
    """Held while a worker may decode a batch chunk; `taken`: whether it got one."""

    def __init__(self, *, taken: bool, fd: int | None = None) -> None:
        self.taken = taken
        self._fd = fd

    def release(self) -> None:
        """Give the place back early (the chunk claimed was not batch work)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closing the only descriptor drops the lock
            self._fd = None


@contextlib.contextmanager
def batch_place() -> Iterator[BatchPlace]:
    """A place for batch work for the next chunk, if the cluster has one free (always, with
    the lane turned off: INTERACTIVE_WORKERS=0)."""
    if settings.INTERACTIVE_WORKERS <= 0:
        yield BatchPlace(taken=True)
        return
    fd = _place_take()
    place = BatchPlace(taken=fd is not None, fd=fd)
    try:
        yield place
    finally:
        place.release()
