"""Job callbacks as a hostile tenant tries them (issue 11, holes 2 and 3, and signatures with a
timestamp): a callback_url into the operator's network, DNS rebinding, receivers that drip or
flood, retries, what `callback.attempts` tells, and where callbacks run.

No test here sends traffic anywhere but loopback (`loopback_only` fails any other connection),
and the refusals happen before any connection at all (a loopback listener counts them)."""

import ast
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Schedule
from django_q.scheduler import scheduler

from billing.selectors import quota_status
from tests.conftest import assert_error
from tests.receivers import (
    answer_drip,
    answer_huge,
    answer_ok,
    answer_status,
    closed_port,
)
from transcriptions.models import CallbackAttempt, Job
from transcriptions.services import callbacks, lifecycle, outbound
from transcriptions.services.callback_targets import MSG_CALLBACK_REFUSED, MSG_CALLBACK_UNRESOLVED

from .conftest import shown_attempts, submit

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("loopback_only"),
    pytest.mark.fake_engine,
]

GENERIC_REASONS = {
    outbound.REASON_REFUSED,
    outbound.REASON_UNRESOLVED,
    outbound.REASON_CONNECT,
    outbound.REASON_TIMEOUT,
    outbound.REASON_TOO_LARGE,
    outbound.REASON_PROTOCOL,
}


def media_files() -> set[Path]:
    return {p for p in Path(django_settings.MEDIA_ROOT).rglob("*") if p.is_file()}


# --- Hole 2: SSRF at submit time ---------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/internal-admin",
        "http://localhost:{port}/internal-admin",  # a name that resolves to loopback
        "http://[::1]:{port}/internal-admin",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data/",  # the cloud metadata address
        "http://[fe80::1]/hook",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://0.0.0.0:{port}/",
    ],
)
def test_callback_url_into_the_operators_network_is_refused_at_submit(api_a, receiver, target):
    listener = receiver()
    url = target.format(port=listener.port)
    files_before = media_files()
    assert_error(
        submit(api_a, callback_url=url),
        400,
        code="invalid_value",
        param="callback_url",
        message=MSG_CALLBACK_REFUSED,
    )
    assert Job.objects.count() == 0, "no job row"
    assert media_files() == files_before, "no stored audio"
    quota = quota_status(tenant=api_a.tenant)
    assert (quota.reserved_seconds, quota.used_seconds) == (0, 0), "quota untouched"
    time.sleep(0.3)
    assert listener.connections == 0, "refused before any connection"


def test_callback_url_whose_host_does_not_resolve_is_refused(api_a, monkeypatch):
    def unresolvable(host, port):
        raise outbound.TargetRefused(outbound.REASON_UNRESOLVED)

    monkeypatch.setattr(outbound, "resolve", unresolvable)
    assert_error(
        submit(api_a, callback_url="https://hooks.example.invalid/x"),
        400,
        code="invalid_value",
        param="callback_url",
        message=MSG_CALLBACK_UNRESOLVED,
    )
    assert Job.objects.count() == 0


def test_allow_private_is_off_by_default():
    assert django_settings.CALLBACK_ALLOW_PRIVATE is False


# --- Hole 2: at delivery, against the address actually connected ------------------------------


def test_dns_rebinding_is_refused_at_delivery(api_a, receiver, monkeypatch):
    """The name resolves to a public address when the job is submitted and to loopback when the
    callback is sent: the delivery refuses it and never connects."""
    listener = receiver()
    lookups = []

    def rebinding(host, port):
        lookups.append(host)
        return ["93.184.216.34"] if len(lookups) == 1 else ["127.0.0.1"]

    monkeypatch.setattr(outbound, "resolve", rebinding)
    response = submit(api_a, callback_url=f"http://rebind.example:{listener.port}/internal-admin")
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    assert len(lookups) == 2, "resolved at submit, and again at delivery"
    [attempt] = shown_attempts(api_a, job_id)
    assert attempt["status_code"] is None and attempt["delivered"] is False
    assert attempt["error"] == outbound.REASON_REFUSED
    time.sleep(0.3)
    assert listener.connections == 0


