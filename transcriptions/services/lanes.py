"""Room kept for requests with a client waiting: batch chunks never take every worker.

Fair turns (transcriptions.dispatch) decide who goes next when a worker frees, but a worker
frees only when its chunk ends: with every worker busy on another tenant's 30 s chunks of a
batch, a synchronous request would wait for one of them to finish. So each cluster runs
INTERACTIVE_WORKERS more worker processes than Q_WORKERS, and at most Q_WORKERS of them decode
batch chunks (async jobs) at a time; the others take only chunks with a client waiting
(synchronous and streaming requests). A request arriving while a batch fills the cluster
then starts at once, sharing the cores with it. The room idles while only batches run,
costing its models' memory, not CPU.

The Q_WORKERS places for batch work are lock files named after the cluster's sentinel (the
workers' parent process), taken without waiting before a worker claims a chunk. django-q2's
workers are interchangeable and share no memory, and a lock held by a process is released by
the kernel when it dies, so a worker killed mid-chunk never leaves a place taken. A worker that
finds every place taken leaves batch chunks to the workers holding them, which take the next
one when theirs ends (running.turn_run).

A client's chunk still shares the cores with the batch, and the batch decoders were there
first. So a batch chunk is decoded at a lower CPU priority (BATCH_NICE, every thread of the
worker: CTranslate2 decodes on threads of its own): the kernel then gives a client's chunk the
cores it needs, stopping the batch for as long as it runs, which is the preemption a chunk in
the middle of Whisper's 30 s window cannot do itself. The worker's priority is set back after
the chunk; where the process may not raise it again (no CAP_SYS_NICE, or RLIMIT_NICE below it:
the systemd unit sets LimitNICE), the worker stays lowered, which only makes it as slow as the
batch for its next client's chunk.
"""

import contextlib
import fcntl
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)


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


def _threads_nice(value: int) -> None:
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(ProcessLookupError):  # a thread that just ended
            os.setpriority(os.PRIO_PROCESS, int(tid), value)


@contextlib.contextmanager
def batch_priority() -> Iterator[None]:
    """Decode a batch chunk at BATCH_NICE (Linux: a priority per thread)."""
    if settings.BATCH_NICE <= 0 or not os.path.isdir("/proc/self/task"):
        yield
        return
    before = os.getpriority(os.PRIO_PROCESS, 0)
    _threads_nice(max(before, settings.BATCH_NICE))
    try:
        yield
    finally:
        try:
            _threads_nice(before)
        except PermissionError:
            logger.info("worker %s stays at nice %s (it may not raise it)", os.getpid(), before)
