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


def test_django_runs_the_middleware_chain_without_a_thread(caplog, settings):
    """One synchronous middleware would make Django run everything below it, the waits of the
    transcription views included, in a blocked thread (with DEBUG it says so in a log line)."""
    settings.DEBUG = True
    with caplog.at_level(logging.DEBUG, logger="django.request"):
        handler = ASGIHandler()
    assert not [r for r in caplog.records if "adapted" in r.getMessage()], caplog.text
    assert asyncio.iscoroutinefunction(handler._middleware_chain)
