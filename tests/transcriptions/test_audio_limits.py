"""Audio is measured from the stream, not from what its header declares, and decoding stops at
a ceiling whatever the file says. The hostile files are built here, in the tests."""

import io
import time
import tracemalloc

import av
import numpy as np
import pytest
from faster_whisper.audio import decode_audio

from speech.limits import AudioLimitExceeded, decode_bounded, duration_measure
from tests.audio import JFK, MULTILINGUAL, long_silence_flac, lying_flac


def measure(data: bytes, **kwargs) -> tuple[float, float]:
    """(what the header declares, what the packets measure)"""
    with av.open(io.BytesIO(data)) as container:
        declared = container.duration / av.time_base
        return declared, duration_measure(container, container.streams.audio[0], **kwargs)


def test_a_header_that_lies_is_not_believed():
    declared, measured = measure(lying_flac(66, 1))
    assert declared == pytest.approx(1.0)
    assert measured == pytest.approx(66.0, abs=0.1)


def test_hours_in_a_small_file_are_measured_up_to_the_limit_only():
    data = long_silence_flac(10 * 3600)
    assert len(data) < 26_214_400  # under the default upload limit
    started = time.monotonic()
    _, measured = measure(data, stop_after=60)
    assert 60 < measured < 70
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("clip", [JFK, MULTILINGUAL], ids=lambda p: p.name)
def test_real_files_measure_what_they_decode_to(clip):
    with av.open(str(clip)) as container:
        measured = duration_measure(container, container.streams.audio[0])
    decoded = len(decode_audio(str(clip))) / 16000
    assert measured == pytest.approx(decoded, abs=0.1)


@pytest.mark.parametrize("clip", [JFK, MULTILINGUAL], ids=lambda p: p.name)
def test_bounded_decoding_gives_the_engines_own_samples(clip):
    ours = decode_bounded(str(clip), max_seconds=120)
    assert np.array_equal(ours, decode_audio(str(clip)))


def test_bounded_decoding_stops_at_the_ceiling_in_bounded_memory():
    data = long_silence_flac(2 * 3600)  # two hours: 460 MB as float32 if decoded whole
    tracemalloc.start()
    try:
        with pytest.raises(AudioLimitExceeded) as caught:
            decode_bounded(io.BytesIO(data), max_seconds=30)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 30 < caught.value.seconds < 45
    assert peak < 10_000_000, f"peak {peak / 1e6:.1f} MB"


def test_a_lying_header_cannot_get_past_the_ceiling():
    with pytest.raises(AudioLimitExceeded):
        decode_bounded(io.BytesIO(lying_flac(66, 1)), max_seconds=1 + 2)
