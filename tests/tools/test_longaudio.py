"""The long scenario's file: built the same way every time, as long as stated, with its pauses
where the layout puts them, and the clips' reference texts in the same order."""

import itertools

import numpy as np
import pytest
from faster_whisper import decode_audio

from tools import longaudio
from tools.longaudio import CLIPS, SAMPLE_RATE, layout

DURATIONS = {"jfk": 11.0, "hotwords": 4.0, "mit-licence-en": 29.5}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    audio = longaudio.build(tmp_path_factory.mktemp("long"))
    return audio, decode_audio(str(audio.path), sampling_rate=SAMPLE_RATE)


def test_the_layout_cycles_the_clips_with_pauses_of_one_to_three_seconds():
    pieces = layout(DURATIONS, target_seconds=600)

    assert [p.clip for p in pieces[:6]] == [c.name for c in CLIPS] * 2
    pauses = [b.start - a.end for a, b in itertools.pairwise(pieces)]
    assert all(1.0 <= pause <= 3.0 for pause in pauses)
    assert len(set(pauses)) >= 3  # varied, not one fixed gap
    assert pauses[:5] == list(longaudio.PAUSES)
    for piece in pieces:
        assert piece.end - piece.start == pytest.approx(DURATIONS[piece.clip])
    # At least the target, ending with the clip that reached it.
    assert pieces[-1].end >= 600 > pieces[-2].end


def test_the_file_is_about_ten_minutes_and_decodes_to_the_stated_length(built):
    audio, samples = built

    assert 600 <= audio.seconds < 600 + 30 + 3
    assert len(samples) / SAMPLE_RATE == pytest.approx(audio.seconds, abs=0.01)
    assert audio.path.suffix == ".flac"
    assert audio.seconds == pytest.approx(audio.pieces[-1].end, abs=0.001)


def test_the_pauses_are_silent_and_the_clips_are_not(built):
    audio, samples = built

    def rms(start: float, end: float) -> float:
        part = samples[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)]
        return float(np.sqrt(np.mean(part**2)))

    for before, after in itertools.pairwise(audio.pieces):
        assert (
            np.abs(
                samples[round(before.end * SAMPLE_RATE) + 1 : round(after.start * SAMPLE_RATE) - 1]
            ).max()
            < 1e-3
        ), f"pause after {before}"
    for piece in audio.pieces:
        assert rms(piece.start, piece.end) > 0.01, f"speech of {piece}"


def test_the_reference_is_the_clips_texts_in_the_files_order(built):
    audio, _ = built
    texts = {clip.name: clip.reference for clip in CLIPS}

    assert audio.reference == " ".join(texts[piece.clip] for piece in audio.pieces)
    assert audio.reference.startswith(longaudio.JFK.reference + " " + longaudio.HOTWORDS.reference)
    assert len(audio.reference.split()) == sum(
        len(texts[piece.clip].split()) for piece in audio.pieces
    )


def test_building_twice_gives_the_same_audio_and_text(built, tmp_path):
    audio, samples = built
    again = longaudio.build(tmp_path)

    assert again.reference == audio.reference
    assert again.pieces == audio.pieces
    assert np.array_equal(decode_audio(str(again.path), sampling_rate=SAMPLE_RATE), samples)


def test_the_english_part_of_the_multilingual_clip_is_cut_in_its_silence():
    whole = decode_audio(str(longaudio.DATA / "multilingual.mp3"), sampling_rate=SAMPLE_RATE)
    cut = round(longaudio.MIT_ENGLISH.end * SAMPLE_RATE)

    # Silence from 29.2 s to 30.9 s: the last English word ends before, the German starts after.
    assert np.abs(whole[round(29.2 * SAMPLE_RATE) : round(30.9 * SAMPLE_RATE)]).max() < 1e-3
    assert np.abs(whole[round(28.5 * SAMPLE_RATE) : round(29.0 * SAMPLE_RATE)]).max() > 0.05
    assert len(longaudio.clip_samples(longaudio.MIT_ENGLISH)) == cut
