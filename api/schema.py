"""The OpenAPI description of the OpenAI-compatible endpoints.

The views validate with serializers shaped for OpenAI's error messages (strings parsed by
hand, `timestamp_granularities[]` read from the raw form); the schema describes the wire
format instead, with these documentation-only serializers (named as the schema's components) attached by view extensions, so the
views themselves carry no schema code.
"""

from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers

from transcriptions.engine.formats import RESPONSE_FORMATS

from .serializers.requests import GRANULARITIES

AUDIO_TAG = "Audio"
MODELS_TAG = "Models"


def constant(value: str) -> serializers.Field:
    """A field that always holds `value` (OpenAI's `object` tags)."""

    @extend_schema_field({"type": "string", "default": value, "description": f"Always `{value}`."})
    class Constant(serializers.CharField):
        pass

    return Constant()


class Usage(serializers.Serializer):
    type = serializers.ChoiceField(choices=["duration"])
    seconds = serializers.IntegerField(help_text="Audio seconds billed: the duration rounded up.")


class Transcription(serializers.Serializer):
    text = serializers.CharField()
    usage = Usage()


class Segment(serializers.Serializer):
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


class Word(serializers.Serializer):
    word = serializers.CharField()
    start = serializers.FloatField()
    end = serializers.FloatField()


class VerboseTranscription(serializers.Serializer):
    task = serializers.ChoiceField(choices=["transcribe", "translate"])
    language = serializers.CharField(help_text='Full lower-case name, e.g. "english".')
    duration = serializers.FloatField()
    text = serializers.CharField()
    segments = Segment(many=True, required=False)
    words = Word(many=True, required=False)
    usage = Usage()


class ErrorDetail(serializers.Serializer):
    message = serializers.CharField()
    type = serializers.CharField(help_text="e.g. invalid_request_error, server_error")
    param = serializers.CharField(allow_null=True)
    code = serializers.CharField(allow_null=True)


class Error(serializers.Serializer):
    error = ErrorDetail()


class Model(serializers.Serializer):
    id = serializers.CharField()
    object = constant("model")
    created = serializers.IntegerField()
    owned_by = serializers.CharField()


class ModelList(serializers.Serializer):
    object = constant("list")
    data = Model(many=True)


@extend_schema_field({"type": "string", "format": "binary"})
class UploadField(serializers.FileField):
    """A multipart file part."""


class TranslationRequest(serializers.Serializer):
    file = UploadField(
        help_text="flac, mp3, mp4, mpeg, mpga, m4a, ogg, oga, wav or webm (detected from content)."
    )
    model = serializers.CharField(help_text="An id from GET /v1/models; `whisper-1` works.")
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
    return OpenApiResponse(Error, description=description)


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
        serializers=[Transcription, VerboseTranscription],
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
                responses={200: ModelList, 401: AUDIO_ERRORS[401]},
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
                responses={200: Model, 401: AUDIO_ERRORS[401], 404: AUDIO_ERRORS[404]},
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

    def get_fields(self) -> dict:
        fields = super().get_fields()
        fields["timestamp_granularities[]"] = serializers.ListField(
            child=serializers.ChoiceField(choices=GRANULARITIES), required=False
        )
        return fields


class JobError(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class CallbackAttempt(serializers.Serializer):
    number = serializers.IntegerField()
    status_code = serializers.IntegerField(allow_null=True)
    delivered = serializers.BooleanField()
    error = serializers.CharField(allow_null=True)
    created_at = serializers.IntegerField()


class Callback(serializers.Serializer):
    url = serializers.URLField()
    attempts = CallbackAttempt(many=True)


class Job(serializers.Serializer):
    id = serializers.CharField()
    object = constant("audio.job")
    task = serializers.ChoiceField(choices=["transcribe", "translate"])
    model = serializers.CharField()
    status = serializers.ChoiceField(choices=JOB_STATUSES)
    progress = serializers.IntegerField(min_value=0, max_value=100)
    response_format = serializers.ChoiceField(choices=RESPONSE_FORMATS)
    language = serializers.CharField(allow_null=True)
    filename = serializers.CharField()
    bytes = serializers.IntegerField()
    duration = serializers.FloatField(help_text="Seconds (probed until the engine measured it).")
    attempts = serializers.IntegerField()
    created_at = serializers.IntegerField(help_text="Unix time")
    started_at = serializers.IntegerField(allow_null=True)
    finished_at = serializers.IntegerField(allow_null=True)
    error = JobError(allow_null=True)
    usage = Usage(allow_null=True)
    result = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="When succeeded: the body in response_format (an object for json formats, "
        "else a string). Not included in listings.",
    )
    callback = Callback(required=False)


class JobList(serializers.Serializer):
    object = constant("list")
    data = Job(many=True)
    first_id = serializers.CharField(allow_null=True)
    last_id = serializers.CharField(allow_null=True)
    has_more = serializers.BooleanField()


class JobDeleted(serializers.Serializer):
    id = serializers.CharField()
    object = constant("audio.job.deleted")
    deleted = serializers.BooleanField()


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
                    202: Job,
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
                responses={200: JobList, 400: AUDIO_ERRORS[400], 401: AUDIO_ERRORS[401]},
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
                responses={200: Job, 401: AUDIO_ERRORS[401], 404: not_found},
            )
            def get(self, request, job_id: str):
                return super().get(request, job_id)

            @extend_schema(
                operation_id="deleteJob",
                summary="Cancel the job and delete it with its audio and transcript",
                tags=[JOBS_TAG],
                parameters=[JOB_ID],
                responses={200: JobDeleted, 401: AUDIO_ERRORS[401], 404: not_found},
            )
            def delete(self, request, job_id: str):
                return super().delete(request, job_id)

        return Documented
