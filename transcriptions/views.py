"""The OpenAI-compatible endpoints: thin views over services."""

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.decorators import method_decorator
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import ApiError

from . import engine
from .formats import render
from .models import Job
from .parsers import SizeLimitedMultiPartParser
from .representations import job_object
from .selectors import job_get, job_list
from .serializers import (
    AudioRequestSerializer,
    JobListSerializer,
    JobRequestSerializer,
    TranscriptionRequestSerializer,
)
from .services import audio_request_build, job_delete, job_error, job_submit
from .streaming import sse_events
from .waiting import job_wait

# Models are listed with a fixed creation time: they are files, not events.
MODELS_CREATED = 1735689600
MODEL_OWNER = "faster-whisper"


def job_response(job: Job) -> HttpResponse:
    if job.status != Job.Status.SUCCEEDED:
        raise job_error(job)
    body, content_type = render(
        job.result,
        response_format=job.response_format,
        task=job.task,
        granularities=job.timestamp_granularities,
    )
    return HttpResponse(body, content_type=content_type)


# Waiting for a job inside a request-wide transaction would hide the job from the worker:
# these views commit as they go.
@method_decorator(transaction.non_atomic_requests, name="dispatch")
class TranscriptionCreateApi(APIView):
    task = Job.Task.TRANSCRIBE
    serializer_class: type[AudioRequestSerializer] = TranscriptionRequestSerializer
    parser_classes = [SizeLimitedMultiPartParser]

    def post(self, request):
        serializer = self.serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        params = audio_request_build(task=self.task, data=serializer.validated_data)
        job = job_submit(
            tenant=request.user.tenant,
            api_key=request.auth,
            request_id=request._request.request_id,
            params=params,
            upload=serializer.validated_data["file"],
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
        request._request.usage_job = job  # for the usage log (accounts.middleware)
        if params.stream:
            response = StreamingHttpResponse(sse_events(job), content_type="text/event-stream")
            response["Cache-Control"] = "no-cache"
            response["X-Accel-Buffering"] = "no"
            return response
        job = job_wait(job.pk, timeout=settings.SYNC_WAIT_TIMEOUT)
        return job_response(job)


class TranslationCreateApi(TranscriptionCreateApi):
    task = Job.Task.TRANSLATE
    serializer_class = AudioRequestSerializer


def _model_object(model_id: str) -> dict:
    return {"id": model_id, "object": "model", "created": MODELS_CREATED, "owned_by": MODEL_OWNER}


def _model_ids() -> list[str]:
    return [*settings.WHISPER_MODEL_ALIASES, *settings.WHISPER_MODELS]


class ModelListApi(APIView):
    def get(self, request):
        return Response({"object": "list", "data": [_model_object(m) for m in _model_ids()]})


class ModelDetailApi(APIView):
    def get(self, request, model_id: str):
        if engine.resolve_model_id(model_id) is None:
            raise ApiError(
                f"The model '{model_id}' does not exist",
                status_code=404,
                code="model_not_found",
                param="model",
            )
        return Response(_model_object(model_id))


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class JobCollectionApi(APIView):
    """POST: submit a job and answer 202 at once (the seed page's "submit task").
    GET: the tenant's jobs, newest first."""

    parser_classes = [SizeLimitedMultiPartParser]

    def post(self, request):
        serializer = JobRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        params = audio_request_build(task=data["task"], data=data, is_async=True)
        job = job_submit(
            tenant=request.user.tenant,
            api_key=request.auth,
            request_id=request._request.request_id,
            params=params,
            upload=data["file"],
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
        request._request.usage_job = job  # for the usage log (accounts.middleware)
        return Response(job_object(job, include_result=False), status=202)

    def get(self, request):
        query = JobListSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        jobs, has_more = job_list(tenant=request.user.tenant, **query.validated_data)
        data = [job_object(job, include_result=False) for job in jobs]
        return Response(
            {
                "object": "list",
                "data": data,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "has_more": has_more,
            }
        )


class JobDetailApi(APIView):
    """GET: status, progress and, when done, the result ("fetch task"). DELETE: cancel and
    delete the job with its audio and transcript."""

    def get(self, request, job_id: str):
        return Response(job_object(job_get(tenant=request.user.tenant, public_id=job_id)))

    def delete(self, request, job_id: str):
        job = job_get(tenant=request.user.tenant, public_id=job_id)
        job_delete(job=job)
        return Response({"id": job_id, "object": "audio.job.deleted", "deleted": True})
