"""A live turn that meets a fault rather than a refusal (the database went away, a bug) ends in
`conversation.item.input_audio_transcription.failed` with a server_error, never in silence: a
client (the dashboard's live page among them) would otherwise wait for a `completed` that never
comes. A job already queued for the turn is cancelled, not left to run unseen and be billed."""

import asyncio
import base64

import numpy as np
import pytest
from django.db import OperationalError

from api.realtime.consumer import RealtimeSession
from billing.models import UsageRecord
from live import turns as turns_module
from tests.conftest import keyed_client
from transcriptions.models import Job

pytestmark = pytest.mark.django_db(transaction=True)

FAILED = "conversation.item.input_audio_transcription.failed"


def one_turn(api_key, *, turns: int = 1) -> list[dict]:
    """A session with no turn detection: `turns` times a second of 24 kHz tone, committed.
    Every event the session sent, once its turns have ended."""
    events: list[dict] = []

    async def send(event: dict) -> None:
        events.append(event)

    tone = (np.sin(np.arange(24_000) * 2 * np.pi * 440 / 24_000) * 8000).astype("<i2")
    audio = base64.b64encode(tone.tobytes()).decode()

    async def run() -> None:
        session = RealtimeSession(api_key=api_key, send=send)
        await session.handle(
            {
                "type": "session.update",
                "session": {
                    "type": "transcription",
                    "audio": {
                        "input": {
                            "format": {"type": "audio/pcm", "rate": 24000},
                            "transcription": {"model": "tiny.en"},
                            "turn_detection": None,
                        }
                    },
                },
            }
        )
        for _ in range(turns):
            await session.handle({"type": "input_audio_buffer.append", "audio": audio})
            await session.handle({"type": "input_audio_buffer.commit"})
            await asyncio.wait_for(asyncio.gather(*list(session._turns)), timeout=60)

    asyncio.run(run())
    return events


def failures(events: list[dict]) -> list[dict]:
    return [event["error"] for event in events if event["type"] == FAILED]


def failed_and_cancelled(api_key) -> Job:
    """One turn: it ends in `failed` (server_error), and its one job is cancelled."""
    [error] = failures(one_turn(api_key))
    assert error["type"] == "server_error"
    [job] = Job.objects.all()
    assert job.status == Job.Status.CANCELLED
    return job


@pytest.mark.inference
def test_a_fault_while_queueing_the_turn_is_reported_and_the_session_goes_on(tenant_a, monkeypatch):
    api = keyed_client(tenant_a)
    real_submit = turns_module.live_turn_submit
    calls = []

    def flaky_submit(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("database is locked")
        return real_submit(**kwargs)

    monkeypatch.setattr("live.turns.live_turn_submit", flaky_submit)
    events = one_turn(api.api_key, turns=2)
    [error] = failures(events)
    # A database that cannot be written for the moment is an outage to retry (ops.outages).
    assert error["type"] == "server_error" and error["code"] == "service_unavailable"
    assert "database is locked" not in error["message"]  # no internals to the client
    # The next turn is queued and completes as usual.
    completed = [e for e in events if e["type"].endswith("transcription.completed")]
    assert len(completed) == 1
    assert Job.objects.count() == 1


def test_a_fault_while_following_the_turn_cancels_its_job(tenant_a, monkeypatch, stalled_queue):
    api = keyed_client(tenant_a)

    async def broken_wait(job_pk, *, sent, timeout):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("live.turns.live_turn_wait", broken_wait)
    job = failed_and_cancelled(api.api_key)
    # Cancelled before any of it was transcribed: its usage row is settled at 0 s.
    [row] = UsageRecord.objects.filter(job_id=job.public_id)
    assert row.billed_seconds == 0


def test_a_usage_row_that_cannot_be_written_leaves_no_job_running(
    tenant_a, monkeypatch, stalled_queue
):
    api = keyed_client(tenant_a)

    def no_row(**kwargs):
        raise OperationalError("disk I/O error")

    # The row is written with the job, in its transaction: neither is left behind.
    monkeypatch.setattr("transcriptions.services.usage.usage_record_create", no_row)
    [error] = failures(one_turn(api.api_key))
    assert error["type"] == "server_error"
    assert not Job.objects.exists() and not UsageRecord.objects.exists()
