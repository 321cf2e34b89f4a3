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
