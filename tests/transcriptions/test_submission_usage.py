"""Issue 25, hole 2: no job ever exists without its usage row. The submission service writes the
row with the job, in the job's transaction; a fault after the job's insert leaves neither, and a
request the log already wrote (its client left first) gets no job at all."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError
from django.db.models import F, Sum

from billing.models import QuotaPeriod, UsageRecord
from billing.services import UsageOrigin, usage_record_log
from tests.audio import JFK
from transcriptions.errors import RequestClosed
from transcriptions.models import Job
from transcriptions.services import AudioRequest, job_submit

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fake_engine]

ORIGIN = UsageOrigin(
    request_id="req_hangup", method="POST", endpoint="/v1/audio/jobs", status_code=202
)


def submit(tenant) -> Job:
    return job_submit(
        tenant=tenant,
        api_key=None,
        origin=ORIGIN,
        params=AudioRequest(task="transcribe", requested_model="tiny.en", model_id="tiny.en"),
        upload=SimpleUploadedFile("jfk.flac", JFK.read_bytes(), content_type="audio/flac"),
    )


def quota_held(tenant) -> int:
    """Seconds of the tenant's quota reserved or used."""
    held = QuotaPeriod.objects.filter(tenant=tenant).aggregate(
        s=Sum(F("reserved_seconds") + F("used_seconds"))
    )
    return held["s"] or 0


def test_a_submitted_job_has_its_usage_row_from_the_start(tenant_a, stalled_queue):
    job = submit(tenant_a)
    [row] = UsageRecord.objects.all()
    assert (row.request_id, row.job_id) == (job.request_id, job.public_id)
    assert (row.endpoint, row.status_code, row.model) == ("/v1/audio/jobs", 202, "tiny.en")
    assert row.billed_seconds is None, "pending until the job ends"
    assert row.audio_seconds == pytest.approx(11.0, abs=0.05)
    assert quota_held(tenant_a) == 11


def test_a_fault_after_the_job_insert_rolls_back_the_job_and_its_row(
    tenant_a, stalled_queue, monkeypatch
):
    def broken(**kwargs):
        raise OperationalError("disk I/O error")  # injected fault, after both inserts

    monkeypatch.setattr("billing.services.usage.request_counter_add", broken)
    with pytest.raises(OperationalError):
        submit(tenant_a)
    assert not Job.objects.exists() and not UsageRecord.objects.exists()
    assert quota_held(tenant_a) == 0, "the reservation is released"


def test_a_request_logged_before_its_job_existed_gets_no_job(tenant_a, stalled_queue):
    """The client hung up while the job was being submitted, and the request log wrote the
    request's row first: the job is not created, nothing is reserved or billed."""
    usage_record_log(
        request_id=ORIGIN.request_id,
        status_code=499,
        error_code="client_closed_request",
        method="POST",
        endpoint=ORIGIN.endpoint,
        tenant=tenant_a,
    )
    with pytest.raises(RequestClosed):
        submit(tenant_a)
    assert not Job.objects.exists()
    [row] = UsageRecord.objects.all()
    assert (row.status_code, row.error_code, row.billed_seconds, row.job_id) == (
        499,
        "client_closed_request",
        0,
        "",
    )
    assert quota_held(tenant_a) == 0
