"""How a web process learns that a job moved on (new segment, finished).

With Redis configured the worker publishes on a per-job channel and the waiter wakes at once.
Without Redis the worker wakes the waiter through a local socket (ops/wakeups.py) when both run
on this machine, as in the embedded setup. Either way the waiter re-reads the row now and then;
where no wake-up is possible at all it re-reads it at a short, growing interval, which costs one
indexed SELECT per tick and up to POLL_MAX of latency.

Each wait comes twice: blocking (`job_wait`: workers, realtime turns, tests) and as a coroutine
(`job_wait_async`: the web process's transcription views). The coroutine sleeps in the event
loop (Redis's asyncio client, or the loop watching the wake-up socket) and re-reads the row,
when woken, in a small shared pool of threads (ops.threads), so a request waiting for its job
occupies no thread, and a client that goes away ends its wait at once (the request is
cancelled, which a blocked thread would not notice until the job ended).
"""

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import cache
from typing import TypeVar

from django.conf import settings

from ops import pubsub, threads, wakeups
from ops.outages import connections_reset, is_outage

from ..errors import JobNotFound
from ..models import Job

MSG_JOB_GONE = "The job was deleted while this request waited for it."

T = TypeVar("T")
logger = logging.getLogger(__name__)

POLL_MIN = 0.005
POLL_MAX = 0.05
# Even with wake-ups, re-read the row now and then: a lost message must not hang a request.
PUBSUB_RECHECK = 1.0


@cache
def _redis():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL)


# redis.asyncio connections belong to the event loop that opened them: one client per loop (the
# web process has one; tests and async_to_sync make others, which are dropped with them).
_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, object]" = (
    weakref.WeakKeyDictionary()
)


def _redis_async():
    import redis.asyncio

    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = _async_clients[loop] = redis.asyncio.Redis.from_url(settings.REDIS_URL)
    return client


def _channel(topic: str) -> str:
    return f"{settings.Q_CLUSTER['name']}:{topic.replace('/', ':')}"


def topic_notify(topic: str) -> None:
    """Wake whoever waits on `topic` ("job/<pk>", "preview/<pk>"): through Redis, else on
    this machine."""
    if settings.REDIS_URL:
        # A hint (waiters re-read now and then): Redis being out must not undo what the caller
        # did, nor stop the usage row's settling queued after this on the same commit.
        try:
            _redis().publish(_channel(topic), b"1")
        except Exception as exc:
            if not is_outage(exc):
                raise
            logger.warning("wake-up on %s lost: Redis unavailable (%s)", topic, exc)
    else:
        wakeups.notify(topic)


def job_notify(job_pk: int) -> None:
    """Wake whoever waits on this job."""
    topic_notify(f"job/{job_pk}")


class _Backoff:
    """Where no wake-up is possible: re-read at POLL_MIN, then less and less often."""

    def __init__(self) -> None:
        self.interval = POLL_MIN

    def next(self, limit: float) -> float:
        sleep = min(self.interval, limit)
        self.interval = min(self.interval * 1.5, POLL_MAX)
        return sleep


@contextmanager
def wake_ups(topic: str) -> Iterator[Callable[[float], None]]:
    """A `wait(limit)` that returns when `topic` is notified, or after at most `limit`
    seconds (sooner now and then: callers re-read what they wait for)."""
    if not settings.REDIS_URL:
        with wakeups.listen(topic) as listener:
            if listener is not None:
                yield lambda limit: listener.wait(min(limit, PUBSUB_RECHECK))
                return
        backoff = _Backoff()
        yield lambda limit: time.sleep(backoff.next(limit))
        return
    pubsub = _redis().pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(_channel(topic))
    except Exception as exc:
        if not is_outage(exc):
            raise
        pubsub = None  # Redis out: re-read at the recheck interval instead

    def wait(limit: float) -> None:
        if pubsub is not None:
            try:
                pubsub.get_message(timeout=min(limit, PUBSUB_RECHECK))
                return
            except Exception as exc:
                if not is_outage(exc):
                    raise
        time.sleep(min(limit, PUBSUB_RECHECK))

    try:
        yield wait
    finally:
        if pubsub is not None:
            with contextlib.suppress(Exception):
                pubsub.close()


