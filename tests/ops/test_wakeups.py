"""Wake-ups on one machine without Redis: a job's waiter and the queue's pusher are woken by a
notification instead of finding out at their next poll."""

import threading
import time
from contextlib import ExitStack

import pytest
from django.db import connection
from django_q.conf import Conf

from ops import wakeups
from ops.broker import WakingOrmBroker
from tests.factories import TenantFactory
from transcriptions.models import Job
from transcriptions.services import waiting
from transcriptions.services.waiting import job_notify, job_wait

pytestmark = pytest.mark.skipif(not wakeups.AVAILABLE, reason="Linux abstract sockets")

# Polling intervals set this long make a missed wake-up visible: the sleeper would not look
# again before the test gives up on it, after WAIT seconds.
NEVER = 3600.0
WAIT = 60.0


def test_a_notification_wakes_its_listener_even_if_sent_before_the_wait():
    with wakeups.listen("test/one") as listener:
        assert listener.wait(0) is False
        wakeups.notify("test/one")
        wakeups.notify("test/one")
        assert listener.wait(WAIT) is True
        assert listener.wait(0) is False, "several notifications wake a sleeper once"


def test_every_listener_of_a_channel_wakes_and_no_other():
    with (
        wakeups.listen("test/two") as first,
        wakeups.listen("test/two") as second,
        wakeups.listen("test/other") as other,
    ):
        wakeups.notify("test/two")
        assert first.wait(WAIT) and second.wait(WAIT)
        assert other.wait(0) is False


def test_a_listener_beyond_the_slots_gets_none_and_polls():
    with ExitStack() as stack:
        listeners = [stack.enter_context(wakeups.listen("test/full")) for _ in range(wakeups.SLOTS)]
        assert all(listeners)
        with wakeups.listen("test/full") as extra:
            assert extra is None
    with wakeups.listen("test/full") as again:
        assert again is not None, "closed listeners free their slots"


def test_another_deployment_on_the_machine_is_not_woken(monkeypatch):
    with wakeups.listen("test/scoped") as listener:
        monkeypatch.setattr(wakeups, "_scope", lambda: "another-database")
        wakeups.notify("test/scoped")
        assert listener.wait(0) is False


@pytest.mark.django_db(transaction=True)
def test_job_wait_returns_when_the_worker_notifies(monkeypatch):
    # Without the wake-up the waiter would only re-read the row after NEVER seconds.
    monkeypatch.setattr(waiting, "PUBSUB_RECHECK", NEVER)
    job = Job.objects.create(tenant=TenantFactory(), requested_model="tiny.en", model="tiny.en")

    def worker() -> None:
        Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED)
        job_notify(job.pk)
        connection.close()

    timer = threading.Timer(0.2, worker)
    timer.start()
    started = time.monotonic()
    try:
        assert job_wait(job.pk, timeout=WAIT).status == Job.Status.SUCCEEDED
    finally:
        timer.join()
    # Not a speed test: a waiter that missed the wake-up reads the row only at its deadline.
    assert time.monotonic() - started < WAIT / 2


@pytest.mark.django_db(transaction=True)
def test_a_queued_task_wakes_the_pusher(monkeypatch):
    # Without the wake-up the pusher would look at the queue again only after NEVER seconds.
    monkeypatch.setattr(Conf, "POLL", NEVER)
    pusher = WakingOrmBroker(list_key="wake-test")
    took: list = []

    def pull() -> None:
        while not took:  # the first look finds nothing and sleeps until woken
            took.extend(pusher.dequeue() or [])
        connection.close()

    thread = threading.Thread(target=pull, daemon=True)
    thread.start()
    threading.Event().wait(0.2)  # the pusher is asleep by now (if not, it finds the task)
    task_id = WakingOrmBroker(list_key="wake-test").enqueue("payload")
    thread.join(timeout=WAIT)
    assert not thread.is_alive(), "the pusher was not woken"
    assert took == [(task_id, "payload")]


def _queued_silently(list_key: str, payload: str) -> int:
    """A due task row put on the queue without the notification `enqueue` sends."""
    from django.utils import timezone
    from django_q.models import OrmQ

    return OrmQ.objects.create(key=list_key, payload=payload, lock=timezone.now()).pk


@pytest.mark.django_db(transaction=True)
def test_a_pusher_that_took_every_due_task_sleeps_until_the_next_is_queued(monkeypatch):
    """Looking at the table again right after a take delayed that task's way to its worker
    (ops/broker.py): the pusher reads it again only when woken (or after `poll`)."""
    monkeypatch.setattr(Conf, "POLL", NEVER)
    pusher = WakingOrmBroker(list_key="sleep-test")
    first = WakingOrmBroker(list_key="sleep-test").enqueue("first")
    assert pusher.dequeue() == [(first, "first")]
    took: list = []

    def pull() -> None:
        took.extend(pusher.dequeue() or [])
        connection.close()

    thread = threading.Thread(target=pull, daemon=True)
    thread.start()
    silent = _queued_silently("sleep-test", "silent")
    thread.join(timeout=0.5)
    assert thread.is_alive() and took == [], "the pusher looked again without being woken"
    wakeups.notify(pusher._channel())
    thread.join(timeout=WAIT)
    assert not thread.is_alive(), "the pusher was not woken"
    assert took == [(silent, "silent")]


@pytest.mark.django_db(transaction=True)
def test_a_pusher_takes_every_due_task_without_waiting_between_them(monkeypatch):
    """It takes `bulk` (1) at a time; one that saw more due goes on at once, woken or not."""
    monkeypatch.setattr(Conf, "POLL", NEVER)
    monkeypatch.setattr(Conf, "BULK", 1)
    ids = [_queued_silently("bulk-test", f"task{n}") for n in range(3)]
    pusher = WakingOrmBroker(list_key="bulk-test")
    took: list = []

    def pull() -> None:
        for _ in range(3):
            took.extend(pusher.dequeue() or [])
        connection.close()

    thread = threading.Thread(target=pull, daemon=True)
    thread.start()
    thread.join(timeout=WAIT)
    assert not thread.is_alive(), "the pusher waited with tasks due"
    assert sorted(took) == [(pk, f"task{n}") for n, pk in enumerate(ids)]
