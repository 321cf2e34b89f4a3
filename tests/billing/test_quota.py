"""The monthly audio quota and the plan's limits through the API, with real inference:
reserved before the job is queued, settled with the measured duration, refunded on every
failure path (engine error, timeout, cancel, dead worker, a job that could not be stored or
queued)."""

import importlib
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from django_q.exceptions import TimeoutException

import speech as engine
from billing.models import LIMIT_FIELDS, Plan, UsageRecord
from billing.periods import month_end, month_start
from billing.selectors import plan_default, tenant_limits
from billing.services import MSG_AUDIO_TOO_LONG, UsageOrigin, quota_reserve, tenant_plan_set
from billing.services.quota import MSG_INSUFFICIENT_QUOTA, MSG_TOO_MANY_JOBS
from tests.audio import JFK
from tests.billing.conftest import JFK_SECONDS, counters, transcribe
from tests.conftest import assert_error
from transcriptions import services
from transcriptions.models import Job
from transcriptions.services import AudioRequest, submission

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fake_engine]


def resets_at() -> str:
    return month_end(month_start(timezone.now())).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def engine_fault(monkeypatch):
    """The engine raises instead of transcribing (injected fault); returns the exception to set."""
    fault = {"exc": RuntimeError("CUDA error: an illegal memory access was encountered")}

    def broken(*args, **kwargs):
        raise fault["exc"]

    monkeypatch.setattr(engine, "transcribe", broken)
    return fault


# --- Plans ------------------------------------------------------------------------------------


def test_the_default_plan_comes_from_a_migration_and_is_generous(tenant_a):
    # Transactional tests empty every table between tests: run the data migration again.
    migration = importlib.import_module("accounts.migrations.0003_default_plan")
    Plan.objects.all().delete()
    migration.create_default_plan(django_apps, None)
    migration.create_default_plan(django_apps, None)  # idempotent
    plan = Plan.objects.get(is_default=True)
    assert plan.slug == "default"
    limits = tenant_limits(tenant=tenant_a)
    assert limits.plan == "default"
    assert limits.monthly_audio_seconds == 360_000
    assert limits.max_file_bytes == 26_214_400
    assert limits.price_per_minute == Decimal("0.0060")
    assert limits.requests_per_minute >= 600 and limits.concurrent_jobs >= 8
    from_migration = {name: getattr(plan, name) for name in LIMIT_FIELDS}
    Plan.objects.all().delete()
    built_in = plan_default()
    assert {name: getattr(built_in, name) for name in LIMIT_FIELDS} == from_migration


def test_overrides_win_over_the_plan_field_by_field(tenant_a, set_limits):
    pro = Plan.objects.create(
        slug="pro",
        name="Pro",
        monthly_audio_seconds=1000,
        requests_per_minute=100,
        concurrent_jobs=4,
        max_file_bytes=1_000_000,
        max_audio_seconds=600,
        price_per_minute=Decimal("0.0040"),
        currency="EUR",
        retention_days=7,
    )
    tenant_plan_set(tenant=tenant_a, plan=pro)
    set_limits(tenant_a, monthly_audio_seconds=50, price_per_minute=Decimal("0.0100"))
    limits = tenant_limits(tenant=tenant_a)
    assert (limits.plan, limits.currency) == ("pro", "EUR")
    assert limits.monthly_audio_seconds == 50
    assert limits.price_per_minute == Decimal("0.0100")
    assert (limits.requests_per_minute, limits.concurrent_jobs) == (100, 4)
    assert (limits.max_file_bytes, limits.max_audio_seconds, limits.retention_days) == (
        1_000_000,
        600,
        7,
    )
    set_limits(tenant_a, monthly_audio_seconds=None)  # back to the plan's
    assert tenant_limits(tenant=tenant_a).monthly_audio_seconds == 1000


def test_without_any_plan_row_the_built_in_default_applies(tenant_a):
    Plan.objects.all().delete()
    assert plan_default().pk is None
    assert tenant_limits(tenant=tenant_a).monthly_audio_seconds == 360_000


# --- Reserve, settle ----------------------------------------------------------------------------


def test_a_successful_request_is_settled_with_its_measured_duration(api_a):
    response = transcribe(api_a)
    assert response.status_code == 200, response.content
    assert response.json()["usage"]["seconds"] == JFK_SECONDS
    assert counters(api_a.tenant) == (0, JFK_SECONDS, 0)
    job = Job.objects.get()
    assert (job.reserved_seconds, job.quota_period) == (JFK_SECONDS, month_start(timezone.now()))
    assert job.quota_settled_at is not None


