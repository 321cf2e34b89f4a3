"""`Idempotency-Key`: a retry with the same key and body gets the first response and is billed
once; the same key with another body is a 400."""

from datetime import timedelta

import pytest
from django.utils import timezone

import speech as engine
from api.waits import waiting_now
from billing.models import IdempotencyRecord, UsageRecord
from billing.reports import billing_report
from billing.services.idempotency import (
    IDEMPOTENCY_KEY_MAX,
    MSG_IDEMPOTENCY_KEY_LONG,
    MSG_IDEMPOTENCY_MISMATCH,
    idempotency_records_purge,
)
from tests.audio import HOTWORDS
from tests.billing.conftest import JFK_SECONDS, counters, transcribe
from tests.conftest import assert_error
from transcriptions.models import Job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fake_engine]

KEY = {"Idempotency-Key": "retry-7d1f0c"}


def test_a_retry_gets_the_first_response_and_is_billed_once(api_a):
    first = transcribe(api_a, headers=KEY, response_format="verbose_json")
    again = transcribe(api_a, headers=KEY, response_format="verbose_json")
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert Job.objects.count() == 1
    assert counters(api_a.tenant) == (0, JFK_SECONDS, 0)
    rows = {row.request_id: row for row in UsageRecord.objects.all()}
    original, retry = rows[first["x-request-id"]], rows[again["x-request-id"]]
    assert (original.billed_seconds, original.replayed) == (JFK_SECONDS, False)
    assert (retry.billed_seconds, retry.replayed, retry.job_id) == (0, True, original.job_id)
    assert retry.idempotency_key == "retry-7d1f0c"
    now = timezone.now()
    (report,) = billing_report(year=now.year, month=now.month, tenant=api_a.tenant)
    assert (report.requests, report.billed_seconds) == (2, JFK_SECONDS)


def test_the_same_key_with_another_body_is_400(api_a):
    assert transcribe(api_a, headers=KEY).status_code == 200
    response = transcribe(api_a, headers=KEY, response_format="text")
    assert_error(
        response,
        400,
        code="idempotency_key_reused",
        message=MSG_IDEMPOTENCY_MISMATCH.format(key="retry-7d1f0c"),
    )
    other_file = transcribe(api_a, headers=KEY, audio=HOTWORDS)
    assert_error(other_file, 400, code="idempotency_key_reused")
    assert Job.objects.count() == 1 and counters(api_a.tenant).used == JFK_SECONDS


def test_keys_belong_to_their_tenant(api_a, api_b):
    transcribe(api_a, headers=KEY)
    assert transcribe(api_b, headers=KEY).status_code == 200
    assert Job.objects.filter(tenant=api_b.tenant).count() == 1
    assert counters(api_b.tenant).used == JFK_SECONDS


def test_after_24_hours_the_key_is_new_again(api_a):
    transcribe(api_a, headers=KEY)
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=24, seconds=1))
    assert transcribe(api_a, headers=KEY, response_format="text").status_code == 200
    assert Job.objects.count() == 2 and counters(api_a.tenant).used == 2 * JFK_SECONDS


def test_a_first_request_refused_before_its_job_leaves_the_key_free(api_a, set_limits):
    set_limits(api_a.tenant, monthly_audio_seconds=5)
    assert transcribe(api_a, headers=KEY).status_code == 429
    assert not IdempotencyRecord.objects.exists()
    set_limits(api_a.tenant, monthly_audio_seconds=None)
    assert transcribe(api_a, headers=KEY).status_code == 200


def test_a_failed_job_is_replayed_not_run_again(api_a, monkeypatch):
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("decoder crashed")  # injected fault

    monkeypatch.setattr(engine, "transcribe", broken)
    first = transcribe(api_a, headers=KEY)
    again = transcribe(api_a, headers=KEY)
    assert first.status_code == again.status_code == 500
    assert again.json() == first.json()
    assert len(calls) == 1 and counters(api_a.tenant) == (0, 0, 0)


def test_async_jobs_take_the_key_too(api_a):
    first = transcribe(api_a, path="/v1/audio/jobs", headers=KEY)
    again = transcribe(api_a, path="/v1/audio/jobs", headers=KEY)
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    # Same key on another endpoint is another request body: refused, not mixed up.
    assert transcribe(api_a, headers=KEY).status_code == 400


def test_a_deleted_first_job_lets_the_retry_run_afresh(api_a):
    job_id = transcribe(api_a, path="/v1/audio/jobs", headers=KEY).json()["id"]
    api_a.client.delete(f"/v1/audio/jobs/{job_id}")
    again = transcribe(api_a, path="/v1/audio/jobs", headers=KEY)
    assert again.status_code == 202 and again.json()["id"] != job_id


def test_an_overlong_key_is_400(api_a):
    response = transcribe(api_a, headers={"Idempotency-Key": "k" * (IDEMPOTENCY_KEY_MAX + 1)})
    assert_error(
        response,
        400,
        code="invalid_value",
        message=MSG_IDEMPOTENCY_KEY_LONG.format(limit=IDEMPOTENCY_KEY_MAX),
    )


def test_old_keys_are_purged(api_a):
    transcribe(api_a, headers=KEY)
    assert idempotency_records_purge() == 0
    assert idempotency_records_purge(now=timezone.now() + timedelta(hours=25)) == 1


def test_a_first_request_that_never_stores_its_job_gets_its_retries_a_409(api_a, monkeypatch):
    """The retry waits for the first request (in the event loop) up to IDEMPOTENCY_WAIT, then
    answers 409 with Retry-After; nothing of its own is stored or billed."""
    from billing.errors import IdempotencyKeyPending

    def forever_pending(*, tenant, key, fingerprint, request_id):  # injected fault
        raise IdempotencyKeyPending("in progress", retry_after=1, tenant=tenant, key=key)

    monkeypatch.setattr("transcriptions.services.submission.idempotency_claim", forever_pending)
    monkeypatch.setattr("api.views.audio.IDEMPOTENCY_WAIT", 0.3)
    IdempotencyRecord.objects.create(
        tenant=api_a.tenant, key=KEY["Idempotency-Key"], fingerprint="first", request_id="req_1"
    )
    for path in ("/v1/audio/transcriptions", "/v1/audio/jobs"):
        response = transcribe(api_a, path=path, headers=KEY)
        assert_error(response, 409, code="idempotency_key_in_use", message="in progress")
        assert response["Retry-After"] == "1"
    assert not Job.objects.exists() and counters(api_a.tenant) == (0, 0, 0)
    assert waiting_now(api_a.tenant.pk) == 0  # the synchronous request's wait slot is free
