"""What a tenant who pays for nothing tries (issue "Hostile tenants"), through the API with real
decoding and inference, and what it gets now: refused, or billed for what it used."""

import time

import pytest
from asgiref.sync import async_to_sync
from django_q.exceptions import TimeoutException

from api import waits
from billing.models import UsageRecord
from billing.services import MSG_AUDIO_TOO_LONG, MSG_AUDIO_TOO_LONG_MEASURED
from speech import audio as engine_audio
from tests.audio import JFK, MULTILINGUAL, long_silence_flac, lying_flac
from tests.conftest import assert_error
from tests.streams import streamed
from transcriptions import services
from transcriptions.models import Job
from transcriptions.services import progress, running
from transcriptions.services.recovery import RETRY_ENDPOINT, job_retry
from transcriptions.services.waiting import MSG_JOB_GONE

from .conftest import counters, transcribe

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fake_engine]


def test_a_header_that_claims_1s_does_not_pass_a_30s_plan_limit(api_a, set_limits):
    """The reproduced attack: a 66 s FLAC whose STREAMINFO says 1 s, plan limit 30 s per file,
    20 s of monthly quota. It used to be transcribed whole (66 used of 20)."""
    set_limits(api_a.tenant, max_audio_seconds=30, monthly_audio_seconds=20)
    response = transcribe(api_a, audio=lying_flac(66, 1), filename="liar.flac")
    assert_error(
        response,
        400,
        code="audio_too_long",
        param="file",
        message=MSG_AUDIO_TOO_LONG_MEASURED.format(limit=30),
    )
    assert Job.objects.count() == 0
    assert counters(api_a.tenant) == (0, 0, 0)
    [row] = UsageRecord.objects.filter(tenant=api_a.tenant)
    assert (row.status_code, row.error_code, row.billed_seconds) == (400, "audio_too_long", 0)


def test_a_header_that_lies_is_reserved_at_its_real_length(api_a, set_limits):
    """Under the plan's per-file limit but over the quota: refused for the measured 66 s."""
    set_limits(api_a.tenant, max_audio_seconds=120, monthly_audio_seconds=20)
    response = transcribe(api_a, audio=lying_flac(66, 1), filename="liar.flac")
    error = assert_error(response, 429, code="insufficient_quota", type="insufficient_quota")
    assert "66 seconds" in error["message"], error["message"]
    assert Job.objects.count() == 0
    assert counters(api_a.tenant) == (0, 0, 0)


def test_hours_in_a_small_file_are_refused_quickly(api_a, set_limits):
    set_limits(api_a.tenant, max_audio_seconds=600)
    data = long_silence_flac(10 * 3600)
    started = time.monotonic()
    response = transcribe(api_a, audio=data, filename="silence.flac")
    took = time.monotonic() - started
    # The header is honest here, so the message quotes it; measuring stopped at the limit.
    assert_error(
        response,
        400,
        code="audio_too_long",
        message=MSG_AUDIO_TOO_LONG.format(duration=36000.0, limit=600),
    )
    assert took < 10, f"{took:.1f} s"
    assert Job.objects.count() == 0


def test_the_worker_stops_decoding_at_the_reservation(api_a, set_limits, monkeypatch):
    """Should a file still get past the measurement (injected: the probe measures 1 s of a
    66 s file), the worker decodes at most the reserved seconds plus a margin, refuses the job
    with audio_too_long, lives on, and bills what was reserved, once."""
    monkeypatch.setattr(engine_audio, "duration_measure", lambda *a, **kw: 1.0)
    set_limits(api_a.tenant, monthly_audio_seconds=20)
    response = transcribe(api_a, audio=lying_flac(66, 1), filename="liar.flac")
    assert_error(
        response,
        400,
        code="audio_too_long",
        param="file",
        message=running.MSG_LONGER_THAN_MEASURED,
    )
    job = Job.objects.get()
    assert (job.status, job.error_code, job.reserved_seconds) == ("failed", "audio_too_long", 1)
    assert job.text == ""
    assert counters(api_a.tenant) == (0, 1, 0)
    [row] = UsageRecord.objects.filter(tenant=api_a.tenant)
    assert (row.error_code, row.billed_seconds) == ("audio_too_long", 1)
    # The same process goes on transcribing (with the probe as it really is).
    monkeypatch.undo()
    assert transcribe(api_a).status_code == 200


def stream_job(api, monkeypatch, *, after_segments: int, fault) -> Job:
    """A streaming request on the English half of multilingual.mp3; `fault(job)` is injected
    once `after_segments` segments went out to the client (the worker's wake-up of the
    stream is where the text leaves)."""
    calls = {"n": 0}
    notify = progress.job_notify

    def notify_then_fault(job_pk):
        notify(job_pk)
        calls["n"] += 1
        if calls["n"] == after_segments:
            fault(Job.objects.get(pk=job_pk))

    monkeypatch.setattr(progress, "job_notify", notify_then_fault)
    response = transcribe(api, audio=MULTILINGUAL, model="base", language="en", stream="true")
    assert response.status_code == 200
    body = streamed(response).decode()
    response.close()
    assert "transcript.text.delta" in body
    return Job.objects.get()


