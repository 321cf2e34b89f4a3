"""The response bodies of OpenAI's six formats, built in one place from a stored result (the
JSON ones by the serializers in bodies.py, which also document them)."""

import json
import math
from typing import Any

from billing.rounding import billed_seconds
from speech.languages import language_name

from . import policy as openai_models
from .bodies import DiarizedTranscription, Transcription, VerboseTranscription

RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt", "diarized_json")
# The formats whose body is a JSON object.
JSON_FORMATS = ("json", "verbose_json", "diarized_json")

CONTENT_TYPES = {
    "json": "application/json",
    "verbose_json": "application/json",
    "diarized_json": "application/json",
    "text": "text/plain; charset=utf-8",
    "srt": "text/plain; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
}


# Whisper's encoder reads audio in 20 ms positions (1500 for a 30 s window): the count of a
# file's audio tokens, for the model ids whose usage counts tokens.
AUDIO_TOKENS_PER_SECOND = 50


def usage(duration: float) -> dict[str, Any]:
    return {"type": "duration", "seconds": billed_seconds(duration)}


def usage_of(result: dict[str, Any], *, requested_model: str = "") -> dict[str, Any]:
    """A result's `usage` as OpenAI reports it for the model id asked for: tokens for the
    gpt-4o-transcribe ids (openai-python `UsageTokens`), else the duration. Either way the
    platform bills the audio seconds, which the tokens shape carries too (`seconds`)."""
    if not openai_models.reports_tokens(requested_model) or "output_tokens" not in result:
        # (A job that ended before the platform counted tokens keeps the usage it was given.)
        return usage(result["duration"])
    audio = math.ceil(result["duration"] * AUDIO_TOKENS_PER_SECOND)
    text, output = result["text_tokens"], result["output_tokens"]
    return {
        "type": "tokens",
        "input_tokens": audio + text,
        "input_token_details": {"text_tokens": text, "audio_tokens": audio},
        "output_tokens": output,
        "total_tokens": audio + text + output,
        "seconds": billed_seconds(result["duration"]),
    }


def timestamp(seconds: float, *, separator: str) -> str:
    """`HH:MM:SS,mmm` for SRT (separator ",") and `HH:MM:SS.mmm` for WebVTT (".")."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def cue_text(segment: dict[str, Any]) -> str:
    """A subtitle's text; a diarized transcript's segments say who speaks ("A: ...")."""
    text = segment["text"].strip()
    if segment.get("speaker"):
        return f"{segment['speaker']}: {text}"
    return text


def to_srt(segments: list[dict[str, Any]]) -> str:
    blocks = []
    for number, seg in enumerate(segments, start=1):
        start = timestamp(seg["start"], separator=",")
        end = timestamp(seg["end"], separator=",")
        blocks.append(f"{number}\n{start} --> {end}\n{cue_text(seg)}\n")
    return "\n".join(blocks) + ("\n" if blocks else "")


def to_vtt(segments: list[dict[str, Any]]) -> str:
    blocks = ["WEBVTT\n"]
    for seg in segments:
        start = timestamp(seg["start"], separator=".")
        end = timestamp(seg["end"], separator=".")
        blocks.append(f"{start} --> {end}\n{cue_text(seg)}\n")
    return "\n".join(blocks) + "\n"


def verbose_json(
    result: dict[str, Any], *, task: str, granularities: list[str] | None
) -> dict[str, Any]:
    granularities = granularities or ["segment"]
    body: dict[str, Any] = {
        "task": task,
        "language": language_name(result["language"]),
        "duration": result["duration"],
        "text": result["text"],
    }
    if "segment" in granularities:
        body["segments"] = result["segments"]
    if "word" in granularities:
        body["words"] = result.get("words") or []
    body["usage"] = usage(result["duration"])
    return VerboseTranscription(body).data


def segment_id(index: int) -> str:
    """A diarized segment's id, as OpenAI's reference shows them ("seg_001", from 1)."""
    return f"seg_{index + 1:03d}"


def diarized_json(result: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's `diarized_json` (openai-python `TranscriptionDiarized`): the segments with
    their speaker ("A", "B", ... by first appearance, or a known speaker's name)."""
    segments = [
        {
            "type": "transcript.text.segment",
            "id": segment_id(index),
            "start": segment["start"],
            "end": segment["end"],
            "text": segment["text"].strip(),
            "speaker": segment.get("speaker") or "A",
        }
        for index, segment in enumerate(result["segments"])
    ]
    body = {
        "task": "transcribe",
        "duration": result["duration"],
        "text": result["text"],
        "segments": segments,
        "usage": usage(result["duration"]),
    }
    return DiarizedTranscription(body).data


def render(
    result: dict[str, Any],
    *,
    response_format: str,
    task: str = "transcribe",
    granularities: list[str] | None = None,
    include: list[str] | None = None,
    requested_model: str = "",
) -> tuple[str, str]:
    """(body, content type) of a finished result in the requested format; `include`
    (["logprobs"]) adds the tokens' log probabilities to a json body; `requested_model`
    (the id the client named) decides the shape of its `usage`."""
    if response_format == "json":
        fields: dict[str, Any] = {"text": result["text"]}
        if "logprobs" in (include or ()):
            fields["logprobs"] = result.get("logprobs") or []
        fields["usage"] = usage_of(result, requested_model=requested_model)
        body = json.dumps(Transcription(fields).data)
    elif response_format == "verbose_json":
        body = json.dumps(verbose_json(result, task=task, granularities=granularities))
    elif response_format == "diarized_json":
        body = json.dumps(diarized_json(result))
    elif response_format == "text":
        body = result["text"] + "\n"
    elif response_format == "srt":
        body = to_srt(result["segments"])
    elif response_format == "vtt":
        body = to_vtt(result["segments"])
    else:  # validated before the job was created
        raise ValueError(f"unknown response_format {response_format!r}")
    return body, CONTENT_TYPES[response_format]
