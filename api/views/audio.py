"""POST /v1/audio/transcriptions and /v1/audio/translations: OpenAI's synchronous endpoints
(or Server-Sent Events with stream=true), thin views over the job services.

The request is read, checked and submitted as a job by a DRF view (authentication, throttles,
parsing, validation and errors as every other endpoint), in a thread; the wait for the job is a
coroutine (`job_wait_async`, or the stream's async generator), so a request waiting for its
transcription holds no thread of the web process, and a client that goes away ends its wait at
once (its job goes on, and is billed once, when it ends).
"""

import json
import time
from collections.abc import Callable
from functools import partial

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.decorators import method_decorator

from billing.errors import IdempotencyKeyPending
from billing.services import idempotency_wait_async
from billing.services.idempotency import IDEMPOTENCY_WAIT
from ops.request_thread import request_thread_release
from ops.streams import ClosingStream
from ops.threads import in_thread
from transcriptions.models import Job
from transcriptions.openai.formats import render
from transcriptions.services import (
    audio_request_build,
    callback_url_resolve,
    job_outcome_error,
    job_submit,
    job_wait_async,
)

from ..errors import to_api_error
from ..middleware import usage_origin
from ..parsers import SizeLimitedMultiPartParser
from ..serializers.requests import AudioRequestSerializer, TranscriptionRequestSerializer
from ..streaming import sse_events
from ..suspend import Suspended, SuspendingApi
from ..waits import wait_slot_free, wait_slot_take

# Audio up to this long is answered from the event loop (PendingAnswer.complete).
RENDER_IN_LOOP_SECONDS = 120.0


def job_answer(job: Job) -> tuple[bytes | str, str]:
    """The finished job's body and content type, in the format it asked for."""
    if job.status != Job.Status.SUCCEEDED:
        raise job_outcome_error(job)
    return render(
        job.result,
        response_format=job.response_format,
        task=job.task,
        granularities=job.timestamp_granularities,
        include=job.include,
        requested_model=job.requested_model,
    )


class PendingAnswer(HttpResponse):
    """What the DRF view returns for a synchronous request: the job is submitted, its answer
    is not there yet. The asynchronous view (TranscriptionCreateApi.as_view) waits for the job
    without a thread, then fills this response in: the transcript, or OpenAI's error."""

    def __init__(self, request, job: Job, tenant_id: int) -> None:
        super().__init__()
        self.request = request
        self.job_pk = job.pk
        self.tenant_id = tenant_id

    async def complete(self) -> None:
        try:
            await request_thread_release()
            job = await job_wait_async(self.job_pk, timeout=settings.SYNC_WAIT_TIMEOUT)
            if (job.duration or job.probed_duration) <= RENDER_IN_LOOP_SECONDS:
                # A short file's answer is a few kilobytes of JSON or text: rendered here, in
                # less than the hop to a thread and back takes.
                body, content_type = job_answer(job)
            else:
                # A long one's is CPU for the loop's other requests to wait on: a thread, but
                # not a request's (the request's own was let go above, and making it a new
                # one cost the answer a millisecond).
                body, content_type = await in_thread(job_answer)(job)
            self["Content-Type"] = content_type
        except Exception as exc:  # every failure leaves in OpenAI's envelope
            error = to_api_error(exc)
            self.status_code = error.status_code
            self["Content-Type"] = "application/json"
            for name, value in error.headers.items():
                self[name] = value
            body = json.dumps(error.as_dict())
        finally:
            wait_slot_free(self.tenant_id)  # a cancelled wait (client gone) frees it too
        self.content = body


def submit(
    view,
    request,
    *,
    task: str,
    data: dict,
    answer: Callable[[Job], HttpResponse],
    is_async: bool = False,
    refused: Callable[[], None] = lambda: None,
) -> HttpResponse:
    """Submit the validated request as a job with its usage row (the request log, in
    api.middleware, gives the row the response's status and time), and give
    `answer(job)` (`refused()` when no job comes of it: refused, or its client gone). What
    would block the request's thread on others is waited for in the event loop instead
    (Suspended): the callback_url host's lookup, and a retry's wait for the first request
    with its Idempotency-Key to store its job."""
    deadline = time.monotonic() + IDEMPOTENCY_WAIT

    def attempt(resolved: Callable[[], list[str] | None]) -> HttpResponse:
        try:
            job = job_submit(
                tenant=request.user.tenant,
                api_key=request.auth,
                origin=usage_origin(request._request, status_code=202 if is_async else 200),
                params=audio_request_build(
                    task=task, data=data, is_async=is_async, callback_addresses=resolved()
                ),
                upload=data["file"],
            )
        except IdempotencyKeyPending as pending:
            left = deadline - time.monotonic()
            if left <= 0:
                refused()
                raise  # 409 idempotency_key_in_use
            return Suspended(
                view,
                wait=partial(idempotency_wait_async, pending=pending, timeout=left),
                resume=lambda waited: attempt(resolved),
                abandon=refused,
            )
        except BaseException:
            refused()
            raise
        return answer(job)

    callback_url = data.get("callback_url")
    if not callback_url:
        return attempt(lambda: None)
    return Suspended(
        view,
        wait=lambda: callback_url_resolve(callback_url, tenant_id=request.user.tenant.pk),
        resume=attempt,
        abandon=refused,
    )


# Waiting for a job inside a request-wide transaction would hide the job from the worker:
# these views commit as they go.
@method_decorator(transaction.non_atomic_requests, name="dispatch")
class TranscriptionCreateApi(SuspendingApi):
    """DRF's view (in a thread), then the wait for its job (in the event loop)."""

    task = Job.Task.TRANSCRIBE
    serializer_class: type[AudioRequestSerializer] = TranscriptionRequestSerializer
    parser_classes = [SizeLimitedMultiPartParser]

    @classmethod
    async def completed(cls, response):
        if isinstance(response, PendingAnswer):
            await response.complete()
        return response

    def post(self, request):
        serializer = self.serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        tenant_id = request.user.tenant.pk
        # This request will wait until its job ends: counted before anything is stored, freed
        # when the answer (or the stream) is over.
        wait_slot_take(tenant_id)
        return submit(
            self,
            request,
            task=self.task,
            data=serializer.validated_data,
            answer=lambda job: self.answer(request, job, tenant_id),
            refused=lambda: wait_slot_free(tenant_id),
        )

    def answer(self, request, job: Job, tenant_id: int) -> HttpResponse:
        if job.stream:
            events = ClosingStream(sse_events(job), lambda: wait_slot_free(tenant_id))
            response = StreamingHttpResponse(events, content_type="text/event-stream")
            response["Cache-Control"] = "no-cache"
            response["X-Accel-Buffering"] = "no"
        else:
            response = PendingAnswer(request._request, job, tenant_id)
        response["x-job-id"] = job.public_id  # e.g. to cancel a stream: DELETE /v1/audio/jobs/{id}
        return response


class TranslationCreateApi(TranscriptionCreateApi):
    task = Job.Task.TRANSLATE
    serializer_class = AudioRequestSerializer
