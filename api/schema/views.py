"""The OpenAPI operations of the /v1 views, attached by view extensions so that the views
carry no schema code: each replaces its view, for the schema generator only, by a subclass whose
methods carry `@extend_schema`.

Answers are described by the serializers that render them (api/serializers/responses.py,
transcriptions/representations.py; the JSON bodies of the response formats in
transcriptions/openai/bodies.py); the request forms are in forms.py.
"""

from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)

from transcriptions.openai.bodies import (
    DiarizedTranscription,
    Transcription,
    VerboseTranscription,
)
from transcriptions.representations import JobSerializer

from ..serializers.responses import (
    ErrorSerializer,
    JobDeletedSerializer,
    JobPageSerializer,
    ModelListSerializer,
    ModelSerializer,
    UsageListSerializer,
)
from .forms import JobRequest, TranscriptionRequest, TranslationRequest

AUDIO_TAG = "Audio"
MODELS_TAG = "Models"


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


# --- GET /v1/usage --------------------------------------------------------------------------


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
