"""The OpenAPI description of the OpenAI-compatible endpoints, attached by view extensions so
that the views carry no schema code.

Answers are described by the serializers that render them (api/serializers/responses.py,
transcriptions/representations.py). Two kinds of description are written here: the request
forms (the views validate with serializers shaped for OpenAI's error messages, strings parsed
by hand, `timestamp_granularities[]` read from the raw form, while the schema describes the
wire format); the JSON bodies of the response formats are the serializers that render them
(transcriptions/openai/bodies.py).
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers

from transcriptions.openai import policy as openai_models
from transcriptions.openai.bodies import (
    DiarizedTranscription,
    Transcription,
    VerboseTranscription,
)
from transcriptions.openai.formats import RESPONSE_FORMATS
from transcriptions.representations import JobSerializer

from .serializers import chunking
from .serializers.requests import (
    GRANULARITIES,
    MAX_KEYWORD_LENGTH,
    MAX_KEYWORDS,
    MAX_KNOWN_SPEAKERS,
)
from .serializers.responses import (
    ErrorSerializer,
    JobDeletedSerializer,
    JobPageSerializer,
    ModelListSerializer,
    ModelSerializer,
    UsageListSerializer,
)

AUDIO_TAG = "Audio"
MODELS_TAG = "Models"

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


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


AUDIO_ERRORS = {
    400: _error("Invalid field, unsupported format or undecodable audio."),
    401: _error("Missing, unknown, revoked or expired API key."),
    404: _error("Unknown model (`model_not_found`)."),
    413: _error("The file is over the size limit."),
    429: _error("Rate limit or quota exceeded; see `Retry-After`."),
    500: _error("The engine failed on this audio."),
    503: _error("The queue is full; retry later."),
    504: _error("The transcription did not finish in time."),
}


def _audio_responses(*, streams: bool) -> dict:
    body = PolymorphicProxySerializer(
        component_name="TranscriptionResponse",
        serializers=[Transcription, VerboseTranscription, DiarizedTranscription],
        resource_type_field_name=None,
    )
    responses = {
        (200, "application/json"): OpenApiResponse(
            body,
            description=(
                "`json` (text, usage, and logprobs when asked), `verbose_json` (segments, "
                "words) or `diarized_json` (gpt-4o-transcribe-diarize: segments with speakers)."
            ),
        ),
        (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="`text` or `srt`."),
        (200, "text/vtt"): OpenApiResponse(OpenApiTypes.STR, description="`vtt` (WebVTT)."),
    }
    if streams:
        responses[(200, "text/event-stream")] = OpenApiResponse(
            OpenApiTypes.STR,
            description=(
                "stream=true: `transcript.text.delta` events, then `transcript.text.done`; "
                "with include[]=logprobs each delta carries its tokens' `logprobs` and the done "
                "event all of them."
            ),
        )
    for status, response in AUDIO_ERRORS.items():
        responses[(status, "application/json")] = response
    return responses


class TranscriptionCreateSchema(OpenApiViewExtension):
    target_class = "api.views.audio.TranscriptionCreateApi"

    def view_replacement(self):
        class Documented(self.target_class):
            @extend_schema(
                operation_id="createTranscription",
                summary="Transcribe audio into the input language",
                tags=[AUDIO_TAG],
                request={"multipart/form-data": TranscriptionRequest},
                responses=_audio_responses(streams=True),
            )
            def post(self, request):
                return super().post(request)

        return Documented


class TranslationCreateSchema(OpenApiViewExtension):
    target_class = "api.views.audio.TranslationCreateApi"

    def view_replacement(self):
        class Documented(self.target_class):
            @extend_schema(
                operation_id="createTranslation",
                summary="Translate audio into English",
                tags=[AUDIO_TAG],
                request={"multipart/form-data": TranslationRequest},
                responses=_audio_responses(streams=False),
            )
            def post(self, request):
                return super().post(request)

        return Documented


class ModelListSchema(OpenApiViewExtension):
    target_class = "api.views.models.ModelListApi"

    def view_replacement(self):
        class Documented(self.target_class):
            @extend_schema(
                operation_id="listModels",
                summary="List the speech models",
                tags=[MODELS_TAG],
                responses={200: ModelListSerializer, 401: AUDIO_ERRORS[401]},
            )
            def get(self, request):
                return super().get(request)

        return Documented


class ModelDetailSchema(OpenApiViewExtension):
    target_class = "api.views.models.ModelDetailApi"

    def view_replacement(self):
        class Documented(self.target_class):
            @extend_schema(
                operation_id="retrieveModel",
                summary="Describe one model",
                tags=[MODELS_TAG],
                parameters=[
                    OpenApiParameter(
                        "model_id", str, OpenApiParameter.PATH, description="e.g. whisper-1"
                    )
                ],
                responses={200: ModelSerializer, 401: AUDIO_ERRORS[401], 404: AUDIO_ERRORS[404]},
            )
            def get(self, request, model_id: str):
                return super().get(request, model_id)

        return Documented


# --- Async jobs (POST/GET /v1/audio/jobs, GET/DELETE /v1/audio/jobs/{id}) ----------------------

JOBS_TAG = "Jobs"
JOB_STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"]


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


JOB_ID = OpenApiParameter("job_id", str, OpenApiParameter.PATH, description="e.g. job_3f2a…")


class JobCollectionSchema(OpenApiViewExtension):
    target_class = "api.views.jobs.JobCollectionApi"

    def view_replacement(self):
        class Documented(self.target_class):
            @extend_schema(
                operation_id="createJob",
                summary="Submit audio; answers 202 with the job at once",
                tags=[JOBS_TAG],
                request={"multipart/form-data": JobRequest},
                responses={
                    202: JobSerializer,
                    **{
                        status: response
                        for status, response in AUDIO_ERRORS.items()
                        if status not in (500, 504)
                    },
                },
            )
            def post(self, request):
                return super().post(request)

            @extend_schema(
                operation_id="listJobs",
                summary="The jobs of this key's organization, newest first",
                tags=[JOBS_TAG],
                parameters=[
                    OpenApiParameter("limit", int, description="1 to 100, default 20"),
                    OpenApiParameter("after", str, description="A job id: the page after it"),
                    OpenApiParameter("status", str, enum=JOB_STATUSES),
                ],
                responses={200: JobPageSerializer, 400: AUDIO_ERRORS[400], 401: AUDIO_ERRORS[401]},
            )
            def get(self, request):
                return super().get(request)

        return Documented


class JobDetailSchema(OpenApiViewExtension):
    target_class = "api.views.jobs.JobDetailApi"

    def view_replacement(self):
        not_found = _error("No job with this id in this organization.")

        class Documented(self.target_class):
            @extend_schema(
                operation_id="retrieveJob",
                summary="Status, progress and, when done, the result",
                tags=[JOBS_TAG],
                parameters=[JOB_ID],
                responses={200: JobSerializer, 401: AUDIO_ERRORS[401], 404: not_found},
            )
            def get(self, request, job_id: str):
                return super().get(request, job_id)

            @extend_schema(
                operation_id="deleteJob",
                summary="Cancel the job and delete it with its audio and transcript",
                tags=[JOBS_TAG],
                parameters=[JOB_ID],
                responses={200: JobDeletedSerializer, 401: AUDIO_ERRORS[401], 404: not_found},
            )
            def delete(self, request, job_id: str):
                return super().delete(request, job_id)

        return Documented


# --- The API key; GET /v1/usage --------------------------------------------------------------


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An API key from the dashboard, sent as `Authorization: Bearer sk-...` "
                "(what the OpenAI SDK sends with `api_key=`)."
            ),
        }


class UsageSchema(OpenApiViewExtension):
    target_class = "api.views.usage.UsageApi"

    def view_replacement(self):
        class Documented(self.target_class):
            @extend_schema(
                operation_id="retrieveUsage",
                summary="This organization's usage by day, API key and model, and its quota",
                tags=["Usage"],
                parameters=[
                    OpenApiParameter(
                        "start_date", OpenApiTypes.DATE, description="Default: this month's first"
                    ),
                    OpenApiParameter("end_date", OpenApiTypes.DATE, description="Default: today"),
                ],
                responses={
                    200: UsageListSerializer,
                    400: OpenApiResponse(ErrorSerializer, description="Bad date or date range."),
                    401: OpenApiResponse(
                        ErrorSerializer, description="Missing or invalid API key."
                    ),
                },
            )
            def get(self, request):
                return super().get(request)

        return Documented
