"""The usage log: one immutable row per /v1 request of a tenant, refused and failed ones
included, with what it cost; rows of requests whose job ends later are settled when it ends.
Requests that name no tenant are only counted; rows past the retention are purged."""

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule

import speech as engine
from accounts.services import api_key_revoke
from api import middleware
from api.middleware import UNKNOWN_ENDPOINT
from billing.models import ImmutableRecord, RequestCounter, UsageRecord
from billing.services import usage as usage_service
from billing.services import usage_record_settle, usage_records_purge
from tests.billing.conftest import JFK_SECONDS, counters, transcribe
from tests.conftest import keyed_client
from tests.streams import streamed
from transcriptions import services, tasks
from transcriptions.models import Job
from transcriptions.services import lifecycle, usage_records_settle_pending

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fake_engine]


def row_of(response) -> UsageRecord:
    return UsageRecord.objects.get(request_id=response["x-request-id"])


def test_a_successful_transcription_has_its_row(api_a):
    response = transcribe(api_a)
    assert response.status_code == 200
    row = row_of(response)
    job = Job.objects.get()
    assert (row.tenant, row.api_key) == (api_a.tenant, api_a.api_key)
    assert (row.method, row.endpoint, row.model) == ("POST", "/v1/audio/transcriptions", "tiny.en")
    assert (row.status_code, row.error_code) == (200, "")
    assert row.job_id == job.public_id and row.request_id == job.request_id
    assert row.audio_seconds == pytest.approx(11.0, abs=0.05)
    assert row.billed_seconds == JFK_SECONDS
    assert row.request_bytes > 1_152_693  # the whole multipart body, file and fields
    assert 0 < row.processing_ms <= int(response["openai-processing-ms"]) + 50
    assert row.is_successful and not row.replayed


def test_a_refused_key_of_a_tenant_keeps_its_row(api_a):
    """A revoked or expired key still names its tenant: whoever sends it holds the secret, as
    with a valid key, and the tenant sees its old key still in use. (Requests without any
    key of a tenant: test_a_flood_without_a_key_is_counted_not_stored.)"""
    api_key_revoke(prefix=api_a.api_key.prefix)
    revoked = api_a.client.get("/v1/models")
    assert revoked.status_code == 401
    row = row_of(revoked)
    assert (row.tenant, row.api_key) == (api_a.tenant, api_a.api_key), "whose key it was"
    assert (row.status_code, row.error_code, row.billed_seconds) == (401, "invalid_api_key", 0)


