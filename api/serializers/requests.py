"""Validation of /v1/audio requests, with OpenAI's messages and codes."""

import base64
import binascii
import io
from typing import Any

from rest_framework import serializers

from speech import audio
from speech.languages import LANGUAGES
from transcriptions.errors import InvalidAudio
from transcriptions.openai import policy as openai_models
from transcriptions.openai.formats import RESPONSE_FORMATS

from .chunking import AUTO, MSG_BOTH, PARAM, bracketed_parts, chunking_strategy_parse
from .messages import (
    DATA_URL,
    GRANULARITIES,
    KNOWN_FIELDS,
    LIST_FIELDS,
    MAX_KEYWORD_LENGTH,
    MAX_KEYWORDS,
    MAX_KNOWN_SPEAKERS,
    MSG_ASYNC_STREAM,
    MSG_CALLBACK_URL,
    MSG_FORMAT,
    MSG_GRANULARITY_FORMAT,
    MSG_GRANULARITY_VALUE,
    MSG_INCLUDE_VALUE,
    MSG_KEYWORD_LENGTH,
    MSG_KEYWORDS_COUNT,
    MSG_KNOWN_COUNT,
    MSG_KNOWN_MISMATCH,
    MSG_KNOWN_MODEL,
    MSG_KNOWN_NAME,
    MSG_LANGUAGE,
    MSG_LOGPROBS_FORMAT,
    MSG_LOGPROBS_MODEL,
    MSG_MISSING,
    MSG_MODEL_FORMATS,
    MSG_PROMPT_MODEL,
    MSG_REFERENCE_AUDIO,
    MSG_REFERENCE_LENGTH,
    MSG_REFERENCE_URL,
    MSG_STREAM,
    MSG_STREAM_FORMAT,
    MSG_TASK,
    MSG_TEMPERATURE_MAX,
    MSG_TEMPERATURE_MIN,
    MSG_TEMPERATURE_TYPE,
    REFERENCE_SECONDS,
)


def _one_of(values: tuple[str, ...]) -> str:
    """ "'json' or 'text'", "'json', 'text', or 'diarized_json'" (OpenAI's lists)."""
    quoted = [f"'{value}'" for value in values]
    if len(quoted) <= 2:
        return " or ".join(quoted)
    return ", ".join(quoted[:-1]) + ", or " + quoted[-1]


def reference_check(value: str, index: int) -> bytes:
    """A speaker reference's data URL as the audio file it holds, once its packets measure
    2-10 s. Only probed (demuxed), never decoded: the worker running the job decodes and
    embeds it, after the file was probed and its seconds reserved."""
    match = DATA_URL.match(value.strip())
    if match is None:
        raise _error(MSG_REFERENCE_URL.format(index=index), "invalid_value")
    try:
        raw = base64.b64decode(match["data"], validate=False)
    except (binascii.Error, ValueError):
        raise _error(MSG_REFERENCE_URL.format(index=index), "invalid_value") from None
    low, high = REFERENCE_SECONDS
    try:
        info = audio.probe(io.BytesIO(raw), filename="", size=len(raw), stop_after=high + 0.05)
    except InvalidAudio:
        raise _error(MSG_REFERENCE_AUDIO.format(index=index), "invalid_value") from None
    if info.truncated or not low - 0.05 <= info.duration <= high + 0.05:
        raise _error(MSG_REFERENCE_LENGTH.format(index=index), "invalid_value")
    return raw


def _list_field() -> serializers.ListField:
    # Blank values are kept here, and dropped (or refused) by the field's validate_ method:
    # a DRF "This field may not be blank." is not OpenAI's wording.
    return serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        required=False,
        default=list,
    )


def _given(values: list[str]) -> list[str]:
    """A list field's values; one empty part alone is nothing chosen (what a form such as
    Swagger UI's "Try it out" sends for a list left empty), not a blank value to refuse."""
    return [] if values == [""] else values


def _error(message: str, code: str) -> serializers.ValidationError:
    return serializers.ValidationError(message, code=code)


