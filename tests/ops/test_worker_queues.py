"""django-q2's cluster queues survive a reader SIGKILLed while it waits (ops.worker_queues):
issue 29's "every worker killed" fault, where the workers started in place of the killed ones
otherwise waited forever for the read lock the dead one held (django-q2 issue #23)."""

import multiprocessing
import os
import signal
from pathlib import Path

from django_q import cluster

from ops.worker_queues import KillSafeQueue


def reader_killed_while_waiting(queue) -> None:
    """A process blocked in queue.get(), as an idle worker is, then SIGKILLed."""
    context = multiprocessing.get_context("fork")
    waiting = context.Event()

    def read() -> None:
        waiting.set()
        queue.get()

    reader = context.Process(target=read, daemon=True)
    reader.start()
    assert waiting.wait(10)
    # Until it waits inside get(): its state in /proc says so (sleeping), not a guess at time.
    stat = Path(f"/proc/{reader.pid}/stat")
    while stat.read_text().rsplit(")", 1)[1].split()[0] != "S":
        pass
    os.kill(reader.pid, signal.SIGKILL)
    reader.join(10)


def test_the_sentinel_builds_its_queues_from_the_kill_safe_queue():
    assert cluster.Queue is KillSafeQueue


def test_a_reader_killed_while_waiting_leaves_the_queue_readable():
    queue = cluster.Queue()
    reader_killed_while_waiting(queue)
    queue.put("task")
    # The next reader (the worker started in the dead one's place) gets it.
    assert queue.get(timeout=5) == "task"
    assert queue.qsize() == 0


def test_blocking_get_returns_the_items_in_order():
    queue = cluster.Queue()
    for item in ("a", "b", "STOP"):
        queue.put(item)
    assert list(iter(queue.get, "STOP")) == ["a", "b"]
