"""POST /v1/audio/transcriptions and /v1/audio/translations: OpenAI's synchronous endpoints
(or Server-Sent Events with stream=true), thin views over the job services."""

from collections.abc import Iterator

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
from ..waits import wait_slot_free, wait_slot_take


def job_response(job: Job) -> HttpResponse:
    if job.status != Job.Status.SUCCEEDED:
        raise job_outcome_error(job)
    body, content_type = render(
        job.result,
        response_format=job.response_format,
        task=job.task,
        granularities=job.timestamp_granularities,
        include=job.include,
        requested_model=job.requested_model,
    )
    return HttpResponse(body, content_type=content_type)


def _freeing(events: Iterator[str], tenant_id: int) -> Iterator[str]:
    """The stream's events; its wait slot is freed when the stream ends or is closed (the
    client went away: the server closes the response, which closes this generator)."""
    try:
        yield from events
    finally:
        wait_slot_free(tenant_id)


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
        tenant_id = request.user.tenant.pk
        # This request will hold a thread until its job ends: counted before anything is
        # stored, freed when the answer (or the stream) is over.
        wait_slot_take(tenant_id)
        try:
            job = submit(request, task=self.task, data=serializer.validated_data)
            if job.stream:
                events = _freeing(sse_events(job), tenant_id)
                tenant_id = None  # the stream frees it when it is closed
                response = StreamingHttpResponse(events, content_type="text/event-stream")
                response["Cache-Control"] = "no-cache"
                response["X-Accel-Buffering"] = "no"
            else:
                response = job_response(job_wait(job.pk, timeout=settings.SYNC_WAIT_TIMEOUT))
        finally:
            if tenant_id is not None:
                wait_slot_free(tenant_id)
        response["x-job-id"] = job.public_id  # e.g. to cancel a stream: DELETE /v1/audio/jobs/{id}
        return response


class TranslationCreateApi(TranscriptionCreateApi):
    task = Job.Task.TRANSLATE
    serializer_class = AudioRequestSerializer