class AudioRequestSerializer(serializers.Serializer):
    """Fields shared by transcriptions and translations.

    Field order is the order in which problems are reported (the first one wins).
    """

    file = serializers.FileField(
        allow_empty_file=True,  # an empty upload gets the audio check's clearer message
        error_messages={
            "required": MSG_MISSING.format(field="file"),
            "invalid": "The 'file' parameter must be a file upload (multipart/form-data).",
            "no_name": "The uploaded file has no name.",
        },
    )
    model = serializers.CharField(
        max_length=64,
        error_messages={
            "required": MSG_MISSING.format(field="model"),
            "blank": MSG_MISSING.format(field="model"),
        },
    )
    prompt = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    response_format = serializers.CharField(required=False, default="json")
    temperature = serializers.CharField(required=False, default="0")

    # diarized_json is a transcription's (translations keep OpenAI's five formats).
    takes_diarized_json = False

    def validate_response_format(self, value: str) -> str:
        value = value or "json"
        if value not in RESPONSE_FORMATS or (
            value == openai_models.DIARIZED_JSON and not self.takes_diarized_json
        ):
            raise _error(MSG_FORMAT.format(value=value), "unsupported_value")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        formats = openai_models.response_formats(attrs.get("model", ""))
        if attrs["response_format"] not in formats:
            message = MSG_MODEL_FORMATS.format(
                value=attrs["response_format"], model=attrs["model"], formats=_one_of(formats)
            )
            raise serializers.ValidationError(
                {"response_format": [message]}, code="unsupported_value"
            )
        return attrs

    def validate_temperature(self, value: str) -> float:
        try:
            temperature = float(value) if value != "" else 0.0
        except ValueError:
            raise _error(MSG_TEMPERATURE_TYPE, "invalid_type") from None
        if temperature != temperature:  # NaN
            raise _error(MSG_TEMPERATURE_TYPE, "invalid_type")
        if temperature > 1:
            raise _error(MSG_TEMPERATURE_MAX.format(value=value), "decimal_above_max_value")
        if temperature < 0:
            raise _error(MSG_TEMPERATURE_MIN.format(value=value), "decimal_below_min_value")
        return temperature