def test_a_stream_cancelled_after_its_text_was_sent_is_billed_for_that_text(api_a, monkeypatch):
    """It used to bill 0 s: cancel (DELETE) after most of the text had been streamed."""
    job = stream_job(
        api_a, monkeypatch, after_segments=2, fault=lambda job: services.job_cancel(job=job)
    )
    assert job.status == Job.Status.CANCELLED
    assert 5 < job.covered_seconds < 60, job.covered_seconds
    billed = -(-job.covered_seconds // 1)
    assert counters(api_a.tenant) == (0, billed, 0)
    [row] = UsageRecord.objects.filter(tenant=api_a.tenant)
    assert row.billed_seconds == billed and row.error_code == "cancelled"


def test_a_stream_that_times_out_after_its_text_was_sent_is_billed_for_that_text(
    api_a, monkeypatch
):
    def time_out(job):
        raise TimeoutException  # what django-q2 raises in a task past its timeout

    job = stream_job(api_a, monkeypatch, after_segments=2, fault=time_out)
    assert (job.status, job.error_code) == ("failed", "timeout")
    billed = -(-job.covered_seconds // 1)
    assert billed > 0
    assert counters(api_a.tenant) == (0, billed, 0)


def test_a_job_deleted_mid_stream_ends_the_stream_with_an_error_event(api_a, caplog):
    from api.streaming import sse_events

    job = Job.objects.create(tenant=api_a.tenant, model="tiny.en", stream=True)
    events = sse_events(job)
    Job.objects.filter(pk=job.pk).delete()

    async def read() -> list[str]:
        return [event async for event in events]

    opened, event = async_to_sync(read)()
    assert opened.startswith(":"), "an SSE comment first, which clients ignore"
    assert '"type": "error"' in event and '"code": "job_not_found"' in event
    assert MSG_JOB_GONE in event
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


def test_sync_504_tells_the_sdk_not_to_retry(api_a, stalled_queue, settings):
    """The openai SDK retries a 5xx twice: each retry was a new job, billed again."""
    settings.SYNC_WAIT_TIMEOUT = 0.2
    response = transcribe(api_a)
    assert response.status_code == 504
    assert response["x-should-retry"] == "false"
    assert response["x-job-id"] == Job.objects.get().public_id


def test_waiting_requests_of_one_tenant_are_capped(api_a, api_b, settings):
    """A tenant that holds its share of threads gets 429 at once, before anything is stored;
    another tenant and async jobs are not affected."""
    settings.SYNC_WAITS_PER_TENANT = 2
    for _ in range(2):  # two of tenant A's requests are waiting right now
        waits.wait_slot_take(api_a.tenant.pk)
    try:
        response = transcribe(api_a)
        assert_error(
            response,
            429,
            type="requests",
            code="rate_limit_exceeded",
            message=waits.MSG_TOO_MANY_WAITING.format(limit=2),
        )
        assert response["Retry-After"] == "5"
        assert Job.objects.count() == 0 and counters(api_a.tenant) == (0, 0, 0)
        assert transcribe(api_b).status_code == 200
        assert transcribe(api_a, path="/v1/audio/jobs").status_code == 202
    finally:
        for _ in range(2):
            waits.wait_slot_free(api_a.tenant.pk)
    assert transcribe(api_a).status_code == 200
    assert waits.waiting_now(api_a.tenant.pk) == 0, "every answer gave its slot back"


@pytest.fixture
def failed_job(api_a, settings, monkeypatch):
    """A job that failed with its audio kept (RETAIN_AUDIO), as the admin retries them."""
    settings.RETAIN_AUDIO = True
    monkeypatch.setattr("transcriptions.services.chunks.turns_enqueue", lambda names: None)
    job_id = transcribe(api_a, path="/v1/audio/jobs").json()["id"]
    job = Job.objects.get(public_id=job_id)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, attempts=1)
    services.job_fail(job=job, code="engine_error", message="injected")
    monkeypatch.undo()
    settings.RETAIN_AUDIO = True
    job.refresh_from_db()
    return job


def test_an_admin_retry_reserves_and_bills_like_any_job(api_a, failed_job):
    assert counters(api_a.tenant) == (0, 0, 0)
    assert job_retry(job=failed_job)  # runs inline (test settings): reserved, run, settled
    failed_job.refresh_from_db()
    assert failed_job.status == Job.Status.SUCCEEDED
    assert counters(api_a.tenant) == (0, 11, 0)
    retry_row = UsageRecord.objects.get(endpoint=RETRY_ENDPOINT)
    assert (retry_row.billed_seconds, retry_row.job_id) == (11, failed_job.public_id)


def test_an_admin_retry_is_refused_without_quota_or_slot(api_a, failed_job, set_limits):
    from billing.errors import QuotaExceeded, TooManyJobs

    set_limits(api_a.tenant, monthly_audio_seconds=5)
    with pytest.raises(QuotaExceeded):
        job_retry(job=failed_job)
    set_limits(api_a.tenant, monthly_audio_seconds=1000, concurrent_jobs=0)
    with pytest.raises(TooManyJobs):
        job_retry(job=Job.objects.get(pk=failed_job.pk))  # as the admin loads it, afresh
    failed_job.refresh_from_db()
    assert failed_job.status == Job.Status.FAILED
    assert counters(api_a.tenant) == (0, 0, 0)
    assert not UsageRecord.objects.filter(endpoint=RETRY_ENDPOINT).exists()


@pytest.mark.inference
def test_jfk_is_still_exact(api_a):
    """The bounded decoder gives the engine the same samples: the same text as before."""
    from tests.audio import JFK_TEXT, words

    response = transcribe(api_a, audio=JFK)
    assert words(response.json()["text"]) == words(JFK_TEXT)
