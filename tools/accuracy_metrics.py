"""The accuracy scenario's figures, from a transcript and a conversation's ground truth: how much
of the speech the words cover, how much speech time the speaker labels give the right speaker,
segments that end past the audio, live turns whose deltas join to their transcript."""

import itertools

import numpy as np

SAMPLE_RATE = 16_000
# Word timestamps come from cross-attention and miss a word's edges by up to about this much:
# speech this close to a word counts as covered.
WORD_SLACK_SECONDS = 0.2
VAD_THRESHOLD = 0.5  # Silero's, as the engine's chunking uses it
STEP = 0.01  # seconds: the grid speaker time is counted on
# The best mapping of labels to speakers is searched exhaustively; labels past this many (by
# speech time) are left unmapped, i.e. wrong.
MAX_LABELS = 8

Span = tuple[float, float]


def speech_regions(samples: np.ndarray) -> list[Span]:
    """Silero's speech regions in seconds, unpadded and unmerged: faster-whisper's bundled VAD,
    with the threshold the engine's chunking uses."""
    from faster_whisper import vad as silero

    options = silero.VadOptions(
        threshold=VAD_THRESHOLD,
        min_speech_duration_ms=0,
        min_silence_duration_ms=0,
        speech_pad_ms=0,
    )
    regions = silero.get_speech_timestamps(samples, options, sampling_rate=SAMPLE_RATE)
    return [(r["start"] / SAMPLE_RATE, r["end"] / SAMPLE_RATE) for r in regions]


def _merged(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _overlap(a: list[Span], b: list[Span]) -> float:
    """Seconds where two sets of disjoint sorted spans overlap."""
    total, j = 0.0, 0
    for start, end in a:
        while j < len(b) and b[j][1] <= start:
            j += 1
        k = j
        while k < len(b) and b[k][0] < end:
            total += max(0.0, min(end, b[k][1]) - max(start, b[k][0]))
            k += 1
    return total


def coverage(regions: list[Span], words: list[dict]) -> tuple[float, list[Span]]:
    """The share of the speech regions' time that the words (each widened by
    WORD_SLACK_SECONDS) cover, from 0 to 1 (1 when there is no speech), and the uncovered
    stretches of at least 0.5 s, in order."""
    regions = _merged(regions)
    spans = _merged(
        [(max(0.0, w["start"] - WORD_SLACK_SECONDS), w["end"] + WORD_SLACK_SECONDS) for w in words]
    )
    total = sum(end - start for start, end in regions)
    if not total:
        return 1.0, []
    covered = _overlap(regions, spans)
    gaps, at = [], 0.0
    for start, end in [*spans, (float("inf"), float("inf"))]:
        gaps.append((at, start))
        at = end
    missed = [
        (round(max(s, gs), 2), round(min(e, ge), 2))
        for gs, ge in gaps
        for s, e in regions
        if min(e, ge) - max(s, gs) >= 0.5
    ]
    return covered / total, missed


def _grid(spans: list[tuple[str, float, float]], frames: int) -> dict[str, np.ndarray]:
    """Per label, a boolean per STEP frame: does one of its spans hold the frame's middle."""
    grids: dict[str, np.ndarray] = {}
    middles = (np.arange(frames) + 0.5) * STEP
    for label, start, end in spans:
        grid = grids.setdefault(label, np.zeros(frames, dtype=bool))
        grid |= (middles >= start) & (middles < end)
    return grids


def diarization_accuracy(
    truth: list[tuple[str, float, float]], labelled: list[tuple[str, float, float]], seconds: float
) -> tuple[float, dict[str, str | None]]:
    """The share of the true speech time (any speaker's turn, overlaps counted once) whose
    label, mapped one to one onto the true speakers in the way that scores best, is the
    speaker's (in an overlap, either speaker's); time with no label counts as wrong. Returns it
    with the mapping (label -> speaker, None: left unmapped)."""
    frames = int(np.ceil(seconds / STEP))
    speakers = _grid(truth, frames)
    labels = _grid(labelled, frames)
    speech = np.any(list(speakers.values()), axis=0) if speakers else np.zeros(frames, bool)
    total = int(speech.sum())
    if not total:
        return 1.0, {}
    # A frame in two labels' segments goes to the first label (segments should not overlap).
    owner = np.full(frames, -1)
    names = sorted(labels, key=lambda label: -int(labels[label].sum()))
    for index, label in reversed(list(enumerate(names))):
        owner[labels[label]] = index
    mapped_names = names[:MAX_LABELS]
    people = sorted(speakers)
    score = np.array(
        [
            [int((speakers[p] & (owner == i)).sum()) for p in people]
            for i in range(len(mapped_names))
        ]
    ).reshape(len(mapped_names), len(people))
    slots = max(len(mapped_names), len(people))
    best, best_mapping = -1, ()
    for mapping in itertools.permutations(range(slots), len(mapped_names)):
        value = sum(score[i, p] for i, p in enumerate(mapping) if p < len(people))
        if value > best:
            best, best_mapping = value, mapping
    result: dict[str, str | None] = dict.fromkeys(names)
    for i, p in enumerate(best_mapping):
        result[mapped_names[i]] = people[p] if p < len(people) else None
    return max(best, 0) / total, result


def segments_past_end(segments: list[dict], seconds: float) -> int:
    """Segments (or words) whose end lies past the audio's (to the millisecond)."""
    return sum(1 for s in segments if round(s["end"], 3) > round(seconds, 3))


def deltas_joined(events: list[dict]) -> tuple[int, int, list[dict]]:
    """(live turns whose deltas, joined, are the completed transcript exactly; turns completed;
    the others' joined deltas and transcript), from a realtime session's events in order."""
    deltas: dict[str, list[str]] = {}
    joined = completed = 0
    others = []
    for event in events:
        kind = event.get("type", "")
        if kind == "conversation.item.input_audio_transcription.delta":
            deltas.setdefault(event["item_id"], []).append(event.get("delta", ""))
        elif kind == "conversation.item.input_audio_transcription.completed":
            completed += 1
            text = "".join(deltas.get(event["item_id"], []))
            if text == event["transcript"]:
                joined += 1
            else:
                others.append({"deltas": text, "transcript": event["transcript"]})
    return joined, completed, others
