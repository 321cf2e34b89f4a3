"""The accuracy scenario's figures, from a transcript and a conversation's ground truth: how much
of the speech the words cover (speech.coverage), how much speech time the speaker labels give
the right speaker (speech.scoring), segments that end past the audio, live turns whose deltas
join to their transcript. Times here are in seconds; the engine's regions are in samples."""

from speech.chunking import VadSettings
from speech.chunking import speech_regions as vad_regions
from speech.constants import SAMPLE_RATE
from speech.coverage import MIN_UNCOVERED_SECONDS, WORD_SLACK_SECONDS, speech_uncovered
from speech.scoring import speaker_time_match

__all__ = [
    "SAMPLE_RATE",
    "WORD_SLACK_SECONDS",
    "coverage",
    "deltas_joined",
    "diarization_accuracy",
    "segments_past_end",
    "speech_regions",
]
Span = tuple[float, float]


def speech_regions(samples) -> list[Span]:
    """Silero's speech regions in seconds, unpadded and unmerged, with the threshold the
    engine's chunking uses (speech.chunking's, which speech.coverage measures against)."""
    return [(s / SAMPLE_RATE, e / SAMPLE_RATE) for s, e in vad_regions(samples, VadSettings())]


def coverage(regions: list[Span], words: list[dict]) -> tuple[float, list[Span]]:
    """The share of the speech regions' time that the words (each widened by
    WORD_SLACK_SECONDS) cover, from 0 to 1 (1 when there is no speech), and the uncovered
    stretches of at least MIN_UNCOVERED_SECONDS, in order."""
    ranges = [(round(s * SAMPLE_RATE), round(e * SAMPLE_RATE)) for s, e in sorted(regions)]
    total = sum(end - start for start, end in ranges)
    if not total:
        return 1.0, []
    left = speech_uncovered(ranges, words, SAMPLE_RATE)
    missed = [
        (round(s / SAMPLE_RATE, 2), round(e / SAMPLE_RATE, 2))
        for s, e in left
        if e - s >= MIN_UNCOVERED_SECONDS * SAMPLE_RATE
    ]
    return 1.0 - sum(e - s for s, e in left) / total, missed


def diarization_accuracy(
    truth: list[tuple[str, float, float]], labelled: list[tuple[str, float, float]], seconds: float
) -> tuple[float, dict[str, str | None]]:
    """The share of the true speech time (any speaker's turn, overlaps counted once) whose
    label, mapped one to one onto the true speakers in the way that scores best, is the
    speaker's (in an overlap, either speaker's); time with no label counts as wrong. Returns it
    with the mapping (label -> speaker, None: left unmapped). Spans are (speaker, start, end),
    cut to the audio's `seconds`."""

    def spans(items: list[tuple[str, float, float]]) -> list[tuple[float, float, str]]:
        return [(max(0.0, s), min(seconds, e), name) for name, s, e in items]

    if not truth:
        return 1.0, {}
    match = speaker_time_match(spans(truth), spans(labelled), overlaps="once")
    return match.share, match.mapping


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
