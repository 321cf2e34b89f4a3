"""An engine that fails (injected) is a clean OpenAI 500, and the job ends failed, not stuck."""

import pytest

import speech as engine
from tests.audio import JFK
from tests.conftest import assert_error, transcribe_jfk
from tests.streams import streamed
from transcriptions import services
from transcriptions.models import Job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fake_engine]


def test_engine_exception_fails_the_job_and_answers_500(api_a, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("CUDA out of memory (injected)")

    monkeypatch.setattr(engine, "transcribe", broken)
    response = transcribe_jfk(api_a)
    job = Job.objects.get()
    assert_error(
        response,
        500,
        type="server_error",
        code="engine_error",
        message=services.MSG_ENGINE_FAILED.format(job=job.public_id),
    )
    assert job.status == Job.Status.FAILED and job.error_code == "engine_error"
    assert "CUDA" not in response.content.decode(), "internals are not shown to clients"
    assert not job.audio, "audio is cleaned up after a failure too"


def test_engine_exception_in_a_stream_ends_with_an_error_event(api_a, monkeypatch):
    monkeypatch.setattr(engine, "transcribe", lambda *a, **k: 1 / 0)
    with JFK.open("rb") as f:
        response = api_a.client.post(
            "/v1/audio/transcriptions",
            {"file": f, "model": "tiny.en", "stream": "true"},
            format="multipart",
        )
    body = streamed(response).decode()
    assert '"type": "error"' in body and '"code": "engine_error"' in body
    assert Job.objects.get().status == Job.Status.FAILED


def test_a_job_over_its_time_limit_answers_504(api_a, monkeypatch):
    from django_q.exceptions import TimeoutException

    def hang(*args, **kwargs):
        raise TimeoutException("Task exceeded maximum timeout value (900 seconds)")  # injected

    monkeypatch.setattr(engine, "transcribe", hang)
    response = transcribe_jfk(api_a)
    job = Job.objects.get()
    assert_error(
        response,
        504,
        type="server_error",
        code="timeout",
        message=services.MSG_TIMED_OUT.format(job=job.public_id),
    )
    assert job.status == Job.Status.FAILED


def test_task_timeout_is_below_the_broker_retry(settings):
    # Otherwise the broker hands a still-running job to a second worker (django-q2 docs).
    assert settings.Q_CLUSTER["timeout"] < settings.Q_CLUSTER["retry"]
    assert settings.Q_CLUSTER["max_attempts"] >= 1
