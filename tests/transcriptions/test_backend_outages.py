"""A backend outage (the database cut under a process, Redis gone: ops.outages) is no bug of
the request and no failure of the job (issue 29): the API answers 503 service_unavailable with
Retry-After, a chunk it stopped is put back and run to its end (billed once), what a failed
request reserved is given back, and a lost wake-up undoes nothing. The fault harness
(tests/faults, tools/faults) shows the same on the production topology; these inject the error
where it is raised."""

import asyncio
import json

import pytest
import redis.exceptions
from django.db import OperationalError

import speech as engine
from api import body_guard
from billing.models import UsageRecord
from ops import outages
from ops.workers import worker_identity
from tests.billing.conftest import counters
from tests.clocks import OutageClock
from tests.conftest import assert_error, transcribe_jfk
from transcriptions.models import Chunk, Job
from transcriptions.services import chunks, running, submission, waiting

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fake_engine]

CUT = "terminating connection due to administrator command (injected)"


def once(error: Exception, then):
    """A callable that raises `error` the first time and is `then` after that."""
    calls = []

    def call(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise error
        return then(*args, **kwargs)

    return call


def test_a_database_cut_mid_decode_puts_the_chunk_back_and_bills_once(api_a, monkeypatch):
    monkeypatch.setattr(engine, "transcribe", once(OperationalError(CUT), engine.transcribe))
    response = transcribe_jfk(api_a)
    assert response.status_code == 200, response.content[:300]
    job = Job.objects.get()
    assert job.status == Job.Status.SUCCEEDED and job.chunks.get().attempts == 2
    [row] = UsageRecord.objects.filter(job_id=job.public_id)
    assert row.billed_seconds == 11
    assert counters(api_a.tenant) == (0, 11, 0)


def test_a_chunk_is_put_back_after_an_outage_of_minutes(tenant_a, monkeypatch):
    # A worker's decode is cut, then the database stays out for five minutes (longer than the
    # two a worker once waited before leaving its chunk running for good), then comes back.
    job = Job.objects.create(tenant=tenant_a, requested_model="tiny.en", model="tiny.en")
    Chunk.objects.create(job=job, tenant=tenant_a, arrived_at=job.created_at, index=0)
    chunk = chunks.chunk_claim(worker=worker_identity())
    clock = OutageClock()
    monkeypatch.setattr(outages, "time", clock)
    # The turn the put-back enqueues claims it again (the test settings run it at once) and
    # this time its decode just returns.
    monkeypatch.setattr(running, "_chunk_run", once(OperationalError(CUT), lambda chunk: None))

    def requeue_after_five_minutes(*, chunk):
        if clock.now < 300:
            raise OperationalError(CUT)
        return chunks.chunk_requeue(chunk=chunk)

    monkeypatch.setattr(running, "chunk_requeue", requeue_after_five_minutes)
    running.chunk_run(chunk=chunk)

    assert clock.now >= 300
    assert Chunk.objects.get(pk=chunk.pk).attempts == 2  # put back, and taken again


@pytest.mark.parametrize(
    "outage",
    [OperationalError(CUT), redis.exceptions.ConnectionError("Error 111 connecting (injected)")],
    ids=["database", "redis"],
)
def test_an_outage_in_a_request_answers_503_with_retry_after(api_a, monkeypatch, outage):
    def out():
        raise outage

    monkeypatch.setattr(submission, "queue_check_capacity", out)
    response = transcribe_jfk(api_a)
    assert_error(response, 503, type="server_error", code="service_unavailable")
    assert response["Retry-After"] == "5"
    assert not Job.objects.exists()
    assert counters(api_a.tenant) == (0, 0, 0)


def test_what_a_failed_request_reserved_goes_with_its_job_s_transaction(api_a, monkeypatch):
    """The database cut under the request fails the job's insert after its seconds and slot
    were reserved: they were reserved in the job's transaction, and go with it (once given
    back by a release of their own, which the same cut connection failed too)."""

    def usage_row(**kwargs):
        raise OperationalError(CUT)

    monkeypatch.setattr(submission, "job_usage_record_create", usage_row)
    response = transcribe_jfk(api_a)
    assert_error(response, 503, type="server_error", code="service_unavailable")
    assert counters(api_a.tenant) == (0, 0, 0), "no seconds nor slot held with no job"


def test_a_wake_up_lost_to_redis_being_out_raises_nothing(settings):
    waiting._redis.cache_clear()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    try:
        waiting.topic_notify("job/1")
        with waiting.wake_ups("job/1") as wait:
            wait(0.01)  # the recheck interval instead of a subscription
    finally:
        waiting._redis.cache_clear()


def test_an_outage_before_django_answers_503_with_retry_after(monkeypatch):
    """The body guard (api/body_guard.py) reads the key's plan before Django runs: the database
    cut there once reached the server, whose answer was a bare text 500 no client retries."""

    def cut(authorization):
        raise OperationalError(CUT)

    async def app(scope, receive, send):  # Django: never reached
        raise AssertionError("the request went on")

    monkeypatch.setattr(body_guard, "body_limit", cut)
    scope = {
        "type": "http",
        "path": "/v1/audio/transcriptions",
        "headers": [(b"content-length", b"1000"), (b"authorization", b"Bearer sk-x")],
    }
    sent = []

    async def send(message):
        sent.append(message)

    async def receive():
        raise AssertionError("the body was read")

    asyncio.run(body_guard.BodyGuard(app)(scope, receive, send))
    start, body = sent
    assert start["status"] == 503
    headers = dict(start["headers"])
    assert headers[b"retry-after"] == b"5" and headers[b"content-type"] == b"application/json"
    error = json.loads(body["body"])["error"]
    assert (error["type"], error["code"]) == ("server_error", "service_unavailable")


def test_a_database_cut_as_a_job_ends_still_settles_its_usage_row(api_a, monkeypatch):
    """The fault harness found one row left waiting for its cost after a PostgreSQL restart
    (the quota said 4 s more than the usage log until the minute's recovery): the settle,
    after the commit that ended the job, met the restart."""
    from transcriptions.services import lifecycle

    monkeypatch.setattr(
        lifecycle, "usage_record_settle", once(OperationalError(CUT), lifecycle.usage_record_settle)
    )
    response = transcribe_jfk(api_a)
    assert response.status_code == 200, response.content[:300]
    [row] = UsageRecord.objects.filter(job_id=Job.objects.get().public_id)
    assert row.billed_seconds == 11
    assert counters(api_a.tenant) == (0, 11, 0)
