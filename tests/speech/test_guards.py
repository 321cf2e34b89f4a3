"""The guards on real decodes (speech/guards.py, inside speech.transcribe): a clean decode is
left as Whisper gives it, nothing ends after the audio, no text stands over silence, and a
repetition loop is decoded again. Real models on the repository's recordings."""

import numpy as np
import pytest
from faster_whisper import decode_audio

import speech as engine
from speech import SAMPLE_RATE, guards
from speech.windows import encoder_window, window_seconds_for
from tests.audio import HOTWORDS, JFK, JFK_TEXT, MULTILINGUAL, words


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


@pytest.fixture(scope="module")
def comfy_turn() -> np.ndarray:
    """The first 2 s of hotwords.mp3: in a live turn's 10 s encoder window, base writes
    "Then you go into your comfufufu..." until the window is full."""
    return decode_audio(str(HOTWORDS))[: 2 * SAMPLE_RATE]


@pytest.mark.inference
def test_a_live_turns_loop_is_decoded_again(comfy_turn):
    window = window_seconds_for(2.0)
    with encoder_window(window):
        looping, _ = bare(comfy_turn, "base")
    assert guards.loop_end("".join(s.text for s in looping)) is not None  # what it was
    for quick in (False, True):  # the turn's own decode, and a preview's
        result = engine.transcribe(comfy_turn, model_id="base", window_seconds=window, quick=quick)
        assert guards.loop_end(result.text) is None, result.text
        assert words(result.text)[:5] == ["then", "you", "go", "into", "your"]
        assert len(words(result.text)) < 12
        assert all(s["end"] <= result.duration for s in result.segments)


@pytest.mark.inference
def test_a_retaken_segment_keeps_its_words_and_logprobs_together(comfy_turn):
    result = engine.transcribe(
        comfy_turn, model_id="base", window_seconds=10, word_timestamps=True, logprobs=True
    )
    assert guards.loop_end(result.text) is None
    assert len(result.logprobs) == engine.output_token_count(
        model_id="base", segments=result.segments
    )
    assert (
        "".join(bytes(entry["bytes"]).decode() for entry in result.logprobs).strip() == result.text
    )
    assert [w["word"] for w in result.words] == result.text.split()
    assert all(w["end"] <= result.duration for w in result.words)


@pytest.mark.inference
def test_timestamps_past_the_end_of_a_turn_end_with_it():
    """2 s of multilingual.mp3 from 10 s in, in a 10 s window: tiny.en ends its segment at 7 s."""
    turn = decode_audio(str(MULTILINGUAL))[10 * SAMPLE_RATE : 12 * SAMPLE_RATE]
    with encoder_window(10):
        segments, _ = bare(turn, language="en")
    assert segments[-1].end > 2.0  # what it was
    result = engine.transcribe(turn, model_id="tiny.en", language="en", window_seconds=10)
    assert words(result.text) == words("".join(s.text for s in segments))
    assert result.segments[-1]["end"] == result.duration == 2.0


@pytest.mark.inference
def test_no_text_over_noise():
    """8 s of low white noise: tiny.en hears something in it (a YouTube farewell on one CPU,
    a row of dots on another: its numbers differ by instruction set), the VAD no speech. Of
    four noises, the first the bare engine gives text for gives none through the platform."""
    for seed in range(4):
        rng = np.random.default_rng(seed)
        noise = (rng.standard_normal(8 * SAMPLE_RATE) * 0.01).astype(np.float32)
        segments, _ = bare(noise)
        if "".join(s.text for s in segments).strip():
            break
    else:
        raise AssertionError("tiny.en heard nothing in any of the noises: the test tests nothing")
    result = engine.transcribe(noise, model_id="tiny.en")
    assert result.text == "" and result.segments == []