# --- Hole 3: slow and huge receivers; generic reasons -----------------------------------------


def test_a_drip_feeding_receiver_is_cut_at_the_total_deadline(api_a, receiver, private_allowed):
    private_allowed.CALLBACK_TIMEOUT = 2
    listener = receiver(answer_drip(interval=1.0))
    job_id = submit(api_a, callback_url=listener.url).json()["id"]
    listener.settle()
    [record] = listener.received
    assert record.cut, "the platform hung up"
    # The drip notices the hang-up at its next byte or two: the deadline plus up to 2 s.
    assert record.held < 2 + 2.5, f"held the callback for {record.held:.1f} s"
    [attempt] = shown_attempts(api_a, job_id)
    assert (attempt["status_code"], attempt["error"]) == (None, outbound.REASON_TIMEOUT)


def test_a_huge_answer_is_cut_at_the_byte_cap(api_a, receiver, private_allowed):
    private_allowed.CALLBACK_MAX_RESPONSE_BYTES = 64 * 1024
    total = 100 * 1024 * 1024
    listener = receiver(answer_huge(total))
    job_id = submit(api_a, callback_url=listener.url).json()["id"]
    listener.settle()
    [record] = listener.received
    assert record.cut and record.sent < total // 4, f"{record.sent} bytes went out"
    [attempt] = shown_attempts(api_a, job_id)
    assert attempt["status_code"] == 200 and attempt["delivered"] is False
    assert attempt["error"] == outbound.REASON_TOO_LARGE


@pytest.mark.parametrize("case", ["closed port", "drip", "500"])
def test_attempts_show_a_status_or_a_generic_reason_never_a_network_error(
    api_a, receiver, private_allowed, case
):
    private_allowed.CALLBACK_TIMEOUT = 1
    if case == "closed port":
        url = f"http://127.0.0.1:{closed_port()}/hook"
    else:
        url = receiver(answer_drip(0.5) if case == "drip" else answer_status(500)).url
    job_id = submit(api_a, callback_url=url).json()["id"]
    [attempt] = shown_attempts(api_a, job_id)
    assert attempt["error"] in GENERIC_REASONS | {"HTTP 500"}
    assert not any(
        word in attempt["error"].lower() for word in ("errno", "connection refused", "error:")
    )
    stored = CallbackAttempt.objects.get().error
    assert stored == attempt["error"], "the row holds nothing more than the tenant sees"


# --- Retries are schedules on the callbacks cluster, signatures carry a timestamp --------------


def test_a_failed_attempt_schedules_the_next_on_the_callbacks_cluster(
    api_a, receiver, private_allowed, monkeypatch
):
    answers = iter([answer_status(500), answer_ok])
    listener = receiver(lambda talk: next(answers)(talk))
    queued = []
    real_async_task = callbacks.async_task

    def spy(*args, **kwargs):
        queued.append(kwargs.get("cluster"))
        return real_async_task(*args, **kwargs)

    def no_sleep(seconds):
        raise AssertionError("a task slept")

    monkeypatch.setattr(callbacks, "async_task", spy)
    monkeypatch.setattr(time, "sleep", no_sleep)
    job_id = submit(api_a, callback_url=listener.url).json()["id"]
    monkeypatch.undo()  # time.sleep and the spy back (the receiver fixture stays)

    assert queued == [django_settings.CALLBACK_CLUSTER], "attempt 1 went to the callbacks queue"
    assert [(a["status_code"], a["delivered"]) for a in shown_attempts(api_a, job_id)] == [
        (500, False)
    ]
    later = Schedule.objects.get(name__startswith="callback-")
    job = Job.objects.get(public_id=job_id)
    assert later.cluster == django_settings.CALLBACK_CLUSTER
    assert later.func == "transcriptions.tasks.deliver_callback"
    assert ast.literal_eval(later.args) == (job.pk, 2)
    assert later.next_run > timezone.now() + timedelta(seconds=callbacks.BACKOFF[0] - 5)

    # Due now: the inference cluster's scheduler leaves it alone, the callbacks cluster's runs it.
    Schedule.objects.filter(pk=later.pk).update(next_run=timezone.now() - timedelta(seconds=1))
    scheduler()
    assert CallbackAttempt.objects.count() == 1
    monkeypatch.setattr(Conf, "CLUSTER_NAME", django_settings.CALLBACK_CLUSTER)
    scheduler()
    assert [(a["status_code"], a["delivered"]) for a in shown_attempts(api_a, job_id)] == [
        (500, False),
        (200, True),
    ]
    assert not Schedule.objects.filter(name=f"callback-{job.pk}-3").exists(), "delivered: done"
    assert len(listener.received) == 2


