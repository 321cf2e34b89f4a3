"""The Realtime API's transcription session as OpenAI shapes it (openai-python
`types/realtime/`): the session object we describe, the settings a client's `session.update`
(or the older `transcription_session.update`) asks for, and the server events we send for
a live session's events (live.events).

A client may send either shape of the update:
- `session.update` with `{"type": "transcription", "audio": {"input": {"format": {"type":
  "audio/pcm", "rate": 24000}, "transcription": {"model", "language", "prompt"},
  "turn_detection": {"type": "server_vad", ...} | null}}, "include": [...]}`;
- `transcription_session.update` with `{"input_audio_format": "pcm16" | "g711_ulaw" |
  "g711_alaw", "input_audio_transcription": {...}, "turn_detection": ..., "include": [...]}`,
  answered `transcription_session.updated`.
"""

from dataclasses import replace
from typing import Any

from live.events import (
    Committed,
    Completed,
    Delta,
    Event,
    SessionSettings,
    SpeechStarted,
    SpeechStopped,
    TurnFailed,
    TurnRefused,
    new_id,
)
from live.services.turn_jobs import LiveTranscription
from speech.turns import VadSettings
from transcriptions.openai.formats import usage

from ..errors import to_api_error

LOGPROBS = "item.input_audio_transcription.logprobs"
# The older (beta) format names.
BETA_FORMATS = {"pcm16": "audio/pcm", "g711_ulaw": "audio/pcmu", "g711_alaw": "audio/pcma"}
FORMATS = ("audio/pcm", "audio/pcmu", "audio/pcma")

MSG_BAD_FORMAT = (
    "Invalid value for '{param}': '{value}'. Supported values are: 'audio/pcm' (24 kHz), "
    "'audio/pcmu' and 'audio/pcma'."
)
MSG_BAD_RATE = "Invalid value for '{param}': {value}. 'audio/pcm' is 24000 Hz only."
MSG_BAD_TURN_DETECTION = (
    "Invalid value for '{param}': '{value}'. Supported values are: 'server_vad' or null."
)
MSG_BAD_NUMBER = "Invalid value for '{param}': {value}. Expected {expected}."
MSG_BAD_INCLUDE = f"Invalid value for '{{param}}': '{{value}}'. Supported values are: '{LOGPROBS}'."
MSG_NOT_OBJECT = "Invalid type for '{param}': expected an object."