def test_over_quota_is_429_insufficient_quota_with_what_remains_and_when(api_a, set_limits):
    set_limits(api_a.tenant, monthly_audio_seconds=20)
    assert transcribe(api_a).status_code == 200
    response = transcribe(api_a)
    assert_error(
        response,
        429,
        type="insufficient_quota",
        code="insufficient_quota",
        message=MSG_INSUFFICIENT_QUOTA.format(
            needed=11, remaining=9, limit=20, resets_at=resets_at()
        ),
    )
    assert response.json()["error"]["message"] == (
        "You exceeded your current quota: this request needs 11 seconds of audio and 9 of this "
        f"month's 20 seconds remain. The quota resets at {resets_at()}."
    )
    until_reset = (month_end(month_start(timezone.now())) - datetime.now(UTC)).total_seconds()
    assert abs(int(response["Retry-After"]) - until_reset) <= 5
    assert response["x-should-retry"] == "false"
    assert Job.objects.count() == 1, "the refused request stored nothing"
    assert counters(api_a.tenant) == (0, 11, 0)
    refused = UsageRecord.objects.get(request_id=response["x-request-id"])
    assert (refused.status_code, refused.error_code, refused.billed_seconds) == (
        429,
        "insufficient_quota",
        0,
    )


def test_a_request_that_fits_exactly_passes(api_a, set_limits):
    set_limits(api_a.tenant, monthly_audio_seconds=22)
    assert transcribe(api_a).status_code == 200
    assert transcribe(api_a).status_code == 200
    assert counters(api_a.tenant).used == 22
    assert transcribe(api_a).status_code == 429


def test_quota_is_per_tenant(api_a, api_b, set_limits):
    set_limits(api_a.tenant, monthly_audio_seconds=5)
    assert transcribe(api_a).status_code == 429
    assert transcribe(api_b).status_code == 200
    assert counters(api_b.tenant).used == 11 and counters(api_a.tenant).used == 0


# --- Refunds ------------------------------------------------------------------------------------


def test_an_engine_fault_refunds_the_reservation_and_logs_the_error(api_a, engine_fault):
    response = transcribe(api_a)
    assert_error(response, 500, type="server_error", code="engine_error")
    assert counters(api_a.tenant) == (0, 0, 0), "the tenant's usage is unchanged"
    row = UsageRecord.objects.get(request_id=response["x-request-id"])
    assert row.tenant == api_a.tenant and row.api_key == api_a.api_key
    assert (row.status_code, row.error_code, row.billed_seconds) == (500, "engine_error", 0)
    assert row.audio_seconds == pytest.approx(11.0, abs=0.05)
    assert row.job_id == Job.objects.get().public_id and row.model == "tiny.en"


def test_a_timeout_refunds(api_a, engine_fault):
    engine_fault["exc"] = TimeoutException("task exceeded its timeout")
    response = transcribe(api_a)
    assert_error(response, 504, type="server_error", code="timeout")
    assert counters(api_a.tenant) == (0, 0, 0)
    row = UsageRecord.objects.get(request_id=response["x-request-id"])
    assert (row.status_code, row.error_code, row.billed_seconds) == (504, "timeout", 0)


def _submit_queued(api) -> Job:
    """A job submitted and still queued: the task is only sent when the transaction commits."""
    return services.job_submit(
        tenant=api.tenant,
        api_key=api.api_key,
        origin=UsageOrigin(
            request_id="req_test", method="POST", endpoint="/v1/audio/jobs", status_code=202
        ),
        params=AudioRequest(task="transcribe", requested_model="tiny.en", model_id="tiny.en"),
        upload=SimpleUploadedFile("jfk.flac", JFK.read_bytes(), content_type="audio/flac"),
    )


def test_a_cancelled_job_is_refunded(api_a):
    with transaction.atomic():
        job = _submit_queued(api_a)
        assert counters(api_a.tenant) == (11, 0, 1), "reserved before the job is queued"
        assert services.job_cancel(job=job)
    assert counters(api_a.tenant) == (0, 0, 0)
    assert Job.objects.get().status == Job.Status.CANCELLED


def test_a_job_whose_worker_died_twice_is_failed_and_refunded(api_a):
    with transaction.atomic():
        job = _submit_queued(api_a)
        # The worker process that was running its last attempt is gone (injected fault).
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.RUNNING, attempts=services.MAX_JOB_ATTEMPTS, worker="gone:1"
        )
        job.chunks.update(status="running", attempts=services.MAX_JOB_ATTEMPTS, worker="gone:1")
    assert services.jobs_recover(dead_workers={"gone:1"}) == {"requeued": 0, "failed": 1}
    assert Job.objects.get().error_code == "worker_interrupted"
    assert counters(api_a.tenant) == (0, 0, 0)


def test_settlement_happens_once_even_if_a_job_ends_twice(api_a):
    assert transcribe(api_a).status_code == 200
    job = Job.objects.get()
    # An operator retry re-runs a failed job; a second final transition must not bill again.
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
    services.job_fail(job=job, code="engine_error", message="again")
    assert counters(api_a.tenant) == (0, 11, 0)