def test_a_flood_without_a_key_is_counted_not_stored(api_a, client):
    """Issue 11, hole 7: every /v1 request, unauthenticated 401s and unknown URLs included,
    inserted a usage row (never purged) and unknown paths became metric labels. Now such
    requests are answered as before, counted by endpoint and status, and stored nowhere."""
    for i in range(20):
        no_key = client.get("/v1/models")
        wrong_key = client.post(
            "/v1/audio/transcriptions", HTTP_AUTHORIZATION=f"Bearer sk-{'A' * 52}"
        )
        unknown = client.post(f"/v1/scan-{i}/wp-login.php")
        unknown_with_key = api_a.client.get(f"/v1/audio/jobs/{i}/secrets")
    assert no_key.status_code == 401
    assert no_key.json()["error"] == {
        "message": "You didn't provide an API key. You need to provide your API key in an "
        "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
    assert wrong_key.status_code == 401
    assert wrong_key.json()["error"] == {
        "message": "Incorrect API key provided: sk-AAA********AAAA. You can find your API key "
        "in the dashboard.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
    for response, path in (
        (unknown, "POST /v1/scan-19/wp-login.php"),
        (unknown_with_key, "GET /v1/audio/jobs/19/secrets"),
    ):
        assert response.status_code == 404
        assert response.json()["error"] == {
            "message": f"Unknown request URL: {path}.",
            "type": "invalid_request_error",
            "param": None,
            "code": "unknown_url",
        }
    assert not UsageRecord.objects.exists(), "not one row for 80 requests naming no tenant"
    counted = {(c.endpoint, c.status_code): c.requests for c in RequestCounter.objects.all()}
    assert counted == {
        ("/v1/models", 401): 20,
        ("/v1/audio/transcriptions", 401): 20,
        (UNKNOWN_ENDPOINT, 404): 40,  # forty paths, one label
    }


def test_refused_requests_are_logged_with_their_error(api_a):
    unknown = transcribe(api_a, model="whisper-9")
    assert unknown.status_code == 404
    assert (row_of(unknown).model, row_of(unknown).error_code) == ("whisper-9", "model_not_found")

    garbage = transcribe(api_a, audio=b"\x00\x13garbage" * 500, filename="noise.mp3")
    assert garbage.status_code == 400
    assert row_of(garbage).error_code == "invalid_value"

    malformed = api_a.client.generic(
        "POST",
        "/v1/audio/transcriptions",
        b"--xyz\r\nContent-Disposition: form-data; name=model\r\n\r\ntiny",
        content_type="multipart/form-data; boundary=xyz",
    )
    assert malformed.status_code == 400
    row = row_of(malformed)
    assert (row.status_code, row.tenant) == (400, api_a.tenant) and row.error_code
    assert UsageRecord.objects.filter(billed_seconds__gt=0).count() == 0


def test_every_endpoint_is_logged_by_route(api_a):
    api_a.client.get("/v1/models")
    api_a.client.get("/v1/models/tiny.en")
    api_a.client.get("/v1/usage")
    endpoints = set(UsageRecord.objects.values_list("endpoint", "model"))
    assert endpoints == {
        ("/v1/models", ""),
        ("/v1/models/<str:model_id>", "tiny.en"),
        ("/v1/usage", ""),
    }


def test_a_stream_gets_its_row_when_it_ends(api_a):
    response = transcribe(api_a, stream="true")
    assert response.status_code == 200 and response.streaming
    # Written with its job, before the stream (issue 25, hole 2); its time when it is done.
    row = row_of(response)
    assert row.job_id == response["x-job-id"] and row.processing_ms == 0
    body = streamed(response).decode()
    assert '"transcript.text.done"' in body
    row = row_of(response)
    assert (row.status_code, row.error_code, row.billed_seconds) == (200, "", JFK_SECONDS)
    assert row.processing_ms > 0


def test_a_stream_that_ends_in_an_error_event_logs_the_jobs_error(api_a, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("decoder crashed")  # injected fault

    monkeypatch.setattr(engine, "transcribe", broken)
    response = transcribe(api_a, stream="true")
    body = streamed(response).decode()
    assert '"type": "error"' in body
    row = row_of(response)
    assert (row.status_code, row.error_code, row.billed_seconds) == (200, "engine_error", 0)
    assert not row.is_successful


def test_an_async_job_row_is_pending_until_the_job_ends(api_a, stalled_queue):
    response = transcribe(api_a, path="/v1/audio/jobs")
    assert response.status_code == 202
    row = row_of(response)
    assert row.billed_seconds is None and row.job_id == response.json()["id"]
    assert counters(api_a.tenant) == (11, 0, 1)
    tasks.run_chunk()  # what the worker runs
    row.refresh_from_db()
    assert (row.status_code, row.billed_seconds, row.error_code) == (202, JFK_SECONDS, "")
    assert counters(api_a.tenant) == (0, 11, 0)


def test_a_cancelled_async_job_settles_its_row_at_zero(api_a, stalled_queue):
    response = transcribe(api_a, path="/v1/audio/jobs")
    job_id = response.json()["id"]
    assert api_a.client.delete(f"/v1/audio/jobs/{job_id}").status_code == 200
    row = row_of(response)
    assert (row.billed_seconds, row.error_code) == (0, "cancelled")
    assert counters(api_a.tenant) == (0, 0, 0)
    assert UsageRecord.objects.count() == 2, "the DELETE has its own row"


def test_a_job_ending_before_its_request_is_logged_keeps_its_cost(
    api_a, stalled_queue, monkeypatch
):
    """The job ends (and settles its row) before the request log writes the response's
    figures: the log gives the row its status and time, and leaves the cost alone."""
    real_log = middleware.usage_record_log

    def job_ends_first(**fields):
        tasks.run_chunk()
        return real_log(**fields)

    monkeypatch.setattr(middleware, "usage_record_log", job_ends_first)
    response = transcribe(api_a, path="/v1/audio/jobs")
    row = row_of(response)
    assert (row.status_code, row.billed_seconds, row.processing_ms > 0) == (202, JFK_SECONDS, True)
    assert UsageRecord.objects.count() == 1


def test_pending_rows_of_ended_jobs_are_swept(api_a, stalled_queue, monkeypatch):
    response = transcribe(api_a, path="/v1/audio/jobs")
    # The worker ends the job but dies before it settles the row (injected fault).
    monkeypatch.setattr(lifecycle, "usage_record_settle", lambda **kwargs: False)
    tasks.run_chunk()
    assert row_of(response).billed_seconds is None
    assert usage_records_settle_pending() == 1
    assert row_of(response).billed_seconds == JFK_SECONDS


def test_rows_are_written_once(api_a):
    api_a.client.get("/v1/models")
    row = UsageRecord.objects.get()
    row.status_code = 200
    with pytest.raises(ImmutableRecord):
        row.save()
    assert not usage_record_settle(
        request_id=row.request_id,
        usage=services.job_usage(Job(status=Job.Status.SUCCEEDED, duration=3.0)),
    ), "a settled row is not settled again"


def test_a_failure_to_log_never_changes_the_response(api_a, monkeypatch, caplog):
    def database_gone(**fields):
        raise ConnectionError("database unreachable")  # injected fault

    monkeypatch.setattr(middleware, "usage_record_log", database_gone)
    response = api_a.client.get("/v1/models")
    assert response.status_code == 200
    assert "usage record of req_" in caplog.text


def test_another_tenants_rows_stay_apart(api_a, tenant_b):
    api_b = keyed_client(tenant_b)
    api_a.client.get("/v1/models")
    api_b.client.get("/v1/models")
    assert UsageRecord.objects.filter(tenant=api_a.tenant).count() == 1
    assert UsageRecord.objects.filter(tenant=tenant_b).count() == 1


def logged_at(api, moment: datetime) -> UsageRecord:
    """A row of a real request, dated `moment` (rows are immutable: moved with an UPDATE)."""
    response = api.client.get("/v1/models")
    UsageRecord.objects.filter(request_id=response["x-request-id"]).update(created_at=moment)
    return row_of(response)


def test_rows_past_the_retention_are_purged_in_whole_months(api_a, settings, monkeypatch):
    """Issue 11, hole 7: the usage log was never purged. Now USAGE_RETENTION_DAYS bounds it,
    cut at the start of a month so that a billing report never shows half a month."""
    settings.USAGE_RETENTION_DAYS = 400
    now = datetime(2026, 12, 15, 12, tzinfo=UTC)  # 400 days before: 2025-11-10
    purged = [logged_at(api_a, datetime(2025, 10, d, 23, tzinfo=UTC)) for d in (1, 31)]
    same_month = logged_at(api_a, datetime(2025, 11, 2, tzinfo=UTC))  # > 400 days, month kept
    recent = logged_at(api_a, datetime(2026, 12, 1, tzinfo=UTC))
    counted = RequestCounter.objects.get(endpoint="/v1/models", status_code=200).requests

    monkeypatch.setattr(usage_service, "PURGE_BATCH", 1)  # every batch, not one big DELETE
    assert usage_records_purge(now=now) == 2
    remaining = set(UsageRecord.objects.values_list("request_id", flat=True))
    assert remaining == {same_month.request_id, recent.request_id}
    assert not remaining & {row.request_id for row in purged}
    assert RequestCounter.objects.get(endpoint="/v1/models", status_code=200).requests == counted

    settings.USAGE_RETENTION_DAYS = 0  # forever
    assert usage_records_purge(now=datetime(2030, 1, 1, tzinfo=UTC)) == 0
    assert UsageRecord.objects.count() == 2


def test_the_hourly_housekeeping_schedule_purges_the_usage_log(api_a, settings):
    settings.USAGE_RETENTION_DAYS = 30
    logged_at(api_a, timezone.now() - timedelta(days=70))
    logged_at(api_a, timezone.now())
    schedule = Schedule.objects.get(name="usage-housekeeping")  # installed by migrate
    assert (schedule.func, schedule.schedule_type) == (
        "transcriptions.tasks.housekeeping",
        Schedule.HOURLY,
    )
    assert tasks.housekeeping()["usage_records_purged"] == 1
    assert UsageRecord.objects.count() == 1


def test_a_client_that_never_reads_its_answer_still_gets_its_usage_row(api_a):
    """Under ASGI the row is written while the answer is sent: a peer that takes nothing (the
    server's send held by flow control) cannot hold its row back, as it did for a moment when
    the row was written after the send."""
    import asyncio

    from asgiref.sync import sync_to_async
    from django.db import OperationalError

    from ops.request_thread import ASGIHandler
    from tests.asgi import http_scope

    scope = http_scope("GET", "/v1/models", key=api_a.key)

    async def exchange() -> tuple[int, int]:
        forever = asyncio.Event()
        body = [{"type": "http.request", "body": b"", "more_body": False}]
        sending = asyncio.Event()
        status = []

        async def receive():
            if body:
                return body.pop()
            await forever.wait()  # the client stays connected

        async def send(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])
            else:
                sending.set()
                await forever.wait()  # and reads nothing: the body is never taken

        def rows_now() -> int:
            try:
                return UsageRecord.objects.filter(api_key=api_a.api_key).count()
            except OperationalError:  # the test database's shared cache: the write holds it
                return 0

        count = sync_to_async(rows_now, thread_sensitive=False)
        served = asyncio.create_task(ASGIHandler()(scope, receive, send))
        await asyncio.wait_for(sending.wait(), 30)
        rows = 0
        for _ in range(200):  # up to 10 s
            rows = await count()
            if rows:
                break
            await asyncio.sleep(0.05)
        served.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await served
        return status[0], rows

    assert asyncio.run(exchange()) == (200, 1)
