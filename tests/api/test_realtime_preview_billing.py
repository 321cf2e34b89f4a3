"""Interim text is never free: a session that reads a turn's previews (deltas before the turn is
committed) and then clears the buffer, hangs up, or has its turn fail is billed the seconds of
audio the sent text covered, in a usage row of its own; a turn committed after its previews is
billed once; a tenant without the seconds gets no interim text. Real previews (tiny.en on
jfk.flac, run at once by the test settings' sync cluster); the quota, the usage log and the
billing report must agree to the second."""

import asyncio
import base64
import math
import time

import pytest
from django.utils import timezone

from api.realtime.consumer import RealtimeSession
from billing.models import UsageRecord
from billing.reports import billing_report
from billing.selectors import quota_status, usage_by_day
from billing.services import plan_override_set
from live.models import LivePreview
from tests.audio import JFK
from tests.conftest import keyed_client
from tests.dashboard.conftest import signed_in
from tools.realtime_client import load_samples
from transcriptions.models import Job

pytestmark = pytest.mark.django_db(transaction=True)

DELTA = "conversation.item.input_audio_transcription.delta"
COMPLETED = "conversation.item.input_audio_transcription.completed"
# The usage log's row of the interim text of a turn (preview_billing), and how the turn ended.
PREVIEW_ENDPOINT = "/v1/realtime/preview"
CLEARED, CLOSED = "preview_cleared", "preview_closed"
RATE = 24_000
STEP = RATE // 5  # appends of 200 ms, as a client streaming in real time sends them


class Spoken:
    """A session with server VAD that waits 10 s of silence before a turn ends (the attack's
    setting): the first `seconds` of jfk.flac are appended, each append's preview run to its
    end before the next (so the test does not depend on the machine's speed)."""

    def __init__(self, api_key, seconds: float = 5.0) -> None:
        self.events: list[dict] = []
        self.session = RealtimeSession(api_key=api_key, send=self._record)
        self.audio = load_samples(JFK, RATE)[: int(seconds * RATE)]

    async def _record(self, event: dict) -> None:
        self.events.append(event)

    async def speak(self) -> None:
        await self.session.handle(
            {
                "type": "session.update",
                "session": {
                    "type": "transcription",
                    "audio": {
                        "input": {
                            "format": {"type": "audio/pcm", "rate": RATE},
                            "transcription": {"model": "tiny.en", "language": "en"},
                            "turn_detection": {
                                "type": "server_vad",
                                "silence_duration_ms": 10_000,
                            },
                        }
                    },
                },
            }
        )
        for start in range(0, len(self.audio), STEP):
            piece = self.audio[start : start + STEP].tobytes()
            await self.session.handle(
                {"type": "input_audio_buffer.append", "audio": base64.b64encode(piece).decode()}
            )
            if self.session._preview is not None:
                await self.session._preview
                # The session's pacing: the next preview no sooner than this one's round trip.
                await asyncio.sleep(max(0.0, self.session._preview_after - time.monotonic()))

    async def turns_done(self) -> None:
        await asyncio.wait_for(asyncio.gather(*list(self.session._turns)), timeout=60)

    def interim(self) -> str:
        return "".join(event["delta"] for event in self.events if event["type"] == DELTA)


def figures(tenant) -> dict:
    """What the tenant is billed this month, three ways that must agree."""
    now = timezone.now()
    [report] = billing_report(year=now.year, month=now.month, tenant=tenant)
    status = quota_status(tenant=tenant)
    rows = UsageRecord.objects.filter(tenant=tenant)
    return {
        "log": sum(row.billed_seconds or 0 for row in rows),
        "report": report.billed_seconds,
        "quota_used": status.used_seconds,
        "quota_reserved": status.reserved_seconds,
    }


def billed_alike(tenant, seconds: int) -> None:
    assert figures(tenant) == {
        "log": seconds,
        "report": seconds,
        "quota_used": seconds,
        "quota_reserved": 0,
    }


def preview_row(tenant) -> UsageRecord:
    [row] = UsageRecord.objects.filter(tenant=tenant, endpoint=PREVIEW_ENDPOINT)
    return row


def sent_then(end, tenant_a) -> tuple[Spoken, UsageRecord]:
    """Interim text is sent, then the turn ends with `end`: its preview row."""
    api = keyed_client(tenant_a)
    spoken = Spoken(api.api_key)

    async def run() -> None:
        await spoken.speak()
        await end(spoken)

    asyncio.run(run())
    assert len(spoken.interim().split()) >= 3, spoken.interim()
    return spoken, preview_row(tenant_a)


def test_interim_text_then_clear_is_billed(tenant_a, alice):
    async def clear(spoken: Spoken) -> None:
        await spoken.session.handle({"type": "input_audio_buffer.clear"})

    spoken, row = sent_then(clear, tenant_a)
    assert spoken.events[-1]["type"] == "input_audio_buffer.cleared"
    assert row.error_code == CLEARED and row.method == "WS"
    # The seconds of the audio the sent text was decoded from: some, at most what was spoken.
    assert 2 <= row.billed_seconds <= math.ceil(len(spoken.audio) / RATE)
    assert row.billed_seconds == math.ceil(row.audio_seconds)
    billed_alike(tenant_a, row.billed_seconds)
    assert not Job.objects.exists() and not LivePreview.objects.exists()
    # The dashboard: the request log shows the row with its status, the usage page its seconds.
    browser = signed_in(alice)
    log = browser.get("/requests/").content.decode()
    assert f"WS {PREVIEW_ENDPOINT}" in log and CLEARED in log
    today = timezone.now().date()
    [day] = usage_by_day(tenant=tenant_a, start=today, end=today)
    assert day["billed_seconds"] == row.billed_seconds


