"""A live turn's deltas add up to its `completed` transcript, as OpenAI's do, whatever its
interim text said: the real session (RealtimeSession) over several turns of real speech, tiny.en
decoding its previews and its turns (the test settings' sync cluster runs them at once), each
append's preview and turn run to their end before the next append, so what is sent does not
depend on the machine's speed. The same over a real websocket: tests/e2e/test_realtime_deltas.py."""

import asyncio
import base64
import statistics
import time

import numpy as np
import pytest

from api.realtime.consumer import RealtimeSession
from tests.audio import HOTWORDS, JFK, words
from tests.conftest import keyed_client
from tools.realtime_client import load_samples

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.inference]

DELTA = "conversation.item.input_audio_transcription.delta"
COMPLETED = "conversation.item.input_audio_transcription.completed"
STOPPED = "input_audio_buffer.speech_stopped"
STARTED = "input_audio_buffer.speech_started"
RATE = 24_000
STEP = RATE // 10  # appends of 100 ms, as the SDK's client streaming in real time sends them


def speech() -> np.ndarray:
    """jfk.flac and hotwords.mp3, 1.5 s of silence after each: five turns."""
    pause = np.zeros(int(1.5 * RATE), dtype="<i2")
    return np.concatenate(
        [part for path in (JFK, HOTWORDS) for part in (load_samples(path, RATE), pause)]
    )


async def spoken(api_key, audio: np.ndarray) -> list[tuple[float, dict]]:
    """The session's events for `audio` streamed with server VAD (silence 500 ms), each with
    the seconds of audio appended when it came."""
    events: list[tuple[float, dict]] = []
    appended = [0]

    async def record(event: dict) -> None:
        events.append((appended[0] / RATE, event))

    session = RealtimeSession(api_key=api_key, send=record)
    await session.handle(
        {
            "type": "session.update",
            "session": {
                "type": "transcription",
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcm", "rate": RATE},
                        "transcription": {"model": "tiny.en"},
                        "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
                    }
                },
            },
        }
    )
    for start in range(0, len(audio), STEP):
        piece = audio[start : start + STEP].tobytes()
        appended[0] = start + STEP
        await session.handle(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(piece).decode()}
        )
        # One thing at a time (the test database takes one writer): a committed turn's job,
        # then the preview of the next.
        await asyncio.gather(*list(session._turns))
        if session._preview is not None:
            await session._preview
            await asyncio.sleep(max(0.0, session._preview_after - time.monotonic()))
    await session.close()
    return events


# About 40 s: two recordings' turns, each append's preview decoded for real before the next
# (previews are the subject; pacing them on the machine's speed keeps the test load-free).
def test_every_turns_deltas_add_up_to_its_transcript(tenant_a):
    timed = asyncio.run(spoken(keyed_client(tenant_a).api_key, speech()))
    events = [event for _, event in timed]
    joined: dict[str, str] = {}
    interim: set[str] = set()  # turns with deltas before their speech stopped
    stopped: set[str] = set()
    for event in events:
        if event["type"] == STOPPED:
            stopped.add(event["item_id"])
        elif event["type"] == DELTA:
            joined[event["item_id"]] = joined.get(event["item_id"], "") + event["delta"]
            if event["item_id"] not in stopped:
                interim.add(event["item_id"])
    completed = [event for event in events if event["type"] == COMPLETED]
    assert len(completed) >= 5 and len(interim) >= 3, (len(completed), interim)
    assert [joined.get(e["item_id"], "") for e in completed] == [e["transcript"] for e in completed]
    transcript = " ".join(e["transcript"] for e in completed)
    assert {"americans", "country", "folder"} <= set(words(transcript)), transcript

    # The first words of a turn with interim text go out sooner than a second after they were
    # heard (previews every 0.4 s of audio; decodes take no audio time here, as nothing is
    # appended meanwhile): a word Whisper is fairly sure of counts 0.3 s after it ended
    # (preview_decoding.SURE_SECONDS). Measured: 0.8, 1.2, 2.0, 2.0 s after speech started
    # (median 1.6); with a second for every word 1.6, 2.0, 2.0, 2.0 (median 2.0).
    started = {event["item_id"]: at for at, event in timed if event["type"] == STARTED}
    firsts: dict[str, float] = {}
    for at, event in timed:
        if event["type"] == DELTA and event["item_id"] in interim:
            firsts.setdefault(event["item_id"], at - started[event["item_id"]])
    assert statistics.median(firsts.values()) < 1.8, firsts
