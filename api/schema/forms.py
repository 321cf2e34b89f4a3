"""The request forms of the OpenAPI description, as the wire carries them.

The views validate with serializers shaped for OpenAI's error messages (api/serializers/
requests.py: strings parsed by hand, `timestamp_granularities[]` read from the raw form); these
describe the multipart forms as clients send them, with valid examples for Swagger UI.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from transcriptions.openai import policy as openai_models
from transcriptions.openai.formats import RESPONSE_FORMATS

from ..serializers import chunking
from ..serializers.messages import (
    GRANULARITIES,
    MAX_KEYWORD_LENGTH,
    MAX_KEYWORDS,
    MAX_KNOWN_SPEAKERS,
)

# Swagger UI's "Try it out" fills each form field with an example built from the schema:
# "string" for a string (an unknown model, an invalid language: a 400), one item for an array
# (`timestamp_granularities[]` without verbose_json, `include[]=logprobs` with whisper-1: 400s).
# These examples make a try-out with only a file valid: `whisper-1`, English, and the optional
# fields empty (an empty field is not sent).
REQUEST_COMPONENTS = ("TranscriptionRequest", "TranslationRequest", "JobRequest")
REQUEST_EXAMPLES = {
    "model": "whisper-1",
    "language": "en",
    "prompt": "",
    "callback_url": "",
    "chunking_strategy": "auto",
}


def request_examples(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook (settings.SPECTACULAR_SETTINGS): valid examples for
    the multipart request forms (REQUEST_EXAMPLES), and no item in their arrays."""
    schemas = result.get("components", {}).get("schemas", {})
    for name in REQUEST_COMPONENTS:
        for field, prop in schemas.get(name, {}).get("properties", {}).items():
            if field in REQUEST_EXAMPLES:
                prop["example"] = REQUEST_EXAMPLES[field]
            elif prop.get("type") == "array":
                prop["example"] = []
    return result


@extend_schema_field({"type": "string", "format": "binary"})
class UploadField(serializers.FileField):
    """A multipart file part."""


VAD_CONFIG = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type"],
    "properties": {
        "type": {"type": "string", "enum": [chunking.SERVER_VAD]},
        "prefix_padding_ms": {
            "type": "integer",
            "minimum": chunking.MS_MIN,
            "maximum": chunking.MS_MAX,
            "default": chunking.PREFIX_PADDING_MS_DEFAULT,
            "description": "Audio kept before the speech VAD detected (milliseconds).",
        },
        "silence_duration_ms": {
            "type": "integer",
            "minimum": chunking.MS_MIN,
            "maximum": chunking.MS_MAX,
            "default": chunking.SILENCE_DURATION_MS_DEFAULT,
            "description": "Silence that ends speech (milliseconds).",
        },
        "threshold": {
            "type": "number",
            "minimum": chunking.THRESHOLD_MIN,
            "maximum": chunking.THRESHOLD_MAX,
            "default": chunking.THRESHOLD_DEFAULT,
            "description": "VAD sensitivity: higher needs louder audio.",
        },
    },
}


@extend_schema_field(
    {
        "oneOf": [{"type": "string", "enum": [chunking.AUTO]}, VAD_CONFIG],
        "default": chunking.AUTO,
    }
)
class ChunkingStrategyField(serializers.Field):
    """OpenAI's `chunking_strategy`: "auto" or a `server_vad` object."""


def chunking_strategy_field() -> ChunkingStrategyField:
    return ChunkingStrategyField(
        required=False,
        help_text=(
            "How long audio is cut into chunks (at silences, found by voice activity "
            "detection). `auto` (the default here: unlike OpenAI, where unset means one "
            "block) or a `server_vad` object, sent as a JSON string or, as the openai SDK "
            "does, as `chunking_strategy[type]`, `chunking_strategy[threshold]`, ... fields. "
            "Transcriptions and jobs only."
        ),
    )


