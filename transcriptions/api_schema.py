"""The OpenAPI description of the OpenAI-compatible endpoints.

The views validate with serializers shaped for OpenAI's error messages (strings parsed by
hand, `timestamp_granularities[]` read from the raw form); the schema describes the wire
format instead, with these documentation-only serializers attached by view extensions, so the
views themselves carry no schema code.
"""

from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers

from .formats import RESPONSE_FORMATS
from .serializers import GRANULARITIES

AUDIO_TAG = "Audio"
MODELS_TAG = "Models"


class UsageDoc(serializers.Serializer):
    type = serializers.ChoiceField(choices=["duration"])
    seconds = serializers.IntegerField(help_text="Audio seconds billed: the duration rounded up.")


class TranscriptionDoc(serializers.Serializer):
    text = serializers.CharField()
    usage = UsageDoc()


class SegmentDoc(serializers.Serializer):
    id = serializers.IntegerField()
    seek = serializers.IntegerField()
    start = serializers.FloatField()
    end = serializers.FloatField()
    text = serializers.CharField()
    tokens = serializers.ListField(child=serializers.IntegerField())
    temperature = serializers.FloatField()
    avg_logprob = serializers.FloatField()
    compression_ratio = serializers.FloatField()
    no_speech_prob = serializers.FloatField()


class WordDoc(serializers.Serializer):
    word = serializers.CharField()
    start = serializers.FloatField()
    end = serializers.FloatField()


class VerboseTranscriptionDoc(serializers.Serializer):
    task = serializers.ChoiceField(choices=["transcribe", "translate"])
    language = serializers.CharField(help_text='Full lower-case name, e.g. "english".')
    duration = serializers.FloatField()
    text = serializers.CharField()
    segments = SegmentDoc(many=True, required=False)
    words = WordDoc(many=True, required=False)
    usage = UsageDoc()


class ErrorDetailDoc(serializers.Serializer):
    message = serializers.CharField()
    type = serializers.CharField(help_text="e.g. invalid_request_error, server_error")
    param = serializers.CharField(allow_null=True)
    code = serializers.CharField(allow_null=True)


class ErrorDoc(serializers.Serializer):
    error = ErrorDetailDoc()


class ModelDoc(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.ChoiceField(choices=["model"])
    created = serializers.IntegerField()
    owned_by = serializers.CharField()


class ModelListDoc(serializers.Serializer):
    object = serializers.ChoiceField(choices=["list"])
    data = ModelDoc(many=True)


class TranslationRequestDoc(serializers.Serializer):
    file = serializers.FileField(
        help_text="flac, mp3, mp4, mpeg, mpga, m4a, ogg, oga, wav or webm (detected from content)."
    )
    model = serializers.CharField(help_text="An id from GET /v1/models; `whisper-1` works.")
    prompt = serializers.CharField(required=False, help_text="Vocabulary or style to follow.")
    response_format = serializers.ChoiceField(choices=RESPONSE_FORMATS, default="json")
    temperature = serializers.FloatField(
        min_value=0, max_value=1, default=0, help_text="0: Whisper's fallback ladder."
    )


class TranscriptionRequestDoc(TranslationRequestDoc):
    language = serializers.CharField(required=False, help_text="ISO-639-1 code, e.g. `en`.")
    stream = serializers.BooleanField(
        default=False, help_text="Server-Sent Events (json and text formats only)."
    )

    def get_fields(self) -> dict:
        fields = super().get_fields()
        # The form field's name has the brackets, as the OpenAI SDK sends it.
        fields["timestamp_granularities[]"] = serializers.ListField(
            child=serializers.ChoiceField(choices=GRANULARITIES),
            required=False,
            help_text="`word` and/or `segment`; only with response_format=verbose_json.",
        )
        return fields


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorDoc, description=description)


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
        serializers=[TranscriptionDoc, VerboseTranscriptionDoc],
        resource_type_field_name=None,
    )
    responses = {
        (200, "application/json"): OpenApiResponse(
            body, description="`json` (text and usage) or `verbose_json` (segments, words)."
        ),
        (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="`text` or `srt`."),
        (200, "text/vtt"): OpenApiResponse(OpenApiTypes.STR, description="`vtt` (WebVTT)."),
    }
    if streams:
        responses[(200, "text/event-stream")] = OpenApiResponse(
            OpenApiTypes.STR,
            description="stream=true: `transcript.text.delta` events, then `transcript.text.done`.",
        )
    for status, response in AUDIO_ERRORS.items():
        responses[(status, "application/json")] = response
    return responses


class TranscriptionCreateSchema(OpenApiViewExtension):
    target_class = "transcriptions.views.TranscriptionCreateApi"

    def view_replacement(self):
        class Documented(self.target_class):
            @extend_schema(
                operation_id="createTranscription",
                summary="Transcribe audio into the input language",
                tags=[AUDIO_TAG],
                request={"multipart/form-data": TranscriptionRequestDoc},
                responses=_audio_responses(streams=True),
            )
            def post(self, request):
                return super().post(request)

        return Documented


class TranslationCreateSchema(OpenApiViewExtension):
    target_class = "transcriptions.views.TranslationCreateApi"

    def view_replacement(self):
        class Documented(self.target_class):
            @extend_schema(
                operation_id="createTranslation",
                summary="Translate audio into English",
                tags=[AUDIO_TAG],
                request={"multipart/form-data": TranslationRequestDoc},
                responses=_audio_responses(streams=False),
            )
            def post(self, request):
                return super().post(request)

        return Documented


class ModelListSchema(OpenApiViewExtension):
    target_class = "transcriptions.views.ModelListApi"

    def view_replacement(self):
        class Documented(self.target_class):
            @extend_schema(
                operation_id="listModels",
                summary="List the speech models",
                tags=[MODELS_TAG],
                responses={200: ModelListDoc, 401: AUDIO_ERRORS[401]},
            )
            def get(self, request):
                return super().get(request)

        return Documented


class ModelDetailSchema(OpenApiViewExtension):
    target_class = "transcriptions.views.ModelDetailApi"

    def view_replacement(self):
        class Documented(self.target_class):
            @extend_schema(
                operation_id="retrieveModel",
                summary="Describe one model",
                tags=[MODELS_TAG],
                parameters=[
                    OpenApiParameter("model_id", str, OpenApiParameter.PATH, description="e.g. whisper-1")
                ],
                responses={200: ModelDoc, 401: AUDIO_ERRORS[401], 404: AUDIO_ERRORS[404]},
            )
            def get(self, request, model_id: str):
                return super().get(request, model_id)

        return Documented