class ChunkingStrategyField(serializers.Field):
    """`chunking_strategy`: "auto", a JSON object, or the form's chunking_strategy[...] fields
    (gathered by the serializer), as the normalized dict of chunking_strategy_parse."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("default", lambda: {"type": AUTO})
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        return chunking_strategy_parse(data)

    def to_representation(self, value: Any) -> Any:
        return value


class TranscriptionRequestSerializer(AudioRequestSerializer):
    takes_diarized_json = True
    language = serializers.CharField(required=False, allow_blank=True, max_length=16)
    # Candidate languages: detection picks the likeliest of them (once per job).
    languages = _list_field()
    timestamp_granularities = serializers.ListField(
        child=serializers.CharField(), required=False, default=list
    )
    include = _list_field()
    # Words or phrases the decoder is primed with (faster-whisper's hotwords).
    keywords = _list_field()
    stream = serializers.CharField(required=False, default="false")
    chunking_strategy = ChunkingStrategyField()
    # gpt-4o-transcribe-diarize: names, and their voices as data URLs (the audio they hold).
    known_speaker_names = _list_field()
    known_speaker_references = _list_field()

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # The SDK sends `timestamp_granularities[]`, `include[]`, ... (one part per value), as
        # OpenAI expects.
        if hasattr(data, "getlist"):
            lists = {
                name: _given(data.getlist(f"{name}[]") or data.getlist(name))
                for name in LIST_FIELDS
            }
            data = {key: data.get(key) for key in data}
            data.update(lists)
        # ... and a `chunking_strategy` object as chunking_strategy[type], [threshold], ...
        if isinstance(data, dict):
            parts = bracketed_parts(data)
            if parts:
                if data.get(PARAM) not in (None, ""):
                    raise serializers.ValidationError({PARAM: [MSG_BOTH]}, code="invalid_value")
                data = {**data, PARAM: parts}
        return super().to_internal_value(data)

    def validate_language(self, value: str) -> str:
        value = (value or "").strip().lower()
        if value and value not in LANGUAGES:
            raise _error(MSG_LANGUAGE.format(value=value), "invalid_language_format")
        return value

    def validate_languages(self, values: list[str]) -> list[str]:
        codes = []
        for value in values:
            code = value.strip().lower()
            if code and code not in LANGUAGES:
                raise _error(MSG_LANGUAGE.format(value=code), "invalid_language_format")
            if code:
                codes.append(code)
        return list(dict.fromkeys(codes))

    def validate_include(self, values: list[str]) -> list[str]:
        for value in values:
            if value not in openai_models.INCLUDE_VALUES:
                raise _error(MSG_INCLUDE_VALUE.format(value=value), "unsupported_value")
        return list(dict.fromkeys(values))

    def validate_keywords(self, values: list[str]) -> list[str]:
        keywords = [value.strip() for value in values]
        for index, keyword in enumerate(keywords):
            if len(keyword) > MAX_KEYWORD_LENGTH:
                message = MSG_KEYWORD_LENGTH.format(
                    index=index, limit=MAX_KEYWORD_LENGTH, length=len(keyword)
                )
                raise _error(message, "string_above_max_length")
        keywords = list(dict.fromkeys(k for k in keywords if k))
        if len(keywords) > MAX_KEYWORDS:
            message = MSG_KEYWORDS_COUNT.format(limit=MAX_KEYWORDS, count=len(keywords))
            raise _error(message, "array_above_max_length")
        return keywords

    def validate_known_speaker_names(self, values: list[str]) -> list[str]:
        if len(values) > MAX_KNOWN_SPEAKERS:
            message = MSG_KNOWN_COUNT.format(
                field="known_speaker_names", limit=MAX_KNOWN_SPEAKERS, count=len(values)
            )
            raise _error(message, "array_above_max_length")
        names = [value.strip() for value in values]
        for index, name in enumerate(names):
            if not name:
                raise _error(MSG_KNOWN_NAME.format(index=index), "invalid_value")
        return names

    def validate_known_speaker_references(self, values: list[str]) -> list[Any]:
        if len(values) > MAX_KNOWN_SPEAKERS:
            message = MSG_KNOWN_COUNT.format(
                field="known_speaker_references", limit=MAX_KNOWN_SPEAKERS, count=len(values)
            )
            raise _error(message, "array_above_max_length")
        return values  # checked in validate(), once the model is known to take them

    def _known_speakers_check(self, attrs: dict[str, Any]) -> None:
        names = attrs.get("known_speaker_names") or []
        references = attrs.get("known_speaker_references") or []
        given = [field for field in KNOWN_FIELDS if attrs.get(field)]
        if given and not openai_models.diarizes(attrs["model"]):
            raise serializers.ValidationError(
                {given[0]: [MSG_KNOWN_MODEL.format(field=given[0])]},
                code="unsupported_parameter",
            )
        if len(names) != len(references):
            message = MSG_KNOWN_MISMATCH.format(names=len(names), references=len(references))
            raise serializers.ValidationError(
                {"known_speaker_references": [message]}, code="invalid_value"
            )
        try:
            attrs["known_speaker_references"] = [
                reference_check(value, index) for index, value in enumerate(references)
            ]
        except serializers.ValidationError as exc:
            raise serializers.ValidationError(
                {"known_speaker_references": exc.detail}, code="invalid_value"
            ) from None

    def validate_timestamp_granularities(self, values: list[str]) -> list[str]:
        for value in values:
            if value not in GRANULARITIES:
                raise _error(MSG_GRANULARITY_VALUE.format(value=value), "unsupported_value")
        return list(dict.fromkeys(values))

    def validate_stream(self, value: str) -> bool:
        lowered = (value or "false").strip().lower()
        if lowered not in {"true", "false", "1", "0"}:
            raise _error(MSG_STREAM, "invalid_type")
        return lowered in {"true", "1"}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        self._known_speakers_check(attrs)
        if attrs.get("prompt") and openai_models.diarizes(attrs["model"]):
            raise serializers.ValidationError(
                {"prompt": [MSG_PROMPT_MODEL]}, code="unsupported_parameter"
            )
        if openai_models.LOGPROBS in attrs.get("include", ()):
            if not openai_models.supports_logprobs(attrs["model"]):
                raise serializers.ValidationError(
                    {"include": [MSG_LOGPROBS_MODEL]}, code="unsupported_value"
                )
            if attrs["response_format"] != "json":
                message = MSG_LOGPROBS_FORMAT.format(value=attrs["response_format"])
                raise serializers.ValidationError({"include": [message]}, code="unsupported_value")
        if attrs.get("timestamp_granularities") and attrs["response_format"] != "verbose_json":
            raise serializers.ValidationError(
                {"timestamp_granularities[]": MSG_GRANULARITY_FORMAT}, code="invalid_value"
            )
        # diarized_json streams too (its model's only, checked above): segment events.
        if attrs.get("stream") and attrs["response_format"] not in (
            "json",
            "text",
            openai_models.DIARIZED_JSON,
        ):
            raise serializers.ValidationError({"stream": MSG_STREAM_FORMAT}, code="invalid_value")
        return attrs


class JobRequestSerializer(TranscriptionRequestSerializer):
    """POST /v1/audio/jobs: the transcription fields plus `task` and `callback_url`."""

    task = serializers.CharField(required=False, default="transcribe")
    callback_url = serializers.URLField(
        required=False,
        allow_blank=True,
        max_length=2000,
        error_messages={"invalid": MSG_CALLBACK_URL},
    )

    def validate_task(self, value: str) -> str:
        if value not in ("transcribe", "translate"):
            raise _error(MSG_TASK.format(value=value), "unsupported_value")
        return value

    def validate_callback_url(self, value: str) -> str:
        if value and not value.lower().startswith(("http://", "https://")):
            raise _error(MSG_CALLBACK_URL, "invalid_value")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("stream"):
            raise serializers.ValidationError({"stream": MSG_ASYNC_STREAM}, code="invalid_value")
        return super().validate(attrs)


class JobListQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)
    after = serializers.CharField(required=False, allow_blank=True)
    status = serializers.ChoiceField(
        required=False,
        choices=["queued", "running", "succeeded", "failed", "cancelled"],
    )