class TranslationRequest(serializers.Serializer):
    file = UploadField(
        help_text="flac, mp3, mp4, mpeg, mpga, m4a, ogg, oga, wav or webm (detected from content)."
    )
    model = serializers.CharField(
        help_text=(
            "An id from GET /v1/models; `whisper-1` works. `gpt-4o-transcribe` and "
            "`gpt-4o-mini-transcribe` answer only in json and text, as OpenAI's do; "
            "`gpt-4o-transcribe-diarize` in json, text and diarized_json (with speakers)."
        )
    )
    prompt = serializers.CharField(required=False, help_text="Vocabulary or style to follow.")
    response_format = serializers.ChoiceField(choices=RESPONSE_FORMATS, default="json")
    temperature = serializers.FloatField(
        min_value=0, max_value=1, default=0, help_text="0: Whisper's fallback ladder."
    )


class TranscriptionRequest(TranslationRequest):
    language = serializers.CharField(required=False, help_text="ISO-639-1 code, e.g. `en`.")
    stream = serializers.BooleanField(
        default=False, help_text="Server-Sent Events (json and text formats only)."
    )
    chunking_strategy = chunking_strategy_field()

    def get_fields(self) -> dict:
        fields = super().get_fields()
        # The form field's name has the brackets, as the OpenAI SDK sends it.
        fields["timestamp_granularities[]"] = serializers.ListField(
            child=serializers.ChoiceField(choices=GRANULARITIES),
            required=False,
            help_text="`word` and/or `segment`; only with response_format=verbose_json.",
        )
        fields.update(newer_fields())
        return fields


def newer_fields() -> dict:
    """OpenAI's `include[]`, `keywords[]` and `languages[]`, named as the SDK sends them."""
    return {
        "include[]": serializers.ListField(
            child=serializers.ChoiceField(choices=openai_models.INCLUDE_VALUES),
            required=False,
            help_text=(
                "`logprobs`: the transcript's tokens with their log probabilities (only with "
                "gpt-4o-transcribe and gpt-4o-mini-transcribe, response_format json; also on "
                "stream events). Per Whisper token, scored by the model's own decoder."
            ),
        ),
        "keywords[]": serializers.ListField(
            child=serializers.CharField(max_length=MAX_KEYWORD_LENGTH),
            required=False,
            max_length=MAX_KEYWORDS,
            help_text=(
                "Words or phrases to guide the transcription (any model): the decoder is "
                "primed with them (faster-whisper's hotwords), so names and jargon come out "
                "spelled as given."
            ),
        ),
        "known_speaker_names[]": serializers.ListField(
            child=serializers.CharField(),
            required=False,
            max_length=MAX_KNOWN_SPEAKERS,
            help_text=(
                "gpt-4o-transcribe-diarize only: up to 4 names (e.g. `agent`, `customer`) for "
                "the voices in `known_speaker_references[]`, one per reference. A speaker whose "
                "voice matches one is labelled with its name; the others A, B, ..."
            ),
        ),
        "known_speaker_references[]": serializers.ListField(
            child=serializers.CharField(),
            required=False,
            max_length=MAX_KNOWN_SPEAKERS,
            help_text=(
                "gpt-4o-transcribe-diarize only: a data URL (`data:audio/wav;base64,...`) of "
                "2-10 s of each known speaker, in any format `file` takes."
            ),
        ),
        "languages[]": serializers.ListField(
            child=serializers.CharField(),
            required=False,
            help_text=(
                "Possible languages (ISO-639-1): language detection picks the likeliest of "
                "them, once per file, and the whole file is transcribed in it. `language`, "
                "when given, wins."
            ),
        ),
    }


class JobRequest(TranslationRequest):
    task = serializers.ChoiceField(choices=["transcribe", "translate"], default="transcribe")
    language = serializers.CharField(required=False, help_text="ISO-639-1 code (transcribe).")
    callback_url = serializers.URLField(
        required=False,
        help_text="POSTed the job when it ends, signed with HMAC-SHA256; retried with backoff.",
    )
    chunking_strategy = chunking_strategy_field()

    def get_fields(self) -> dict:
        fields = super().get_fields()
        fields["timestamp_granularities[]"] = serializers.ListField(
            child=serializers.ChoiceField(choices=GRANULARITIES), required=False
        )
        fields.update(newer_fields())
        return fields
