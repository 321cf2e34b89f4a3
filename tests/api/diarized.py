"""The conversation of the diarization tests: two real voices taking turns (JFK, then Allison),
the truth of who speaks when, references of each voice, and the check of a diarized answer."""

import base64
import io
from functools import cache

import numpy as np

from tests.audio import AUDIO_DIR, JFK, encode

RATE = 16000
ALLISON = AUDIO_DIR / "allison.ogg"
DIARIZE = "gpt-4o-transcribe-diarize"
# (speaker, file, start, end) or a pause in seconds: JFK first, then Allison, turn about.
TURNS = (
    ("jfk", JFK, 0.0, 4.0),
    1.0,
    ("allison", ALLISON, 0.0, 6.0),
    1.0,
    ("jfk", JFK, 4.0, 7.6),
    1.0,
    ("allison", ALLISON, 6.0, 12.0),
)
# Other stretches of the same voices, for known_speaker_references[].
REFERENCES = {"jfk": (JFK, 7.6, 11.0), "allison": (ALLISON, 12.0, 19.0)}


@cache
def decoded(path) -> np.ndarray:
    from faster_whisper.audio import decode_audio

    return decode_audio(str(path), sampling_rate=RATE)


@cache
def conversation() -> tuple[bytes, tuple[tuple[float, float, str], ...]]:
    """The WAV and the truth: (start, end, speaker) of each clip."""
    parts, truth, position = [], [], 0.0
    for item in TURNS:
        if isinstance(item, float):
            samples = np.zeros(int(item * RATE), dtype=np.float32)
        else:
            speaker, path, start, end = item
            samples = decoded(path)[int(start * RATE) : int(end * RATE)]
            truth.append((position, position + len(samples) / RATE, speaker))
        parts.append(samples)
        position += len(samples) / RATE
    return encode(np.concatenate(parts)), tuple(truth)


def post(api, path="/v1/audio/transcriptions", *, audio=None, **fields):
    fh = io.BytesIO(audio if audio is not None else conversation()[0])
    fh.name = "conversation.wav"
    data = {"file": fh, "model": DIARIZE, **fields}
    return api.client.post(path, data, format="multipart")


def clip_speaker(segment: dict, truth) -> str | None:
    """The speaker of the clip holding most of the segment, if it holds most of it."""
    length = segment["end"] - segment["start"]
    best, shared = None, 0.0
    for start, end, speaker in truth:
        overlap = min(segment["end"], end) - max(segment["start"], start)
        if overlap > shared:
            best, shared = speaker, overlap
    return best if length > 0 and shared >= 0.6 * length else None


def reference(name: str, *, seconds: float | None = None) -> str:
    path, start, end = REFERENCES[name]
    if seconds is not None:
        end = start + seconds
    wav = encode(decoded(path)[int(start * RATE) : int(end * RATE)])
    return "data:audio/wav;base64," + base64.b64encode(wav).decode()


def assert_diarized(body: dict, names=None) -> None:
    truth = conversation()[1]
    assert set(body) == {"task", "duration", "text", "segments", "usage"}
    assert body["task"] == "transcribe"
    assert body["usage"] == {"type": "duration", "seconds": round(body["duration"] + 0.4999)}
    segments = body["segments"]
    assert segments
    for index, segment in enumerate(segments):
        assert set(segment) == {"type", "id", "start", "end", "text", "speaker"}
        assert segment["type"] == "transcript.text.segment"
        assert segment["id"] == f"seg_{index + 1:03d}"
    assert "my fellow Americans" in body["text"]
    names = names or {"jfk": "A", "allison": "B"}
    letters = list(dict.fromkeys(s["speaker"] for s in segments))
    assert letters == [names["jfk"], names["allison"]]
    judged = [(s, clip_speaker(s, truth)) for s in segments]
    judged = [(s, speaker) for s, speaker in judged if speaker]
    assert {speaker for _, speaker in judged} == {"jfk", "allison"}
    wrong = [s for s, speaker in judged if s["speaker"] != names[speaker]]
    assert not wrong, wrong
