"""The queues between a django-q2 cluster's processes (pusher -> workers, workers -> monitor),
made to survive a reader killed while it waits.

multiprocessing's Queue.get() holds the queue's read lock, a semaphore shared by every
process, for as long as it waits for an item. An idle worker is always waiting, so a worker
SIGKILLed while idle (the OOM killer, an operator's kill -9 of every worker) takes the lock
with it: the workers its sentinel starts in its place wait for the lock forever, and the
cluster takes no task again until it is restarted (django-q2 issue #23). The same holds for
the monitor and the results.

Here a reader waits for an item without the lock and takes the lock only to read one item,
so a process killed while it waits holds nothing. multiprocessing has no public way to wait for an item
without the lock, so this reads its Queue's own members (`_poll`, `_rlock`, `_recv_bytes`,
`_sem`): a written exception to using only public API, checked by tests/ops/test_worker_queues.py
on every Python the project runs on; drop it once django-q2 fixes #23. `queues_install()` makes django-q2's
Sentinel build its queues from this class; it runs in every process (apps.py), before any
cluster starts.
"""

from multiprocessing.reduction import ForkingPickler

from django_q import cluster
from django_q.queues import Queue

# How long a reader waits for an item, or for the lock, before it looks again.
POLL_SECONDS = 0.5


class KillSafeQueue(Queue):
    def get(self, block: bool = True, timeout: float | None = None):
        if not block or timeout is not None:
            return super().get(block, timeout)  # waits a bounded time: as multiprocessing's
        if self._closed:
            raise ValueError(f"Queue {self!r} is closed")
        while True:
            # Several readers may poll the pipe at once; only the lock's holder reads it.
            if not self._poll(POLL_SECONDS):
                continue
            if not self._rlock.acquire(True, POLL_SECONDS):
                continue
            try:
                if not self._poll():  # another reader took the item first
                    continue
                data = self._recv_bytes()
                self._sem.release()
            finally:
                self._rlock.release()
            break
        self.size.increment(-1)
        return ForkingPickler.loads(data)


def queues_install() -> None:
    """The class django-q2's Sentinel makes its task and result queues from."""
    cluster.Queue = KillSafeQueue
