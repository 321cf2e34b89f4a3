"""Audio measured, not declared: how long an upload really is, and decoding that stops at a limit.

A container's header states a duration (FLAC's STREAMINFO, a WAV chunk size, an MP4 box), and
a hostile file states whatever it likes: a 66 s FLAC can claim 1 s, a 72 KB FLAC holds 10 hours
of silence. So the duration that is checked against the plan and reserved against the quota is
the sum of the audio packets' own durations, read by demuxing (no decoding: fast, constant
memory), and the worker decodes with a ceiling (the reservation plus a small margin), whatever
either of them said.
"""

from fractions import Fraction
from typing import BinaryIO

import av
import numpy as np
from faster_whisper.audio import _group_frames, _ignore_invalid_frames, _resample_frames

from .constants import SAMPLE_RATE

# Decoding may run this far past the measured (reserved) duration before it is refused: codec
# delay and padding make the decoded length differ from the packets' sum by a few frames.
DECODE_MARGIN_SECONDS = 2.0
# Frames are resampled in groups of this many source samples (faster-whisper uses 500,000, up
# to a minute at 8 kHz past the limit before it is noticed); smaller keeps the overshoot to a
# few seconds and gives the same samples (tested against decode_audio).
GROUP_SAMPLES = 64000


class AudioLimitExceeded(Exception):
    """The audio is longer than it may be; `seconds` is how much was decoded or measured."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"audio longer than allowed ({seconds:.1f} s seen)")
        self.seconds = seconds


def duration_measure(container, stream, *, stop_after: float | None = None) -> float:
    """The audio stream's length from its packets, from the start of the file. A packet that
    states no duration is decoded to count its samples. Stops early once past `stop_after`
    (the caller refuses the file anyway), so a file of hours costs no more than the limit."""
    container.seek(0)
    total = Fraction(0)
    for packet in container.demux(stream):
        if packet.size == 0:
            continue  # the demuxer's final flush packet
        if packet.duration and packet.time_base:
            total += packet.duration * packet.time_base
        else:
            for frame in packet.decode():
                total += Fraction(frame.samples, frame.sample_rate or SAMPLE_RATE)
        if stop_after is not None and total > stop_after:
            break
    container.seek(0)
    return float(total)


def decode_bounded(
    source: str | BinaryIO, *, max_seconds: float, sampling_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """faster-whisper's `decode_audio` (the same frames, resampling and scaling, so the text is
    the engine's own), keeping at most `max_seconds` of samples in memory: past that it stops
    and raises AudioLimitExceeded. Its memory is bounded by the limit, not by the file."""
    limit = int(max_seconds * sampling_rate)
    resampler = av.audio.resampler.AudioResampler(format="s16", layout="mono", rate=sampling_rate)
    chunks: list[np.ndarray] = []
    kept = 0
    with av.open(source, mode="r", metadata_errors="ignore") as container:
        frames = _resample_frames(
            _group_frames(_ignore_invalid_frames(container.decode(audio=0)), GROUP_SAMPLES),
            resampler,
        )
        for frame in frames:
            array = frame.to_ndarray().reshape(-1)
            kept += array.size
            if kept > limit:
                raise AudioLimitExceeded(kept / sampling_rate)
            chunks.append(array)
    del resampler
    # One float32 array filled chunk by chunk, each int16 chunk freed once copied: the peak is
    # 6 bytes a sample (int16 + float32), not the 10 of concatenate-then-convert.
    samples = np.empty(kept, dtype=np.float32)
    position = 0
    chunks.reverse()
    while chunks:
        chunk = chunks.pop()
        samples[position : position + chunk.size] = chunk
        position += chunk.size
    samples /= 32768.0
    return samples
