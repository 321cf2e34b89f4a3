"""The speaker encoder's view of speech (diarization.py's first half): CAM++'s frames over each
stretch of speech, and embeddings of windows pooled from them.

The network runs once over each stretch (in chunks of at most CHUNK_SECONDS, its memory grows
with the length), not once per window: windows overlap, and the relabelling pass pools windows
every tenth of a second, so per window it would run over every frame several times. A window's
embedding pools the frames under it; those frames have also heard a few tenths of a second
around the window, which blurs a change of speaker no more than the window's own length does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .campplus import EMBEDDING_SIZE, fbank
from .constants import SAMPLE_RATE
from .speaker_encoder import get_encoder

FRAME_SECONDS = 0.01  # one filterbank frame every 10 ms; the network's frames are 20 ms
SHIFT_SAMPLES = SAMPLE_RATE // 100
TAIL_SAMPLES = SAMPLE_RATE * 25 // 1000 - SHIFT_SAMPLES  # a frame reads 25 ms from its start
CHUNK_SECONDS = 8.0
# Chunks of a long stretch overlap by this much; each keeps the frames of its own middle.
CHUNK_OVERLAP_SECONDS = 1.0


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


def _pooled_stats(stretch: StretchFrames, windows: list[tuple[int, int]]) -> np.ndarray:
    """(len(windows), 1024): the mean and standard deviation of the stretch's frames under
    each window [first, last) of filterbank frames, from running sums (windows every tenth of
    a second would sum every frame many times); zeros for a window with no frame."""
    frames = stretch.frames.astype(np.float64)
    zero = np.zeros((frames.shape[0], 1))
    total = np.concatenate([zero, np.cumsum(frames, axis=1)], axis=1)
    squares = np.concatenate([zero, np.cumsum(frames * frames, axis=1)], axis=1)
    size = frames.shape[1]
    stats = np.zeros((len(windows), 2 * frames.shape[0]), dtype=np.float64)
    for row, (first, last) in enumerate(windows):
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
        stats[row] = np.concatenate([mean, std])
    return stats


def embed_windows(
    samples: np.ndarray,
    spans: list[tuple[int, int]],
    window_sets: list[tuple[list[tuple[int, int]], list[int]]],
) -> list[np.ndarray]:
    """For each set of (windows [first, last) of filterbank frames, the span each lies in), one
    unit embedding per window. The network runs once over each span and its frames are
    dropped once that span's windows of every set are pooled: memory follows the longest span,
    not the audio."""
    encoder = get_encoder()
    embedded = [
        np.zeros((len(windows), EMBEDDING_SIZE), dtype=np.float32) for windows, _ in window_sets
    ]
    members = [
        {group: [i for i, g in enumerate(groups) if g == group] for group in set(groups)}
        for _, groups in window_sets
    ]
    for group, (first, last) in enumerate(spans):
        if not any(group in found for found in members):
            continue
        stretch = stretch_frames(samples, first, last)
        for (windows, _), found, out in zip(window_sets, members, embedded, strict=True):
            rows = found.get(group, [])
            if rows:
                stats = _pooled_stats(stretch, [windows[i] for i in rows])
                vectors = encoder.dense_layer(stats.astype(np.float32))
                vectors[~stats.any(axis=1)] = 0.0
                out[rows] = vectors
    return [out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12) for out in embedded]


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