_UNREAD = object()


class _read_through_outage:
    """`read` for a waiter that outlives a database restart: a read that meets an outage
    (ops.outages) gives _UNREAD, with the connection closed so that the next read, in the
    same thread, opens a fresh one. The job goes on meanwhile; a client told 503 would retry
    and start (and pay for) a second one. At the deadline the last outage is raised."""

    def __init__(self, read: Callable[[], T]) -> None:
        self.read = read
        self.last: BaseException | None = None

    def __call__(self):
        try:
            return self.read()
        except Exception as exc:
            if not is_outage(exc):
                raise
            self.last = exc
            connections_reset()
            return _UNREAD

    def raise_last(self) -> None:
        raise self.last


def topic_wait(
    topic: str, *, timeout: float, read: Callable[[], T], until: Callable[[T], bool]
) -> T:
    """Block until `until(read())` holds or the timeout passes, re-reading whenever `topic` is
    notified (topic_notify) and now and then besides; return the value as last read."""
    deadline = time.monotonic() + timeout
    read = _read_through_outage(read)
    with wake_ups(topic) as wait:
        while True:
            value = read()
            remaining = deadline - time.monotonic()
            if value is _UNREAD and remaining <= 0:
                read.raise_last()
            if value is not _UNREAD and (until(value) or remaining <= 0):
                return value
            wait(remaining)


@asynccontextmanager
async def wake_ups_async(topic: str) -> AsyncIterator[Callable[[float], Awaitable[object]]]:
    """`wake_ups` for a coroutine: the returned `wait(limit)` is awaited, and no thread sleeps."""
    if not settings.REDIS_URL:
        with wakeups.listen(topic) as listener:
            if listener is not None:
                yield lambda limit: listener.wait_async(min(limit, PUBSUB_RECHECK))
                return
        backoff = _Backoff()
        yield lambda limit: asyncio.sleep(backoff.next(limit))
        return
    # One subscription per event loop for all its waits (ops.pubsub says why).
    async with pubsub.hub(_redis_async).listen(_channel(topic)) as notified:

        async def wait(limit: float) -> None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(limit, PUBSUB_RECHECK)):
                    await notified.wait()
            notified.clear()

        yield wait


async def topic_wait_async(
    topic: str, *, timeout: float, read: Callable[[], T], until: Callable[[T], bool]
) -> T:
    """`topic_wait` for a coroutine: `read` (blocking, the ORM) runs in a pooled thread once
    per wake-up; between reads the coroutine sleeps in the event loop."""
    deadline = time.monotonic() + timeout
    safe = _read_through_outage(read)
    read_async = threads.in_thread(safe)
    async with wake_ups_async(topic) as wait:
        while True:
            value = await read_async()
            remaining = deadline - time.monotonic()
            if value is _UNREAD and remaining <= 0:
                safe.raise_last()
            if value is not _UNREAD and (until(value) or remaining <= 0):
                return value
            await wait(remaining)


def _job_reader(job_pk: int) -> Callable[[], Job]:
    def read() -> Job:
        # get(), not filter().first(): no ORDER BY (the model's ordering costs the query
        # compiler more than SQLite costs the read).
        try:
            return Job.objects.get(pk=job_pk)
        except Job.DoesNotExist:
            raise JobNotFound(MSG_JOB_GONE) from None

    return read


def _is_finished(job: Job) -> bool:
    return job.is_finished


def job_wait(job_pk: int, *, timeout: float, until: Callable[[Job], bool] = _is_finished) -> Job:
    """Block until `until(job)` holds or the timeout passes; return the job as last read.
    JobNotFound when the job is deleted meanwhile (its owner's DELETE)."""

    return topic_wait(f"job/{job_pk}", timeout=timeout, read=_job_reader(job_pk), until=until)


async def job_wait_async(
    job_pk: int, *, timeout: float, until: Callable[[Job], bool] = _is_finished
) -> Job:
    """`job_wait` for a coroutine (the web process's views): no thread is held meanwhile."""
    return await topic_wait_async(
        f"job/{job_pk}", timeout=timeout, read=_job_reader(job_pk), until=until
    )