def test_attempts_end_after_the_backoff_is_used_up(api_a, receiver, private_allowed):
    listener = receiver(answer_status(503))
    job_id = submit(api_a, callback_url=listener.url).json()["id"]
    job = Job.objects.get(public_id=job_id)
    for attempt in range(2, len(callbacks.BACKOFF) + 2):
        Schedule.objects.filter(name=f"callback-{job.pk}-{attempt}").delete()
        callbacks.callback_deliver(job_pk=job.pk, attempt=attempt)
    assert CallbackAttempt.objects.count() == len(callbacks.BACKOFF) + 1
    assert not Schedule.objects.filter(name__startswith="callback-").exists(), "given up"


# --- Issue 29, fault 6: receivers that never answer ------------------------------------------


def test_a_tenants_receiver_that_never_answers_holds_up_only_its_own_callbacks(
    api_a, api_b, receiver, private_allowed, monkeypatch
):
    """Its attempt holds one worker; the tenant's next callback is put off (not counted, not
    lost) instead of taking the other worker too, and another tenant's goes at once."""
    private_allowed.CALLBACK_TENANT_SLOTS = 1
    listener = receiver()
    monkeypatch.setattr(lifecycle, "callback_enqueue", lambda **kwargs: None)  # by hand below
    a1, a2 = (
        Job.objects.get(public_id=submit(api_a, callback_url=f"{listener.url}?hole").json()["id"])
        for _ in range(2)
    )
    b1 = Job.objects.get(public_id=submit(api_b, callback_url=listener.url).json()["id"])
    entered, release = threading.Event(), threading.Event()
    posted: list[int] = []
    real_post = callbacks._post

    def post(job, body, secret):
        posted.append(job.pk)
        if job.callback_url.endswith("?hole"):
            entered.set()
            release.wait(5)  # a receiver that never answers, until the test lets go
            return outbound.Outcome(None, outbound.REASON_TIMEOUT)
        return real_post(job, body, secret)

    monkeypatch.setattr(callbacks, "_post", post)
    hung = threading.Thread(target=_deliver_in_thread, args=(a1.pk,))
    hung.start()
    try:
        assert entered.wait(10)
        assert callbacks.callback_deliver(job_pk=a2.pk) is False
        assert posted == [a1.pk], "the tenant's second callback waits for its slot"
        assert not CallbackAttempt.objects.filter(job=a2).exists(), "put off, not an attempt"
        later = Schedule.objects.get(name=f"callback-{a2.pk}-1")
        assert later.cluster == django_settings.CALLBACK_CLUSTER
        started = time.monotonic()
        assert callbacks.callback_deliver(job_pk=b1.pk) is True
        assert time.monotonic() - started < 2, "another tenant's callback goes at once"
    finally:
        release.set()
        hung.join(10)
    assert callbacks.callback_deliver(job_pk=a2.pk) is False  # its slot free again: tried
    assert posted == [a1.pk, b1.pk, a2.pk]


def _deliver_in_thread(job_pk: int) -> None:
    try:
        callbacks.callback_deliver(job_pk=job_pk)
    finally:
        connection.close()
