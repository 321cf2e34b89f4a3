"""The web process's waits as coroutines: woken by the worker's notification (wake-up socket,
or Redis), ended at once when cancelled (the client hung up), and a middleware chain Django
runs without a thread of its own."""

import asyncio
import logging
import threading
import time

import pytest
from django.db import connection

from ops import wakeups
from ops.request_thread import ASGIHandler
from tests.factories import TenantFactory
from transcriptions.models import Job
from transcriptions.services import waiting
from transcriptions.services.waiting import job_notify, job_wait_async

# Polling intervals set this long make a missed wake-up visible (tests/ops/test_wakeups.py).
NEVER = 3600.0
WAIT = 60.0


def _redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url("redis://127.0.0.1:6379/0").ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["wake-up socket", "redis", "polling"])
def backend(request, settings, monkeypatch):
    if request.param == "polling":  # another OS: no wake-ups, the row is re-read
        monkeypatch.setattr(wakeups, "AVAILABLE", False)
        settings.REDIS_URL = ""
    elif request.param == "redis":
        if not _redis_reachable():
            pytest.skip("no Redis on 127.0.0.1:6379")
        settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    else:
        if not wakeups.AVAILABLE:
            pytest.skip("Linux abstract sockets")
        settings.REDIS_URL = ""
    return request.param


def _finish(job_pk: int) -> None:
    Job.objects.filter(pk=job_pk).update(status=Job.Status.SUCCEEDED)
    job_notify(job_pk)
    connection.close()


def _job() -> Job:
    return Job.objects.create(tenant=TenantFactory(), requested_model="tiny.en", model="tiny.en")


@pytest.mark.django_db(transaction=True)
def test_an_async_wait_returns_when_the_worker_notifies(backend, monkeypatch):
    monkeypatch.setattr(waiting, "PUBSUB_RECHECK", NEVER)
    job = _job()
    # The worker's side, from another thread: the row, then the notification.
    timer = threading.Timer(0.3, _finish, args=(job.pk,))
    timer.start()
    started = time.monotonic()
    try:
        finished = asyncio.run(job_wait_async(job.pk, timeout=WAIT))
    finally:
        timer.join()
    assert finished.status == Job.Status.SUCCEEDED
    # Not a speed test: a waiter that missed the wake-up reads the row only at its deadline.
    assert time.monotonic() - started < WAIT / 2


@pytest.mark.django_db(transaction=True)
def test_a_cancelled_wait_ends_at_once_and_leaves_nothing_subscribed(backend, monkeypatch):
    """What happens when the client of a synchronous request hangs up: Django cancels it."""
    monkeypatch.setattr(waiting, "PUBSUB_RECHECK", NEVER)
    job = _job()
    channel = waiting._channel(f"job/{job.pk}")

    async def hang_up() -> float:
        task = asyncio.create_task(job_wait_async(job.pk, timeout=WAIT))
        await asyncio.sleep(0.3)  # subscribed, and asleep in the event loop
        if backend == "redis":
            assert (await waiting._redis_async().pubsub_numsub(channel))[0][1] == 1
        task.cancel()
        started = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await task
        took = time.monotonic() - started
        if backend == "redis":
            assert (await waiting._redis_async().pubsub_numsub(channel))[0][1] == 0
        return took

    assert asyncio.run(hang_up()) < WAIT / 2
    if (
        backend == "wake-up socket"
    ):  # the socket was let go: every slot of the name can be bound again
        from contextlib import ExitStack

        with ExitStack() as stack:
            listeners = [
                stack.enter_context(wakeups.listen(f"job/{job.pk}")) for _ in range(wakeups.SLOTS)
            ]
            assert None not in listeners


# More waits at once than redis.asyncio's default pool has connections (100).
MANY = 150


@pytest.mark.django_db(transaction=True)
def test_many_waits_cancelled_at_any_moment_all_end_at_once(backend, monkeypatch):
    """Clients hanging up at every moment of their waits (subscribing, asleep, re-reading),
    150 at once: every wait ends when cancelled, none runs on to its deadline. Through Redis,
    one wait in 10-20 ran on to its deadline (a cancellation swallowed under redis-py's
    asyncio.wait_for, python/cpython#86296) and the 101st failed (MaxConnectionsError)."""
    monkeypatch.setattr(waiting, "PUBSUB_RECHECK", 0.05)

    async def one(index: int) -> float:
        task = asyncio.create_task(
            waiting.topic_wait_async(
                f"test/{index}", timeout=WAIT, read=lambda: None, until=lambda _: False
            )
        )
        await asyncio.sleep(index * 0.01)  # 0 to 1.5 s: every phase of a wait
        task.cancel()
        started = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - started

    async def all_of_them() -> list[float]:
        return await asyncio.gather(*(one(index) for index in range(MANY)))

    took = asyncio.run(all_of_them())
    assert max(took) < WAIT / 2, sorted(took)[-5:]


@pytest.mark.django_db(transaction=True)
def test_a_wait_goes_on_when_redis_is_unreachable(settings, monkeypatch):
    """Redis down (nothing listens on its port): a wait is not an error, it re-reads what it
    waits for until that changes (the database carries it)."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    monkeypatch.setattr(waiting, "PUBSUB_RECHECK", 0.05)
    reads = []

    def read() -> int:
        reads.append(time.monotonic())
        return len(reads)

    found = asyncio.run(
        waiting.topic_wait_async(
            "test/down", timeout=WAIT, read=read, until=lambda count: count >= 5
        )
    )
    assert found == 5


def test_django_runs_the_middleware_chain_without_a_thread(caplog, settings):
    """One synchronous middleware would make Django run everything below it, the waits of the
    transcription views included, in a blocked thread (with DEBUG it says so in a log line)."""
    settings.DEBUG = True
    with caplog.at_level(logging.DEBUG, logger="django.request"):
        handler = ASGIHandler()
    assert not [r for r in caplog.records if "adapted" in r.getMessage()], caplog.text
    assert asyncio.iscoroutinefunction(handler._middleware_chain)
