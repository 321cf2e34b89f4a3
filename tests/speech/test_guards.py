"""The guards on real decodes (speech/guards.py, inside speech.transcribe): a clean decode is
left as Whisper gives it, nothing ends after the audio, no text stands over silence, and a
repetition loop is decoded again. Real models on the repository's recordings."""

import numpy as np
import pytest
from faster_whisper import decode_audio

import speech as engine
from speech import SAMPLE_RATE, guards
from tests.audio import JFK, JFK_TEXT, words


@pytest.fixture(scope="module")
def jfk() -> np.ndarray:
    return decode_audio(str(JFK))


def bare(samples: np.ndarray, model_id: str = "tiny.en", **options):
    """What speech.transcribe gave before the guards: faster-whisper with the platform's
    decode settings, at temperature 0 (no sampling, so the same every time)."""
    settings = {**engine.decode_options(**options), "temperature": [0.0]}
    segments, info = engine.get_model(model_id).transcribe(samples, **settings)
    return list(segments), info


def no_retake(start: float, end: float) -> list[guards.Piece]:
    raise AssertionError("jfk.flac does not loop")


def pieces_of(result) -> list[guards.Piece]:
    """A transcript's segments with their words, as the guard sees them."""
    return [
        guards.Piece(
            segment=segment,
            words=[w for w in result.words if segment["start"] <= w["start"] < segment["end"]],
        )
        for segment in result.segments
    ]


@pytest.mark.inference
def test_a_clean_decode_is_left_as_whisper_gives_it(jfk):
    result = engine.transcribe(jfk, model_id="tiny.en", word_timestamps=True)
    segments, _ = bare(jfk, word_timestamps=True)
    assert words(result.text) == words(JFK_TEXT)
    assert [(s["start"], s["end"], s["text"]) for s in result.segments] == [
        (round(s.start, 3), round(s.end, 3), s.text) for s in segments
    ]
    assert len(result.words) == sum(len(s.words) for s in segments)


@pytest.mark.inference
def test_what_lies_after_the_end_of_the_audio_is_cut(jfk):
    """jfk.flac's real transcript held against its first 6 s: what starts later is gone, what
    runs past the end ends there."""
    result = engine.transcribe(jfk, model_id="tiny.en", word_timestamps=True)
    guard = guards.Guard(jfk[: 6 * SAMPLE_RATE], retake=no_retake, tokenizer=None, eot=0)
    kept = [guard.inside(piece) for piece in pieces_of(result)]
    kept = [piece for piece in kept if piece is not None]
    assert kept and len(kept) <= len(result.segments)
    assert all(p.segment["start"] < 6.0 and p.segment["end"] <= 6.0 for p in kept)
    assert all(w["end"] <= 6.0 for p in kept for w in p.words)
    assert any(s["end"] > 6.0 for s in result.segments)  # there was something to cut


@pytest.mark.inference
def test_text_over_silence_is_dropped_and_speech_kept(jfk):
    """jfk.flac's real transcript held against the same audio with its speech after 7 s
    silenced: the VAD hears nothing under the segments there, and all the speech before."""
    result = engine.transcribe(jfk, model_id="tiny.en")
    silenced = jfk.copy()
    silenced[7 * SAMPLE_RATE :] = 0
    guard = guards.Guard(silenced, retake=no_retake, tokenizer=None, eot=0)
    heard = [s for s in result.segments if guard.heard(s)]
    assert heard == [s for s in result.segments if s["start"] < 7.0 - guards.SPEECH_MARGIN]
    assert len(heard) < len(result.segments)
    speaking = guards.Guard(jfk, retake=no_retake, tokenizer=None, eot=0)
    assert all(speaking.heard(s) for s in result.segments)
