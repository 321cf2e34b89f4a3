"""Async jobs: submit (202), fetch with progress and result, list, cancel/delete, and the fault
paths (stalled queue, full queue, dead workers, stale redeliveries). Callbacks: test_callbacks.py."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.audio import JFK, JFK_TEXT, words
from tests.conftest import assert_error, transcribe_jfk
from transcriptions import services, tasks
from transcriptions.models import Chunk, Job
from transcriptions.selectors import MSG_JOB_NOT_FOUND
from transcriptions.services import recovery, retention

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fake_engine]


def submit(api, **fields):
    with JFK.open("rb") as f:
        return api.client.post(
            "/v1/audio/jobs", {"file": f, "model": "tiny.en", **fields}, format="multipart"
        )


@pytest.mark.inference
def test_submit_answers_202_then_fetch_gives_the_result(api_a):
    response = submit(api_a, response_format="verbose_json")
    assert response.status_code == 202, response.content
    created = response.json()
    assert created["id"].startswith("job_") and created["object"] == "audio.job"
    assert created["task"] == "transcribe" and created["model"] == "tiny.en"
    assert "result" not in created
    fetched = api_a.client.get(f"/v1/audio/jobs/{created['id']}").json()
    assert fetched["status"] == "succeeded" and fetched["progress"] == 100
    assert fetched["result"]["language"] == "english"
    assert words(fetched["result"]["text"]) == words(JFK_TEXT)
    assert fetched["usage"] == {"type": "duration", "seconds": 11}
    assert fetched["error"] is None


@pytest.mark.inference
@pytest.mark.parametrize("fmt", ["text", "srt", "vtt"])
def test_result_comes_in_the_requested_format(api_a, fmt):
    job_id = submit(api_a, response_format=fmt).json()["id"]
    result = api_a.client.get(f"/v1/audio/jobs/{job_id}").json()["result"]
    assert isinstance(result, str) and "country" in result
    if fmt == "vtt":
        assert result.startswith("WEBVTT")


def test_translate_task(api_a):
    response = submit(api_a, task="translate", model="whisper-1")
    job = api_a.client.get(f"/v1/audio/jobs/{response.json()['id']}").json()
    assert job["task"] == "translate" and job["status"] == "succeeded"


def test_bad_task_and_callback_url(api_a):
    assert_error(
        submit(api_a, task="summarize"),
        400,
        code="unsupported_value",
        param="task",
        message="Invalid value: 'summarize'. Supported values are: 'transcribe' and 'translate'.",
    )
    assert_error(
        submit(api_a, callback_url="ftp://example.com/x"),
        400,
        code="invalid_value",
        param="callback_url",
        message="Invalid 'callback_url': expected an http:// or https:// URL.",
    )
    assert Job.objects.count() == 0


def test_list_is_newest_first_and_paginates(api_a, api_b, stalled_queue):
    ids = [submit(api_a).json()["id"] for _ in range(3)]
    submit(api_b)
    page = api_a.client.get("/v1/audio/jobs?limit=2").json()
    assert page["object"] == "list"
    assert [j["id"] for j in page["data"]] == ids[::-1][:2]
    assert page["has_more"] is True and page["last_id"] == ids[1]
    rest = api_a.client.get(f"/v1/audio/jobs?limit=2&after={page['last_id']}").json()
    assert [j["id"] for j in rest["data"]] == [ids[0]] and rest["has_more"] is False
    queued = api_a.client.get("/v1/audio/jobs?status=queued").json()
    assert len(queued["data"]) == 3


def test_another_tenants_job_is_404_and_untouched(api_a, api_b):
    job_id = submit(api_a).json()["id"]
    message = MSG_JOB_NOT_FOUND.format(job_id=job_id)
    assert_error(
        api_b.client.get(f"/v1/audio/jobs/{job_id}"), 404, code="job_not_found", message=message
    )
    assert_error(
        api_b.client.delete(f"/v1/audio/jobs/{job_id}"), 404, code="job_not_found", message=message
    )
    assert_error(api_b.client.get(f"/v1/audio/jobs?after={job_id}"), 404, code="job_not_found")
    assert Job.objects.filter(public_id=job_id).exists()


def test_delete_a_finished_job_removes_it(api_a):
    job_id = submit(api_a).json()["id"]
    response = api_a.client.delete(f"/v1/audio/jobs/{job_id}")
    assert response.json() == {"id": job_id, "object": "audio.job.deleted", "deleted": True}
    assert not Job.objects.filter(public_id=job_id).exists()
    assert api_a.client.get(f"/v1/audio/jobs/{job_id}").status_code == 404


def test_delete_a_queued_job_cancels_it_and_deletes_its_audio(api_a, stalled_queue):
    job_id = submit(api_a).json()["id"]
    job = Job.objects.get(public_id=job_id)
    audio_path = job.audio.path
    assert job.status == Job.Status.QUEUED
    assert api_a.client.delete(f"/v1/audio/jobs/{job_id}").status_code == 200
    assert not Job.objects.filter(public_id=job_id).exists()
    import os

    assert not os.path.exists(audio_path)


def test_a_cancelled_job_is_not_run_later(api_a, stalled_queue):
    job = Job.objects.get(public_id=submit(api_a).json()["id"])
    assert services.job_cancel(job=job)
    tasks.run_chunk()  # the queued task arrives after the cancel
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and job.attempts == 0 and job.text == ""


def test_sync_request_answers_504_with_the_job_id_when_its_wait_times_out(
    api_a, stalled_queue, settings
):
    settings.SYNC_WAIT_TIMEOUT = 0.2
    response = transcribe_jfk(api_a)
    job = Job.objects.get()
    assert_error(
        response,
        504,
        type="server_error",
        code="timeout",
        message=services.MSG_WAIT_TIMEOUT.format(job=job.public_id),
    )
    assert response["x-job-id"] == job.public_id
    fetched = api_a.client.get(f"/v1/audio/jobs/{job.public_id}")
    assert fetched.status_code == 200 and fetched.json()["status"] == "queued"


def test_full_queue_answers_503_with_retry_after(api_a, stalled_queue, settings):
    settings.MAX_QUEUED_JOBS = 2
    assert submit(api_a).status_code == 202
    assert submit(api_a).status_code == 202
    response = submit(api_a)
    assert_error(
        response, 503, type="server_error", code="queue_full", message=services.MSG_QUEUE_FULL
    )
    assert response["Retry-After"] == "5"
    assert Job.objects.count() == 2


def running_job(api, *, worker: str, attempts: int) -> Job:
    """A job whose (only) chunk a worker took, as chunk_claim leaves it."""
    job = Job.objects.get(public_id=submit(api).json()["id"])
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING, worker=worker, attempts=attempts, started_at=timezone.now()
    )
    job.chunks.update(status=Chunk.Status.RUNNING, worker=worker, attempts=attempts)
    job.refresh_from_db()
    return job


DEAD_WORKER = f"{__import__('socket').gethostname()}:4194303"  # above any live pid here


@pytest.mark.inference
@pytest.mark.backend
def test_a_job_whose_worker_died_is_retried(api_a, stalled_queue, monkeypatch):
    job = running_job(api_a, worker=DEAD_WORKER, attempts=1)
    monkeypatch.undo()  # the retry really runs (inline, in this test process)
    assert recovery.recover_orphaned_jobs() == {"requeued": 1, "failed": 0}
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.attempts == 2
    assert words(job.text) == words(JFK_TEXT)
    assert job.chunks.get().status == Chunk.Status.DONE
    tasks.run_chunk()  # the broker hands the first turn out again: nothing left to take
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.attempts == 2


def test_a_job_that_lost_its_worker_twice_fails_cleanly(api_a, stalled_queue):
    job = running_job(api_a, worker=DEAD_WORKER, attempts=services.MAX_JOB_ATTEMPTS)
    assert recovery.recover_orphaned_jobs() == {"requeued": 0, "failed": 1}
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.error_code == "worker_interrupted"
    assert not job.audio


def test_a_live_workers_job_is_left_alone(api_a, stalled_queue):
    import os
    import socket

    job = running_job(api_a, worker=f"{socket.gethostname()}:{os.getpid()}", attempts=1)
    assert recovery.recover_orphaned_jobs() == {"requeued": 0, "failed": 0}
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING


def test_expired_transcripts_are_purged_by_the_tenants_retention(api_a, api_b):
    from billing.services import plan_override_set

    plan_override_set(tenant=api_a.tenant, retention_days=7)
    plan_override_set(tenant=api_b.tenant, retention_days=0)  # kept forever
    old, new = (submit(api_a).json()["id"] for _ in range(2))
    forever = submit(api_b).json()["id"]
    Job.objects.filter(public_id__in=[old, forever]).update(
        finished_at=timezone.now() - timedelta(days=8)
    )
    counts = {"jobs": 1, "audio_files": 0, "live_previews": 0, "live_sessions": 0}
    assert retention.purge_expired() == counts
    assert set(Job.objects.values_list("public_id", flat=True)) == {new, forever}


def test_schedules_are_installed_by_migrate():
    from django_q.models import Schedule

    names = set(Schedule.objects.values_list("name", flat=True))
    assert set(recovery.SCHEDULES) <= names


def test_a_job_deleted_while_its_chunk_starts_ends_without_an_error_logged(
    api_a, stalled_queue, monkeypatch, caplog
):
    """DELETE while a worker opens the job's audio: the file is gone under the decode. That is
    the owner's doing, not an engine failure (it logged a traceback)."""
    from transcriptions.services import running

    job_id = submit(api_a).json()["id"]
    real_plan = running._plan

    def deleted_first(job, chunk):
        assert api_a.client.delete(f"/v1/audio/jobs/{job_id}").status_code == 200
        return real_plan(job, chunk)

    monkeypatch.setattr(running, "_plan", deleted_first)
    with caplog.at_level("INFO", logger="transcriptions"):
        tasks.run_chunk()
    assert not Job.objects.filter(public_id=job_id).exists()
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")], caplog.text
    assert "deleted while chunk 0 ran" in caplog.text
