"""The diarization engine on quick conversations of three real voices at different loudness:
turns of 1-5 s, one speaker who says only about 1.5 s and is still a speaker of their own, and
the share of speech time given to the right speaker (speech.scoring) at least 90 %."""

from functools import cache

import numpy as np
import pytest

from speech import diarization
from speech.diarization import diarize, label_segments
from speech.scoring import speaker_time_accuracy
from tests.audio import AUDIO_DIR, GERMAN_START, HOTWORDS, JFK, MULTILINGUAL

RATE = 16000
ALLISON = AUDIO_DIR / "allison.ogg"
JUNE = AUDIO_DIR / "june.ogg"
GERMAN = GERMAN_START + 0.5  # the German reader's first words in multilingual.mp3

# (speaker, file, start, end, gain in dB) or a pause in seconds. The short speaker's one turn
# is 1.5 s of speech, 10 dB below the loudest voice.
SHORT_JFK = (
    ("reader", MULTILINGUAL, 0.0, 4.0, 0.0),
    0.5,
    ("allison", ALLISON, 0.0, 3.0, -6.0),
    0.4,
    ("reader", MULTILINGUAL, 4.0, 6.5, 0.0),
    0.6,
    ("jfk", JFK, 0.2, 1.7, -10.0),
    0.5,
    ("allison", ALLISON, 3.0, 7.5, -6.0),
    0.4,
    ("reader", MULTILINGUAL, 6.5, 9.0, 0.0),
    0.5,
    ("allison", ALLISON, 7.5, 8.7, -6.0),
    0.5,
    ("reader", MULTILINGUAL, 9.0, 13.0, 0.0),
)
# The short turn of hotwords.mp3's speaker among June's and the German reader's.
SHORT_HOTWORDS = (
    ("leser", MULTILINGUAL, GERMAN, GERMAN + 4.4, -8.5),
    0.6,
    ("june", JUNE, 0.0, 4.8, 0.0),
    0.5,
    ("leser", MULTILINGUAL, GERMAN + 4.4, GERMAN + 6.8, -8.5),
    0.7,
    ("june", JUNE, 4.8, 8.8, 0.0),
    0.4,
    ("hotwords", HOTWORDS, 0.1, 1.6, -10.0),
    0.6,
    ("june", JUNE, 8.8, 10.0, 0.0),
    0.5,
    ("leser", MULTILINGUAL, GERMAN + 6.8, GERMAN + 11.5, -8.5),
    0.3,
    ("june", JUNE, 10.0, 13.0, 0.0),
)


@cache
def decoded(path) -> np.ndarray:
    from faster_whisper.audio import decode_audio

    return decode_audio(str(path), sampling_rate=RATE)


@cache
def conversation(parts) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """The samples and the truth: (start, end, speaker) of each clip."""
    pieces, truth, position = [], [], 0.0
    for item in parts:
        if isinstance(item, float):
            samples = np.zeros(int(item * RATE), dtype=np.float32)
        else:
            speaker, path, start, end, gain = item
            samples = decoded(path)[int(start * RATE) : int(end * RATE)] * 10 ** (gain / 20)
            truth.append((position, position + len(samples) / RATE, speaker))
        pieces.append(samples.astype(np.float32))
        position += len(samples) / RATE
    return np.concatenate(pieces), truth


def speech_turns(parts) -> list[tuple[float, float, str]]:
    """The truth's speech: Silero's regions inside each clip, with the clip's speaker."""
    samples, truth = conversation(parts)
    regions = diarization._speech_regions(samples)
    return [
        (max(s, start), min(e, end), speaker)
        for start, end, speaker in truth
        for s, e in regions
        if min(e, end) > max(s, start)
    ]


@pytest.mark.inference
@pytest.mark.parametrize(("parts", "short"), [(SHORT_JFK, "jfk"), (SHORT_HOTWORDS, "hotwords")])
def test_a_short_speaker_is_a_speaker(parts, short):
    samples, truth = conversation(parts)
    turns = diarize(samples)
    assert speaker_time_accuracy(speech_turns(parts), turns) >= 0.9
    labels = label_segments([{"start": s, "end": e} for s, e, _ in truth], turns)
    theirs = {label for label, (_, _, who) in zip(labels, truth, strict=True) if who == short}
    others = {label for label, (_, _, who) in zip(labels, truth, strict=True) if who != short}
    assert len(theirs) == 1
    assert not theirs & others
    assert len({t.speaker for t in turns}) == 3


# Turns of 2-2.5 s after pauses longer than BRIDGE_SECONDS: each transcript segment is its own
# stretch of speech.
APART = (
    ("reader", MULTILINGUAL, 0.0, 2.5, 0.0),
    1.8,
    ("allison", ALLISON, 0.0, 2.2, -6.0),
    1.8,
    ("reader", MULTILINGUAL, 2.5, 4.5, 0.0),
    1.8,
    ("allison", ALLISON, 3.0, 5.2, -6.0),
)


@pytest.mark.inference
def test_a_segment_cut_inside_the_voice_still_labels_the_whole_turn():
    """Whisper's segments start and end with their first and last words' times, which can lie
    a few tenths of a second inside the voice: Silero's regions they meet are labelled whole,
    not cut at the segments' edges (which left 0.76 of the speech labelled here)."""
    samples, truth = conversation(APART)
    inside = [(start + 0.3, end - 0.3) for start, end, _ in truth]
    turns = diarize(samples, regions=inside)
    assert speaker_time_accuracy(speech_turns(APART), turns) >= 0.9
    assert len({t.speaker for t in turns}) == 2
