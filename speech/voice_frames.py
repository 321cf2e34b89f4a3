"""The speaker encoder's view of speech (diarization.py's first half): CAM++'s frames over each
stretch of speech, and embeddings of windows pooled from them.

The network runs once over each stretch (in chunks of at most CHUNK_SECONDS, its memory grows
with the length), not once per window: windows overlap, and the relabelling pass pools windows
every quarter of a second, so per window it would run over every frame several times. A window's
embedding pools the frames under it; those frames have also heard a few tenths of a second
around the window, which blurs a change of speaker no more than the window's own length does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .campplus import fbank
from .constants import SAMPLE_RATE
from .speaker_encoder import get_encoder

FRAME_SECONDS = 0.01  # one filterbank frame every 10 ms; the network's frames are 20 ms
SHIFT_SAMPLES = SAMPLE_RATE // 100
TAIL_SAMPLES = SAMPLE_RATE * 25 // 1000 - SHIFT_SAMPLES  # a frame reads 25 ms from its start
CHUNK_SECONDS = 8.0
# Chunks of a long stretch overlap by this much; each keeps the frames of its own middle.
CHUNK_OVERLAP_SECONDS = 1.0
SHORTEST_REFERENCE = 0.5


@dataclass(frozen=True)
class StretchFrames:
    first: int  # the stretch's first filterbank frame (10 ms) in the audio
    frames: np.ndarray  # (512, n): the network's frames, frame j centred on filterbank frame 2 j


def _chunk_frames(samples: np.ndarray, first: int, last: int) -> np.ndarray:
    """The network's frames over filterbank frames [first, last), the filterbank's mean over
    them taken off (3D-Speaker's normalisation: the input's loudness does not matter)."""
    feats = fbank(samples[first * SHIFT_SAMPLES : last * SHIFT_SAMPLES + TAIL_SAMPLES])
    if len(feats) == 0:
        return np.zeros((512, 0), dtype=np.float32)
    feats -= feats.mean(axis=0)
    return get_encoder().frames(feats[None])[0]


def stretch_frames(samples: np.ndarray, first: int, last: int) -> StretchFrames:
    """The network's frames over filterbank frames [first, last) of the samples: chunks of at
    most CHUNK_SECONDS that overlap, each giving the frames up to the middle of its overlap with
    the next."""
    limit = 2 * round(CHUNK_SECONDS / FRAME_SECONDS / 2)  # even: chunks start on a 20 ms frame
    overlap = 4 * round(CHUNK_OVERLAP_SECONDS / FRAME_SECONDS / 4)  # its middle on one too
    pieces: list[np.ndarray] = []
    taken = 0  # the network's frames of the stretch given so far
    start = first
    while True:
        end = min(last, start + limit)
        frames = _chunk_frames(samples, start, end)
        offset = (start - first) // 2  # the chunk's first frame in the stretch's
        if end >= last:
            pieces.append(frames[:, taken - offset :])
            break
        until = (end - overlap // 2 - first) // 2
        pieces.append(frames[:, taken - offset : until - offset])
        taken = until
        start = end - overlap
    return StretchFrames(first, np.concatenate(pieces, axis=1))


def pool_windows(
    stretches: list[StretchFrames], windows: list[tuple[int, int]], groups: list[int]
) -> np.ndarray:
    """One unit embedding per window [first, last) of filterbank frames, each in the stretch
    its group names: the mean and standard deviation of the frames under it (from running
    sums: windows every tenth of a second would sum every frame many times), then the
    network's last layer over all windows at once."""
    stats = np.zeros((len(windows), 1024), dtype=np.float64)
    sums: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for index, ((first, last), group) in enumerate(zip(windows, groups, strict=True)):
        stretch = stretches[group]
        if group not in sums:
            frames = stretch.frames.astype(np.float64)
            zero = np.zeros((frames.shape[0], 1))
            sums[group] = (
                np.concatenate([zero, np.cumsum(frames, axis=1)], axis=1),
                np.concatenate([zero, np.cumsum(frames * frames, axis=1)], axis=1),
            )
        total, squares = sums[group]
        size = total.shape[1] - 1
        start = min(size, (first - stretch.first) // 2)
        end = min(size, -(-(last - stretch.first) // 2))
        count = end - start
        if count < 1:
            continue
        mean = (total[:, end] - total[:, start]) / count
        if count > 1:
            spread = (squares[:, end] - squares[:, start] - count * mean * mean) / (count - 1)
            std = np.sqrt(np.maximum(spread, 0.0))
        else:
            std = np.full_like(mean, 1e-2)
        stats[index] = np.concatenate([mean, std])
    out = get_encoder().dense_layer(stats.astype(np.float32))
    out[~stats.any(axis=1)] = 0.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def as_16k(samples: np.ndarray, sampling_rate: int) -> np.ndarray:
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    if sampling_rate == SAMPLE_RATE or len(samples) == 0:
        return samples
    duration = len(samples) / sampling_rate
    target = np.arange(int(duration * SAMPLE_RATE)) / SAMPLE_RATE
    return np.interp(target, np.arange(len(samples)) / sampling_rate, samples).astype(np.float32)


def embed_speech(speech: np.ndarray) -> np.ndarray:
    """One unit embedding of 16 kHz speech: all the network's frames over it pooled."""
    frames = stretch_frames(speech, 0, len(speech) // SHIFT_SAMPLES).frames
    vector = get_encoder().pool(frames[None])[0]
    return (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(np.float32)
