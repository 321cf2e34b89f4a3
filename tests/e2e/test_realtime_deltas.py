"""A live turn's deltas add up to its `completed` transcript, as OpenAI's do: a client that joins
them shows the transcript, whatever the interim text (the previews' words) said while the turn
was spoken. Several turns of real speech streamed at the pace they play through the official
SDK's realtime client, real workers decoding the previews and the turns."""

import numpy as np
import pytest

from tests.audio import HOTWORDS, JFK, MULTILINGUAL, words
from tests.e2e.realtime import DELTA, deltas_joined
from tools.realtime_client import encode, load_samples, session_config, stream

pytestmark = pytest.mark.e2e

RATE = 24_000


def recordings() -> list[np.ndarray]:
    """jfk.flac, hotwords.mp3 and the MIT licence's first 10 s, as 24 kHz samples."""
    return [
        load_samples(JFK, RATE),
        load_samples(HOTWORDS, RATE),
        load_samples(MULTILINGUAL, RATE)[: 10 * RATE],
    ]


def turns_of_speech(parts: list[np.ndarray]) -> bytes:
    """The recordings read without a pause, 1.5 s of silence after each: six turns, the longer
    ones with interim text while they are spoken."""
    pause = np.zeros(int(1.5 * RATE), dtype="<i2")
    return encode(np.concatenate([piece for part in parts for piece in (part, pause)]), "audio/pcm")


def interim_items(run) -> set[str]:
    """The turns that had a delta before their speech stopped."""
    return {
        event["item_id"]
        for moment, event in run.events
        if event["type"] == DELTA
        and moment < (run.at("input_audio_buffer.speech_stopped", event["item_id"]) or 1e18)
    }


def hold_for_interim_text(parts: list[np.ndarray]):
    """Holds the audio back (tools.realtime_client.stream's `hold`) from 2 s into the first
    and into the last recording to their end until that many turns had interim text: a busy
    machine decodes previews later than the audio plays, so the test waits for them, not for
    the clock."""
    starts, at = [], 0.0
    for part in parts:
        starts.append(at)
        at += len(part) / RATE + 1.5
    windows = [
        (
            starts[index] + 2,
            starts[index] + len(parts[index]) / RATE - 0.5,
        )
        for index in (0, len(parts) - 1)
    ]

    def hold(run, seconds: float) -> bool:
        return any(
            begin <= seconds < end and len(interim_items(run)) < number
            for number, (begin, end) in enumerate(windows, start=1)
        )

    return hold


# About 30 s: the recordings stream at the pace they play (the subject), slower only while
# waiting for interim text.
def test_every_turns_deltas_add_up_to_its_transcript(platform_server):
    parts = recordings()
    run = stream(
        base_url=platform_server.api_base,
        api_key=platform_server.key,
        audio=turns_of_speech(parts),
        session=session_config(model="tiny.en", vad={"silence_duration_ms": 500}),
        hold=hold_for_interim_text(parts),
    )
    turns = deltas_joined(run)
    assert len(turns) >= 6, turns
    # The previews sent words while several turns were spoken: the interim text is the subject.
    assert len(interim_items(run)) >= 2, turns
    assert [joined for joined, _ in turns] == [transcript for _, transcript in turns]
    # The words are the recordings', not the interim text's alone.
    heard = set(words(run.transcript))
    assert {"americans", "country", "folder", "permission"} <= heard, run.transcript
