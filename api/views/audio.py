"""POST /v1/audio/transcriptions and /v1/audio/translations: OpenAI's synchronous endpoints
(or Server-Sent Events with stream=true), thin views over the job services."""

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.decorators import method_decorator
from rest_framework.views import APIView

from transcriptions.engine.formats import render
from transcriptions.models import Job
from transcriptions.services import audio_request_build, job_outcome_error, job_submit, job_wait

from ..parsers import SizeLimitedMultiPartParser
from ..serializers.requests import AudioRequestSerializer, TranscriptionRequestSerializer
from ..streaming import sse_events


def job_response(job: Job) -> HttpResponse:
    if job.status != Job.Status.SUCCEEDED:
        raise job_outcome_error(job)
    body, content_type = render(
        job.result,
        response_format=job.response_format,
        task=job.task,
        granularities=job.timestamp_granularities,
    )
    return HttpResponse(body, content_type=content_type)


def submit(request, *, task: str, data: dict, is_async: bool = False) -> Job:
    """Submit the validated request as a job, and tell the usage log which job it is."""
    job = job_submit(
        tenant=request.user.tenant,
        api_key=request.auth,
        request_id=request._request.request_id,
        params=audio_request_build(task=task, data=data, is_async=is_async),
        upload=data["file"],
        idempotency_key=request.headers.get("Idempotency-Key", ""),
    )
    request._request.usage_job = job  # for the usage log (api.middleware)
    return job


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
        job = submit(request, task=self.task, data=serializer.validated_data)
        if job.stream:
            response = StreamingHttpResponse(sse_events(job), content_type="text/event-stream")
            response["Cache-Control"] = "no-cache"
            response["X-Accel-Buffering"] = "no"
            return response
        job = job_wait(job.pk, timeout=settings.SYNC_WAIT_TIMEOUT)
        return job_response(job)


class TranslationCreateApi(TranscriptionCreateApi):
    task = Job.Task.TRANSLATE
    serializer_class = AudioRequestSerializer
