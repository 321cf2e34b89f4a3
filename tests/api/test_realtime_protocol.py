"""The session settings a client's update asks for, in both of OpenAI's shapes, and the
refusals naming the field."""

import pytest

from api.realtime.protocol import (
    ProtocolError,
    SessionSettings,
    beta_session_object,
    session_object,
    session_update,
)
from speech.turns import VadSettings


def test_ga_session_update():
    settings = session_update(
        {
            "type": "session.update",
            "session": {
                "type": "transcription",
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcmu"},
                        "transcription": {"model": "tiny.en", "language": "en", "prompt": "JFK"},
                        "turn_detection": {"type": "server_vad", "silence_duration_ms": 700},
                    }
                },
                "include": ["item.input_audio_transcription.logprobs"],
            },
        },
        SessionSettings(),
    )
    assert settings.audio_format == "audio/pcmu"
    assert settings.vad == VadSettings(silence_duration_ms=700)
    t = settings.transcription
    assert (t.model, t.language, t.prompt, t.logprobs) == ("tiny.en", "en", "JFK", True)
    described = session_object("sess_1", settings)["audio"]["input"]
    assert described["format"] == {"type": "audio/pcmu"}
    assert described["turn_detection"]["silence_duration_ms"] == 700


def test_beta_transcription_session_update_and_null_turn_detection():
    settings = session_update(
        {
            "type": "transcription_session.update",
            "session": {
                "input_audio_format": "g711_alaw",
                "input_audio_transcription": {"model": "whisper-1"},
                "turn_detection": None,
            },
        },
        SessionSettings(),
    )
    assert settings.audio_format == "audio/pcma" and settings.vad is None
    assert beta_session_object("sess_1", settings)["input_audio_format"] == "g711_alaw"


def test_what_an_update_leaves_out_stays():
    first = session_update(
        {"type": "session.update", "session": {"audio": {"input": {"turn_detection": None}}}},
        SessionSettings(),
    )
    second = session_update(
        {
            "type": "session.update",
            "session": {"audio": {"input": {"transcription": {"model": "base"}}}},
        },
        first,
    )
    assert second.vad is None and second.transcription.model == "base"


@pytest.mark.parametrize(
    "audio_input, param, code",
    [
        ({"format": {"type": "audio/wav"}}, "session.audio.input.format.type", "unsupported_value"),
        (
            {"format": {"type": "audio/pcm", "rate": 16000}},
            "session.audio.input.format.rate",
            "unsupported_value",
        ),
        (
            {"turn_detection": {"type": "semantic_vad"}},
            "session.audio.input.turn_detection.type",
            "unsupported_value",
        ),
        (
            {"turn_detection": {"type": "server_vad", "threshold": 2}},
            "session.audio.input.turn_detection.threshold",
            "invalid_value",
        ),
        (
            {"turn_detection": {"type": "server_vad", "silence_duration_ms": "500"}},
            "session.audio.input.turn_detection.silence_duration_ms",
            "invalid_value",
        ),
        (
            {"transcription": {"model": 3}},
            "session.audio.input.transcription.model",
            "invalid_type",
        ),
    ],
)
def test_refusals_name_the_field(audio_input, param, code):
    with pytest.raises(ProtocolError) as refused:
        session_update(
            {"type": "session.update", "session": {"audio": {"input": audio_input}}},
            SessionSettings(),
        )
    assert (refused.value.param, refused.value.code) == (param, code)