class ProtocolError(Exception):
    """A client event we cannot act on: answered with an `error` event (invalid_request_error)."""

    def __init__(self, message: str, *, code: str = "invalid_value", param: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param


def _object(value: Any, param: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProtocolError(MSG_NOT_OBJECT.format(param=param), code="invalid_type", param=param)
    return value


def _number(value: Any, param: str, *, low: float, high: float, integer: bool) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and integer:
        ok = float(value).is_integer()
    if not ok or not low <= value <= high:
        kind = "an integer" if integer else "a number"
        raise ProtocolError(
            MSG_BAD_NUMBER.format(
                param=param, value=value, expected=f"{kind} from {low:g} to {high:g}"
            ),
            param=param,
        )
    return int(value) if integer else float(value)


def _vad(value: Any, param: str, current: VadSettings | None) -> VadSettings | None:
    if value is None:
        return None
    value = _object(value, param)
    if value.get("type") != "server_vad":
        raise ProtocolError(
            MSG_BAD_TURN_DETECTION.format(param=f"{param}.type", value=value.get("type")),
            code="unsupported_value",
            param=f"{param}.type",
        )
    base = VadSettings()
    fields = {}
    if value.get("threshold") is not None:
        fields["threshold"] = _number(
            value["threshold"], f"{param}.threshold", low=0.0, high=1.0, integer=False
        )
    for name, high in (("prefix_padding_ms", 5000), ("silence_duration_ms", 10000)):
        if value.get(name) is not None:
            fields[name] = _number(value[name], f"{param}.{name}", low=0, high=high, integer=True)
    del current  # a new turn_detection object replaces the old one, as on OpenAI
    return replace(base, **fields)


def _format(value: Any, param: str) -> str:
    if isinstance(value, str):  # the beta names, or a bare type
        name = BETA_FORMATS.get(value, value)
        rate = None
    else:
        value = _object(value, param)
        name, rate = value.get("type", "audio/pcm"), value.get("rate")
        param = f"{param}.type"
    if name not in FORMATS:
        raise ProtocolError(
            MSG_BAD_FORMAT.format(param=param, value=name), code="unsupported_value", param=param
        )
    if name == "audio/pcm" and rate not in (None, 24000):
        rate_param = param.removesuffix(".type") + ".rate"
        raise ProtocolError(
            MSG_BAD_RATE.format(param=rate_param, value=rate),
            code="unsupported_value",
            param=rate_param,
        )
    return name


def _transcription(value: Any, param: str, current: LiveTranscription) -> LiveTranscription:
    value = _object(value, param)
    fields = {}
    for name in ("model", "language", "prompt"):
        if name in value:
            if value[name] is not None and not isinstance(value[name], str):
                raise ProtocolError(
                    f"Invalid type for '{param}.{name}': expected a string.",
                    code="invalid_type",
                    param=f"{param}.{name}",
                )
            fields[name] = value[name] or ("whisper-1" if name == "model" else "")
    return replace(current, **fields)


def _logprobs(value: Any, param: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, list):
        raise ProtocolError(f"Invalid type for '{param}': expected an array.", param=param)
    for item in value:
        if item != LOGPROBS:
            raise ProtocolError(
                MSG_BAD_INCLUDE.format(param=param, value=item),
                code="unsupported_value",
                param=param,
            )
    return bool(value)


def session_update(event: dict, current: SessionSettings) -> SessionSettings:
    """The settings a `session.update` / `transcription_session.update` asks for (what it
    leaves out stays as it was); ProtocolError names the first bad field."""
    session = _object(event.get("session"), "session")
    settings = current
    transcription = current.transcription
    if event.get("type") == "transcription_session.update" or "input_audio_format" in session:
        if "input_audio_format" in session:
            settings = replace(
                settings,
                audio_format=_format(session["input_audio_format"], "session.input_audio_format"),
            )
        if "input_audio_transcription" in session:
            transcription = _transcription(
                session["input_audio_transcription"],
                "session.input_audio_transcription",
                transcription,
            )
        if "turn_detection" in session:
            settings = replace(
                settings,
                vad=_vad(session["turn_detection"], "session.turn_detection", settings.vad),
            )
    else:
        audio_input = _object(
            _object(session.get("audio"), "session.audio").get("input"), "session.audio.input"
        )
        if "format" in audio_input:
            settings = replace(
                settings, audio_format=_format(audio_input["format"], "session.audio.input.format")
            )
        if "transcription" in audio_input:
            transcription = _transcription(
                audio_input["transcription"], "session.audio.input.transcription", transcription
            )
        if "turn_detection" in audio_input:
            settings = replace(
                settings,
                vad=_vad(
                    audio_input["turn_detection"],
                    "session.audio.input.turn_detection",
                    settings.vad,
                ),
            )
    if "include" in session:
        transcription = replace(
            transcription, logprobs=_logprobs(session["include"], "session.include")
        )
    return replace(settings, transcription=transcription)


def _turn_detection(vad: VadSettings | None) -> dict | None:
    if vad is None:
        return None
    return {
        "type": "server_vad",
        "threshold": vad.threshold,
        "prefix_padding_ms": vad.prefix_padding_ms,
        "silence_duration_ms": vad.silence_duration_ms,
    }


def session_object(session_id: str, settings: SessionSettings) -> dict:
    """The session as `session.created` / `session.updated` describe it (GA shape)."""
    transcription = settings.transcription
    audio_format: dict[str, Any] = {"type": settings.audio_format}
    if settings.audio_format == "audio/pcm":
        audio_format["rate"] = 24000
    return {
        "type": "transcription",
        "id": session_id,
        "object": "realtime.transcription_session",
        "audio": {
            "input": {
                "format": audio_format,
                "transcription": {
                    "model": transcription.model,
                    "language": transcription.language or None,
                    "prompt": transcription.prompt,
                },
                "turn_detection": _turn_detection(settings.vad),
                "noise_reduction": None,
            }
        },
        "include": [LOGPROBS] if transcription.logprobs else [],
    }


def beta_session_object(session_id: str, settings: SessionSettings) -> dict:
    """The same for `transcription_session.updated` (the beta shape)."""
    names = {value: key for key, value in BETA_FORMATS.items()}
    transcription = settings.transcription
    return {
        "id": session_id,
        "object": "realtime.transcription_session",
        "input_audio_format": names[settings.audio_format],
        "input_audio_transcription": {
            "model": transcription.model,
            "language": transcription.language or None,
            "prompt": transcription.prompt,
        },
        "turn_detection": _turn_detection(settings.vad),
        "include": [LOGPROBS] if transcription.logprobs else [],
    }


def error_event(
    message: str,
    *,
    type: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    event_id: str | None = None,
) -> dict:
    """OpenAI's `error` server event; `event_id` in the error is the client event's."""
    return {
        "type": "error",
        "event_id": new_id("event"),
        "error": {
            "type": type,
            "code": code,
            "message": message,
            "param": param,
            "event_id": event_id,
        },
    }


ITEM_EVENT = "conversation.item.input_audio_transcription."


def _failed(item_id: str, error: Exception) -> dict:
    return {
        "type": ITEM_EVENT + "failed",
        "item_id": item_id,
        "content_index": 0,
        "error": to_api_error(error).as_dict()["error"],
    }


def server_events(event: Event) -> list[dict]:
    """The server events that tell a client a live session's `event`."""
    match event:
        case SpeechStarted(item_id=item_id, audio_start_ms=start):
            return [
                {
                    "type": "input_audio_buffer.speech_started",
                    "audio_start_ms": start,
                    "item_id": item_id,
                }
            ]
        case SpeechStopped(item_id=item_id, audio_end_ms=end):
            return [
                {
                    "type": "input_audio_buffer.speech_stopped",
                    "audio_end_ms": end,
                    "item_id": item_id,
                }
            ]
        case Committed(item_id=item_id, previous_item_id=previous):
            return [
                {
                    "type": "input_audio_buffer.committed",
                    "previous_item_id": previous,
                    "item_id": item_id,
                }
            ]
        case Delta(item_id=item_id, text=text, logprobs=logprobs):
            delta: dict[str, Any] = {
                "type": ITEM_EVENT + "delta",
                "item_id": item_id,
                "content_index": 0,
                "delta": text,
            }
            if logprobs is not None:
                delta["logprobs"] = logprobs
            return [delta]
        case Completed(item_id=item_id, transcript=transcript, seconds=seconds):
            completed: dict[str, Any] = {
                "type": ITEM_EVENT + "completed",
                "item_id": item_id,
                "content_index": 0,
                "transcript": transcript,
                "usage": usage(seconds),
            }
            if event.logprobs is not None:
                completed["logprobs"] = event.logprobs
            return [completed]
        case TurnFailed(item_id=item_id, error=error):
            return [_failed(item_id, error)]
        case TurnRefused(item_id=item_id, error=error):
            # OpenAI's `error` for the refusal, then the turn's `failed`.
            api_error = to_api_error(error)
            return [
                error_event(api_error.message, type=api_error.type, code=api_error.code),
                _failed(item_id, error),
            ]
    raise TypeError(f"not a live session's event: {event!r}")