def test_interim_text_then_hanging_up_is_billed(tenant_a):
    async def hang_up(spoken: Spoken) -> None:
        await spoken.session.close()

    _, row = sent_then(hang_up, tenant_a)
    assert row.error_code == CLOSED and row.billed_seconds >= 2
    billed_alike(tenant_a, row.billed_seconds)


def test_a_committed_turn_after_its_interim_text_is_billed_once(tenant_a):
    api = keyed_client(tenant_a)
    spoken = Spoken(api.api_key)

    async def run() -> None:
        await spoken.speak()
        await spoken.session.handle({"type": "input_audio_buffer.commit"})
        await spoken.turns_done()

    asyncio.run(run())
    assert len(spoken.interim().split()) >= 3
    [completed] = [event for event in spoken.events if event["type"] == COMPLETED]
    assert completed["usage"]["seconds"] == 5
    [row] = UsageRecord.objects.filter(tenant=tenant_a)  # the turn's, no preview row
    assert row.endpoint == "/v1/realtime"
    [job] = Job.objects.all()
    assert job.status == Job.Status.SUCCEEDED
    assert row.billed_seconds == math.ceil(job.duration) == 5
    billed_alike(tenant_a, 5)


def test_a_committed_turn_cancelled_as_the_client_leaves_still_bills_its_interim_text(
    tenant_a, stalled_queue
):
    """The turn's job never ran (no worker came) and is cancelled at 0 s: the interim text
    the client already had is billed by its own row."""
    api = keyed_client(tenant_a)
    spoken = Spoken(api.api_key)

    async def run() -> None:
        await spoken.speak()
        await spoken.session.handle({"type": "input_audio_buffer.commit"})
        deadline = time.monotonic() + 30
        while not spoken.session._jobs:  # the turn's job submitted (a refusal would not be)
            assert time.monotonic() < deadline, f"no job for the turn: {spoken.events[-3:]}"
            await asyncio.sleep(0.01)
        await spoken.session.close()

    asyncio.run(run())
    [job] = Job.objects.all()
    assert job.status == Job.Status.CANCELLED
    assert (
        UsageRecord.objects.get(job_id=job.public_id, endpoint="/v1/realtime").billed_seconds == 0
    )
    row = preview_row(tenant_a)
    assert row.error_code == CLOSED and row.billed_seconds >= 2
    billed_alike(tenant_a, row.billed_seconds)


def test_no_interim_text_without_quota(tenant_a):
    plan_override_set(tenant=tenant_a, monthly_audio_seconds=0)
    api = keyed_client(tenant_a)
    spoken = Spoken(api.api_key)

    async def run() -> None:
        await spoken.speak()
        await spoken.session.handle({"type": "input_audio_buffer.clear"})

    asyncio.run(run())
    assert spoken.interim() == ""
    assert not UsageRecord.objects.exists()
    billed_alike(tenant_a, 0)


def test_interim_text_stops_where_the_quota_does(tenant_a):
    """3 s left: previews of the turn's first 3 s only, and those are what is billed."""
    plan_override_set(tenant=tenant_a, monthly_audio_seconds=3)

    async def clear(spoken: Spoken) -> None:
        await spoken.session.handle({"type": "input_audio_buffer.clear"})

    api = keyed_client(tenant_a)
    spoken = Spoken(api.api_key)

    async def run() -> None:
        await spoken.speak()
        await clear(spoken)

    asyncio.run(run())
    row = preview_row(tenant_a)
    assert row.billed_seconds <= 3 and row.audio_seconds <= 3
    billed_alike(tenant_a, row.billed_seconds)


def test_a_preview_being_queued_when_the_turn_is_cleared_leaves_nothing_held(tenant_a, monkeypatch):
    """The turn is cleared while its next preview's seconds are being held (slow database,
    injected): the hold is settled with the rest, nothing stays reserved."""
    from live import previews

    real_submit = previews.live_preview_submit

    def slow_submit(**kwargs):
        time.sleep(0.3)
        return real_submit(**kwargs)

    api = keyed_client(tenant_a)
    spoken = Spoken(api.api_key, seconds=3.0)

    async def run() -> None:
        await spoken.speak()
        monkeypatch.setattr("live.previews.live_preview_submit", slow_submit)
        await asyncio.sleep(max(0.0, spoken.session._preview_after - time.monotonic()))
        more = load_samples(JFK, RATE)[3 * RATE : 4 * RATE].tobytes()
        await spoken.session.handle(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(more).decode()}
        )
        await asyncio.sleep(0.1)
        assert spoken.session._holding[1].done() is False  # its seconds not yet held
        await spoken.session.handle({"type": "input_audio_buffer.clear"})
        await asyncio.sleep(0.6)  # the session goes on: the slow hold has long ended

    asyncio.run(run())
    row = preview_row(tenant_a)
    assert row.error_code == CLEARED
    billed_alike(tenant_a, row.billed_seconds)