def test_a_job_that_cannot_be_queued_is_failed_and_refunded(api_a, monkeypatch):
    def broker_down(*, job):
        raise ConnectionError("broker unreachable")  # injected fault

    monkeypatch.setattr(submission, "job_enqueue", broker_down)
    response = transcribe(api_a)
    assert_error(response, 500, type="server_error", code="internal_error")
    job = Job.objects.get()
    assert (job.status, job.error_code) == (Job.Status.FAILED, "enqueue_failed")
    assert counters(api_a.tenant) == (0, 0, 0)


def test_a_job_row_that_cannot_be_stored_releases_the_reservation(api_a, monkeypatch):
    def disk_full(**kwargs):
        raise OSError(28, "No space left on device")  # injected fault

    monkeypatch.setattr(submission, "job_create", disk_full)
    assert transcribe(api_a).status_code == 500
    assert Job.objects.count() == 0
    assert counters(api_a.tenant) == (0, 0, 0)


# --- Plan limits on the request -----------------------------------------------------------------


def test_audio_longer_than_the_plan_allows_is_400_with_the_limit(api_a, set_limits):
    set_limits(api_a.tenant, max_audio_seconds=10)
    response = transcribe(api_a)
    assert_error(
        response,
        400,
        code="audio_too_long",
        param="file",
        message=MSG_AUDIO_TOO_LONG.format(duration=11.0, limit=10),
    )
    assert response.json()["error"]["message"] == (
        "The audio is 11.0 seconds long, over this plan's limit of 10 seconds per file."
    )
    assert Job.objects.count() == 0 and counters(api_a.tenant) == (0, 0, 0)
    row = UsageRecord.objects.get(request_id=response["x-request-id"])
    assert (row.status_code, row.error_code, row.billed_seconds) == (400, "audio_too_long", 0)


def test_a_file_larger_than_the_plan_allows_is_413_with_the_limit(api_a, set_limits):
    set_limits(api_a.tenant, max_file_bytes=100_000)
    response = transcribe(api_a)  # jfk.flac is 1,152,693 bytes
    error = assert_error(response, 413, code="request_too_large", param="file")
    assert re.fullmatch(
        r"Maximum content size limit \(100000\) exceeded \(\d+ bytes read\)", error["message"]
    )
    row = UsageRecord.objects.get(request_id=response["x-request-id"])
    assert (row.status_code, row.error_code, row.tenant) == (413, "request_too_large", api_a.tenant)
    assert row.request_bytes > 1_152_693


def test_the_concurrent_jobs_limit_is_429_and_takes_no_seconds(api_a, set_limits):
    set_limits(api_a.tenant, concurrent_jobs=1)
    quota_reserve(tenant=api_a.tenant, seconds=5)  # a job in flight holds the only slot
    response = transcribe(api_a)
    assert_error(
        response,
        429,
        type="requests",
        code="rate_limit_exceeded",
        message=MSG_TOO_MANY_JOBS.format(limit=1),
    )
    assert response["Retry-After"] == "2"
    assert counters(api_a.tenant) == (5, 0, 1), "the refused request's seconds were given back"


@pytest.fixture
def stored(monkeypatch):
    """The uploads written to the audio storage (the spy only observes)."""
    names = []
    real = submission.file_field_save

    def counted(field, name, content):
        real(field, name, content)
        stored = getattr(field.instance, field.field.attname)
        names.append((field.storage, str(stored)))

    monkeypatch.setattr(submission, "file_field_save", counted)
    return names


@pytest.mark.parametrize("limit", ["monthly_audio_seconds", "concurrent_jobs"])
def test_a_request_surely_refused_is_refused_before_its_audio_is_written(
    api_a, set_limits, stored, limit
):
    """A tenant out of quota (or of job slots) sending file after file had each written to the
    audio disk and deleted again before its 429."""
    if limit == "concurrent_jobs":
        set_limits(api_a.tenant, concurrent_jobs=1)
        quota_reserve(tenant=api_a.tenant, seconds=5)
    else:
        set_limits(api_a.tenant, monthly_audio_seconds=5)
    assert transcribe(api_a).status_code == 429
    assert stored == []
    assert not Job.objects.exists()


def test_a_reservation_refused_after_the_check_passed_leaves_no_audio(api_a, stored, monkeypatch):
    """The check is advisory (no lock): a request that passes it and loses the race for the
    last seconds is refused in the job's transaction, its stored audio deleted."""
    from billing.errors import QuotaExceeded

    def lost(**kwargs):
        raise QuotaExceeded("the last seconds went to another request", retry_after=1)

    monkeypatch.setattr(submission, "quota_reserve", lost)
    assert transcribe(api_a).status_code == 429
    [(storage, name)] = stored
    assert not Job.objects.exists()
    assert name and not storage.exists(name)
