"""Word ends moved to where the speech ends (speech/word_times.py), and a lone stretch of speech
too short for a gap's rule still decoded again (speech/coverage.py): the rules, on words and
speech regions written out (the real decodes they apply to are in test_every_word.py and the
benchmark's accuracy scenario)."""

import numpy as np

from speech import coverage
from speech.chunking import SAMPLE_RATE, VadSettings
from speech.decoding import TranscriptionResult
from speech.word_times import word_ends_at_speech

RATE = SAMPLE_RATE


def word(text: str, start: float, end: float) -> dict:
    return {"word": text, "start": start, "end": end, "probability": 0.9}


def result(words: list[dict], segments: list[tuple[float, float]]) -> TranscriptionResult:
    return TranscriptionResult(
        language="en",
        duration=10.0,
        text="",
        segments=[{"start": s, "end": e, "text": "", "tokens": []} for s, e in segments],
        words=words,
    )


def regions(*spans: tuple[float, float]) -> list[tuple[int, int]]:
    return [(int(start * RATE), int(end * RATE)) for start, end in spans]


def test_the_last_word_of_a_stretch_ends_where_its_speech_does():
    """ "conference." ended at 2.50 s, the voice at 2.91 s; the next word starts after it."""
    words = [word(" the", 1.9, 2.08), word(" conference.", 2.08, 2.5), word(" He", 3.22, 3.76)]
    moved = word_ends_at_speech(
        result(words, [(0.0, 2.5), (3.2, 4.0)]), regions((0.64, 2.91), (3.68, 4.45))
    )
    # "He" ends 0.69 s before its speech does: more likely words left out than its tail.
    assert [w["end"] for w in moved.words] == [2.08, 2.91, 3.76]
    assert [s["end"] for s in moved.segments] == [2.91, 4.0]
    assert [w["word"] for w in moved.words] == [w["word"] for w in words]
    assert words[1]["end"] == 2.5  # the result given is left as it was


def test_a_word_followed_in_its_stretch_or_far_from_its_end_is_left_alone():
    words = [word(" one", 1.0, 1.3), word(" two", 1.4, 1.6), word(" three", 2.0, 2.2)]
    kept = result(words, [(1.0, 2.2)])
    # "one" is followed within its stretch; "two" ends 0.9 s before the speech does (more
    # likely a word left out than its tail); "three" ends outside any speech.
    assert word_ends_at_speech(kept, regions((0.9, 2.5))).words[:2] == words[:2]
    assert word_ends_at_speech(kept, regions((0.9, 1.7))) is not kept  # "two" moves to 1.7
    assert word_ends_at_speech(kept, regions((3.0, 4.0))) is kept


def test_a_word_never_ends_past_the_next_segments_start():
    words = [word(" yes.", 1.0, 1.4), word(" No", 1.8, 2.0)]
    moved = word_ends_at_speech(result(words, [(1.0, 1.5), (1.6, 2.0)]), regions((0.9, 1.75)))
    assert moved.words[0]["end"] == 1.6
    assert moved.segments[0]["end"] == 1.6


def test_a_lone_stretch_of_speech_no_word_comes_near_is_decoded_again_however_short():
    """Two-voices' second "five": 0.32 s of speech of its own, a gap's 0.5 s rule let it go."""
    samples = np.zeros(10 * RATE, np.float32)
    words = [word(" Five.", 6.46, 7.02), word(" The", 8.06, 8.52)]
    speech = regions((6.82, 7.2), (7.42, 7.74), (8.38, 9.0))
    [(start, end)] = coverage.uncovered_stretches(samples, words, vad=VadSettings(), regions=speech)
    assert 7.02 * RATE <= start <= 7.42 * RATE and 7.74 * RATE <= end <= 8.06 * RATE
    # Shorter than Silero's shortest speech, or near a word: left alone.
    assert not coverage.uncovered_stretches(
        samples, words, vad=VadSettings(), regions=regions((6.82, 7.2), (7.42, 7.6))
    )
    assert not coverage.uncovered_stretches(
        samples, words, vad=VadSettings(), regions=regions((7.1, 7.5))
    )
