"""Cutting long audio into chunks at silences (speech/chunking.py), on the
repository's real recordings: clips joined by silences of known length, and continuous speech
checked against Whisper's own word times."""

import itertools
from functools import cache
from unittest import mock

import numpy as np
import pytest
from faster_whisper import decode_audio
from faster_whisper import vad as silero

import speech as engine
from speech.chunking import SAMPLE_RATE, VadSettings, chunk_bounds
from tests.audio import GERMAN_START, HOTWORDS, JFK, MULTILINGUAL

RATE = SAMPLE_RATE


@cache
def clip(path) -> np.ndarray:
    return decode_audio(str(path), sampling_rate=RATE)


def joined(*parts) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Clips (paths) and silences (seconds) one after another; returns the audio and the
    sample ranges of the inserted silences."""
    pieces, silences, length = [], [], 0
    for part in parts:
        if isinstance(part, int | float):
            piece = np.zeros(int(part * RATE), dtype=np.float32)
            silences.append((length, length + len(piece)))
        else:
            piece = clip(part)
        pieces.append(piece)
        length += len(piece)
    return np.concatenate(pieces), silences


def cuts_of(bounds: list[tuple[int, int]]) -> list[int]:
    return [start for start, _ in bounds[1:]]


def assert_covering(bounds: list[tuple[int, int]], length: int) -> None:
    assert bounds[0][0] == 0
    assert bounds[-1][1] == length
    for (_, end), (start, _) in itertools.pairwise(bounds):
        assert end == start, "ranges are contiguous"
    assert all(start < end for start, end in bounds), "no empty range"


def silence_of(cut: int, silences: list[tuple[int, int]]) -> int:
    """The index of the inserted silence that holds the cut (fails if none does)."""
    holding = [i for i, (start, end) in enumerate(silences) if start < cut < end]
    assert holding, f"cut at {cut / RATE:.2f} s is not in an inserted silence"
    return holding[0]


def seconds(bounds):
    return [((end - start) / RATE) for start, end in bounds]


@pytest.fixture
def vad_calls():
    """Observes the VAD (it still runs)."""
    with mock.patch.object(
        silero, "get_speech_timestamps", wraps=silero.get_speech_timestamps
    ) as spy:
        yield spy


# --- Settings ---------------------------------------------------------------------------------


def test_auto_strategy_gives_the_defaults():
    assert VadSettings.from_strategy({"type": "auto"}) == VadSettings()
    assert VadSettings() == VadSettings(
        threshold=0.5, silence_duration_ms=300, prefix_padding_ms=300
    )


def test_server_vad_takes_its_values_and_openais_defaults_for_the_rest():
    given = {"type": "server_vad", "threshold": 0.7, "silence_duration_ms": 800}
    assert VadSettings.from_strategy(given) == VadSettings(
        threshold=0.7, silence_duration_ms=800, prefix_padding_ms=300
    )
    assert VadSettings.from_strategy({"type": "server_vad"}) == VadSettings(
        threshold=0.5, silence_duration_ms=200, prefix_padding_ms=300
    )


@pytest.mark.parametrize(
    "strategy",
    [
        {"type": "static"},
        {},
        {"type": "server_vad", "min_speech_ms": 10},
        {"type": "server_vad", "threshold": 1.5},
        {"type": "server_vad", "silence_duration_ms": -1},
        {"type": "server_vad", "prefix_padding_ms": 0.5},
    ],
)
def test_bad_strategy_is_refused(strategy):
    with pytest.raises(ValueError):
        VadSettings.from_strategy(strategy)


# --- Short audio ------------------------------------------------------------------------------


def test_short_audio_is_one_chunk_and_runs_no_vad(vad_calls):
    samples = clip(JFK)
    assert chunk_bounds(samples, vad=VadSettings()) == [(0, len(samples))]
    exactly = len(samples) / RATE
    assert chunk_bounds(samples, vad=VadSettings(), max_seconds=exactly) == [(0, len(samples))]
    vad_calls.assert_not_called()


def test_long_audio_runs_the_vad_once(vad_calls):
    samples, _ = joined(JFK, 2.0, JFK, 2.0, JFK)
    chunk_bounds(samples, vad=VadSettings())
    assert vad_calls.call_count == 1


# --- Cuts in known silences -------------------------------------------------------------------


def test_cuts_lie_in_the_inserted_silences_and_chunks_fit_the_limit():
    samples, silences = joined(JFK, 2.0, HOTWORDS, 2.5, JFK, 3.0, HOTWORDS, 2.0, JFK, 1.5, JFK)
    before = samples.copy()
    bounds = chunk_bounds(samples, vad=VadSettings())
    assert_covering(bounds, len(samples))
    assert max(seconds(bounds)) <= 30
    for cut in cuts_of(bounds):
        silence_of(cut, silences)
    assert len(bounds) == 3, "as few chunks as the pauses allow (62 s: 3)"
    assert np.array_equal(samples, before), "the audio is not touched"


def test_the_longest_pause_in_the_window_is_preferred_to_the_latest():
    # In 15-30 s: a 3 s silence at 15.8 s, and 1 s silences at 22.8 s and 27.8 s.
    samples, silences = joined(JFK, 0.8, HOTWORDS, 3.0, HOTWORDS, 1.0, HOTWORDS, 1.0, JFK)
    bounds = chunk_bounds(samples, vad=VadSettings())
    assert_covering(bounds, len(samples))
    assert len(bounds) == 2
    assert silence_of(cuts_of(bounds)[0], silences) == 1


def test_a_pause_shorter_than_silence_duration_holds_no_cut():
    # 0.8 s silences between the clips, and one of 3 s; JFK's own pauses are at most 1.1 s.
    parts = (JFK, 0.8, JFK, 0.8, JFK, 3.0, JFK, 0.8, JFK)
    samples, silences = joined(*parts)
    auto = chunk_bounds(samples, vad=VadSettings())
    assert_covering(auto, len(samples))
    assert [silence_of(cut, silences) for cut in cuts_of(auto)] == [1, 2]
    assert max(seconds(auto)) <= 30

    long_pauses_only = VadSettings.from_strategy(
        {"type": "server_vad", "silence_duration_ms": 2500}
    )
    bounds = chunk_bounds(samples, vad=long_pauses_only)
    assert_covering(bounds, len(samples))
    assert [silence_of(cut, silences) for cut in cuts_of(bounds)] == [2]
    # 34.6 s of speech with no pause of 2.5 s: not cut inside, longer than the limit.
    assert seconds(bounds)[0] > 30


def test_speech_longer_than_the_limit_is_not_cut_inside():
    samples, silences = joined(JFK, 3.0, JFK)
    strict = VadSettings.from_strategy({"type": "server_vad", "silence_duration_ms": 2000})
    bounds = chunk_bounds(samples, vad=strict, max_seconds=5)
    assert_covering(bounds, len(samples))
    assert len(bounds) == 2
    silence_of(cuts_of(bounds)[0], silences)
    assert min(seconds(bounds)) > 5


def test_prefix_padding_keeps_silence_before_the_next_speech():
    samples, silences = joined(JFK, 0.8, HOTWORDS, 3.0, HOTWORDS, 1.0, HOTWORDS, 1.0, JFK)
    start, end = silences[1]  # the 3 s silence holds the cut (see above)
    middle = chunk_bounds(samples, vad=VadSettings())[1][0]
    padded = VadSettings.from_strategy({"type": "server_vad", "prefix_padding_ms": 2000})
    early = chunk_bounds(samples, vad=padded)[1][0]
    assert start < early < middle < end
    # 2 s of silence before the next speech, which starts under 0.3 s into HOTWORDS.
    assert end - early >= 1.7 * RATE
    assert abs(middle - (start + end) / 2) < 0.5 * RATE


# --- Continuous speech ------------------------------------------------------------------------


def quiet(samples, at: float) -> bool:
    """Near silence for 50 ms on each side of `at`: under 1/20 of the reading's speech level
    (its RMS over 100 ms windows of words is 0.03 to 0.1)."""
    around = samples[int((at - 0.05) * RATE) : int((at + 0.05) * RATE)]
    return float(np.sqrt(np.mean(np.square(around)))) < 0.002


# Slow (about 20-30 s, once per module): a real decode of the minute-long reading, English with
# tiny.en and German with base, whose word times every cut test below checks against.
@pytest.fixture(scope="module")
def reading():
    """multilingual.mp3 and its words with their times: the English half with tiny.en, the
    German half (from GERMAN_START, inside a 2 s pause) with base told it is German (one
    language per call: told nothing, Whisper keeps English and translates the German)."""
    samples = clip(MULTILINGUAL)
    half = int(GERMAN_START * RATE)
    english = engine.transcribe(samples[:half], model_id="tiny.en", word_timestamps=True)
    german = engine.transcribe(samples[half:], model_id="base", language="de", word_timestamps=True)
    words = [(w["start"], w["end"]) for w in english.words]
    words += [(w["start"] + GERMAN_START, w["end"] + GERMAN_START) for w in german.words]
    assert len(words) > 100
    return samples, words


@pytest.mark.inference
@pytest.mark.parametrize("vad", [VadSettings(), VadSettings.from_strategy({"type": "server_vad"})])
def test_continuous_speech_is_cut_between_words(reading, vad):
    samples, words = reading
    bounds = chunk_bounds(samples, vad=vad, max_seconds=15)
    assert_covering(bounds, len(samples))
    assert len(bounds) >= 4, "60 s in chunks of about 15 s"
    for cut in cuts_of(bounds):
        at = cut / RATE
        # Whisper's word times are guesses from its attention, and a word's end often runs on
        # into the pause after it (tiny.en's "so" of 25.10-25.92 s holds 0.4 s of silence at
        # 1/300 of speech's level): a cut there is in a pause, which the samples show.
        inside = [(start, end) for start, end in words if start < at < end]
        assert not inside or quiet(samples, at), f"cut at {at:.2f} s is inside a word {inside}"
