"""The live input buffer: formats decoded as OpenAI defines them, audio cut into appends of any
size giving the same samples and the same turns, server VAD's turns on a real recording."""

import audioop  # the reference G.711 decoder (deprecated, still in 3.11): only to check ours

import numpy as np
import pytest

from live.services.audio_buffer import (
    BufferFull,
    BufferTooSmall,
    LiveAudioBuffer,
    TurnStarted,
    TurnStopped,
)
from speech.pcm import PcmDecoder, _alaw_table, _mulaw_table
from speech.turns import VadSettings
from tests.audio import JFK
from tools.realtime_client import encode, load_samples


@pytest.mark.parametrize(
    "table, reference", [(_mulaw_table, audioop.ulaw2lin), (_alaw_table, audioop.alaw2lin)]
)
def test_g711_tables_match_the_standard(table, reference):
    expected = np.frombuffer(reference(bytes(range(256)), 2), dtype="<i2")
    assert np.array_equal(table(), expected)


def test_appends_of_any_size_give_the_same_samples():
    """A 16-bit sample split over two appends (an odd-sized append) is not lost."""
    pcm = encode(load_samples(JFK, 24000)[: 24000 * 2], "audio/pcm")
    whole = PcmDecoder("audio/pcm").decode(pcm)
    pieces = PcmDecoder("audio/pcm")
    parts = [pieces.decode(pcm[i : i + 4801]) for i in range(0, len(pcm), 4801)]
    joined = np.concatenate(parts)
    assert len(pcm) % 4801 and 4801 % 2  # odd pieces: samples do get split
    assert abs(len(joined) - len(whole)) <= 64
    assert len(whole) == pytest.approx(32000, abs=64)


def turns(buffer: LiveAudioBuffer, pcm: bytes, step: int) -> list:
    found = []
    for offset in range(0, len(pcm), step):
        found += buffer.append(pcm[offset : offset + step], max_samples=16000 * 60)
    return found


def test_server_vad_finds_jfk_turns_the_same_however_the_audio_is_cut():
    samples = np.concatenate([load_samples(JFK, 24000), np.zeros(24000, dtype="<i2")])
    pcm = encode(samples, "audio/pcm")
    by_100ms = turns(LiveAudioBuffer(vad=VadSettings()), pcm, 4800)
    by_odd = turns(LiveAudioBuffer(vad=VadSettings()), pcm, 7777)
    shape = [
        (type(e).__name__, getattr(e, "audio_start_ms", getattr(e, "audio_end_ms", 0)))
        for e in by_100ms
    ]
    assert shape == [
        (type(e).__name__, getattr(e, "audio_start_ms", getattr(e, "audio_end_ms", 0)))
        for e in by_odd
    ]
    stops = [e for e in by_100ms if isinstance(e, TurnStopped)]
    starts = [e for e in by_100ms if isinstance(e, TurnStarted)]
    assert len(starts) == len(stops) >= 2
    # Speech starts right at the beginning and the last turn ends in the trailing silence,
    # 500 ms (silence_duration_ms) after the speech, within Silero's 32 ms frames.
    assert starts[0].audio_start_ms < 300
    assert 10500 <= stops[-1].audio_end_ms <= 11600
    spoken = sum(len(e.samples) for e in stops) / 16000
    assert 8 < spoken < 12


def test_client_commits_and_the_limits():
    buffer = LiveAudioBuffer(vad=None)
    with pytest.raises(BufferTooSmall):
        buffer.commit()
    buffer.append(bytes(24000 * 2), max_samples=16000 * 2)  # 1 s of silence
    assert len(buffer.commit()) == pytest.approx(16000, abs=64)
    buffer.append(bytes(24000 * 2), max_samples=16000 * 2)
    with pytest.raises(BufferFull):
        buffer.append(bytes(24000 * 4), max_samples=16000 * 2)
    buffer.clear()
    assert buffer.buffered_samples == 0
