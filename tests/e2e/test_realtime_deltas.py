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


def turns_of_speech() -> bytes:
    """jfk.flac, hotwords.mp3 and the MIT licence's first 10 s read without a pause, 1.5 s of
    silence after each: six turns, the longer ones with interim text while they are spoken."""
    pause = np.zeros(int(1.5 * RATE), dtype="<i2")
    parts = []
    for samples in (
        load_samples(JFK, RATE),
        load_samples(HOTWORDS, RATE),
        load_samples(MULTILINGUAL, RATE)[: 10 * RATE],
    ):
        parts += [samples, pause]
    return encode(np.concatenate(parts), "audio/pcm")


# About 30 s: the recordings stream at the pace they play (the subject).
def test_every_turns_deltas_add_up_to_its_transcript(platform_server):
    run = stream(
        base_url=platform_server.api_base,
        api_key=platform_server.key,
        audio=turns_of_speech(),
        session=session_config(model="tiny.en", vad={"silence_duration_ms": 500}),
    )
    turns = deltas_joined(run)
    assert len(turns) >= 6, turns
    # The previews sent words while several turns were spoken: the interim text is the subject.
    interim = {
        event["item_id"]
        for moment, event in run.events
        if event["type"] == DELTA
        and moment < (run.at("input_audio_buffer.speech_stopped", event["item_id"]) or 0)
    }
    assert len(interim) >= 2, turns
    assert [joined for joined, _ in turns] == [transcript for _, transcript in turns]
    # The words are the recordings', not the interim text's alone.
    heard = set(words(run.transcript))
    assert {"americans", "country", "folder", "permission"} <= heard, run.transcript
