"""The life of a transcription job: submit (validate, store, queue), run, finish."""

import logging
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone
from django_q.exceptions import TimeoutException
from django_q.tasks import async_task

from accounts.models import ApiKey, Tenant
from accounts.selectors import tenant_limits
from accounts.services import (
    Reservation,
    idempotency_attach,
    idempotency_claim,
    idempotency_release,
    job_usage,
    plan_check_duration,
    quota_release,
    quota_reserve,
    quota_settle,
    request_fingerprint,
    usage_record_settle,
)
from config.errors import SERVER_ERROR, ApiError

from . import audio, engine
from .formats import billed_seconds
from .models import Job
from .waiting import job_notify
from .worker_registry import worker_identity

logger = logging.getLogger(__name__)

MSG_MODEL_NOT_FOUND = "The model `{model}` does not exist or you do not have access to it."
MSG_NO_TRANSLATION = (
    "The model `{model}` is English-only and cannot translate; use a multilingual model "
    "such as `whisper-1`."
)
MSG_ENGLISH_ONLY = (
    "The model `{model}` is English-only; it cannot transcribe language '{language}'."
)
MSG_ENGINE_FAILED = "The transcription engine failed on this audio (job {job})."
MSG_TIMED_OUT = "The transcription did not finish in time (job {job})."
MSG_WAIT_TIMEOUT = (
    "The transcription is taking longer than this request may wait; fetch it later as job {job}."
)
MSG_CANCELLED = "Job {job} was cancelled."
MSG_INTERRUPTED = "The worker running job {job} stopped before finishing it."
MSG_ENQUEUE_FAILED = "Job {job} could not be queued."

MSG_QUEUE_FULL = "The server is overloaded with queued jobs; please retry after a short wait."
# A job handed out again after its worker died is tried this many times in all.
MAX_JOB_ATTEMPTS = 2


@dataclass(frozen=True)
class AudioRequest:
    """A validated /v1/audio request, before its job exists."""

    task: str
    requested_model: str
    model_id: str
    language: str = ""
    prompt: str = ""
    response_format: str = "json"
    temperature: float = 0.0
    timestamp_granularities: tuple[str, ...] = ()
    stream: bool = False
    callback_url: str = ""
    is_async: bool = False


def audio_request_build(*, task: str, data: dict[str, Any], is_async: bool = False) -> AudioRequest:
    """Resolve the model and check it can do what is asked (404 / 400 otherwise)."""
    requested = data["model"]
    model_id = engine.resolve_model_id(requested)
    if model_id is None:
        raise ApiError(
            MSG_MODEL_NOT_FOUND.format(model=requested),
            status_code=404,
            code="model_not_found",
            param="model",
        )
    spec = engine.registry()[model_id]
    language = data.get("language") or ""
    if not spec.multilingual:
        if task == Job.Task.TRANSLATE:
            raise ApiError(
                MSG_NO_TRANSLATION.format(model=requested), code="unsupported_model", param="model"
            )
        if language and language != "en":
            raise ApiError(
                MSG_ENGLISH_ONLY.format(model=requested, language=language),
                code="unsupported_language",
                param="language",
            )
    return AudioRequest(
        task=task,
        requested_model=requested,
        model_id=model_id,
        language=language,
        prompt=data.get("prompt") or "",
        response_format=data.get("response_format") or "json",
        temperature=data.get("temperature") or 0.0,
        timestamp_granularities=tuple(data.get("timestamp_granularities") or ()),
        stream=bool(data.get("stream")),
        callback_url=data.get("callback_url") or "",
        is_async=is_async,
    )


def job_submit(
    *,
    tenant: Tenant,
    api_key: ApiKey | None,
    request_id: str,
    params: AudioRequest,
    upload: UploadedFile,
    idempotency_key: str = "",
) -> Job:
    """Probe the upload, check it against the plan, reserve its seconds, store it with its
    job row, and queue the job.

    With an Idempotency-Key used in the last 24 hours for the same request, the first
    request's job is returned instead: nothing is stored, reserved or billed again.
    """
    claim = None
    if idempotency_key:
        claim = idempotency_claim(
            tenant=tenant,
            key=idempotency_key,
            request_id=request_id,
            fingerprint=request_fingerprint(fields=asdict(params), upload=upload),
        )
        if claim.job_id:
            first = Job.objects.filter(tenant=tenant, public_id=claim.job_id).first()
            if first is not None:
                return first
            # Its owner deleted the first job since: this request starts afresh.
            idempotency_release(record=claim)
            return job_submit(
                tenant=tenant,
                api_key=api_key,
                request_id=request_id,
                params=params,
                upload=upload,
                idempotency_key=idempotency_key,
            )
    try:
        info = audio.probe(upload, filename=upload.name or "", size=upload.size or 0)
        limits = tenant_limits(tenant=tenant)
        plan_check_duration(limits=limits, seconds=info.duration)
        queue_check_capacity()
        reservation = quota_reserve(
            tenant=tenant, seconds=billed_seconds(info.duration), limits=limits
        )
        try:
            job = job_create(
                tenant=tenant,
                api_key=api_key,
                request_id=request_id,
                params=params,
                upload=upload,
                info=info,
                reservation=reservation,
            )
        except BaseException:
            quota_release(reservation=reservation)
            raise
    except BaseException:
        if claim is not None:
            idempotency_release(record=claim)
        raise
    if claim is not None:
        idempotency_attach(record=claim, job_id=job.public_id)
    try:
        job_enqueue(job=job)
    except BaseException:
        # Never queued: end it, which refunds its reservation, rather than leave it waiting.
        job_fail(
            job=job,
            code="enqueue_failed",
            message=MSG_ENQUEUE_FAILED.format(job=job.public_id),
            from_statuses=(Job.Status.QUEUED,),
        )
        raise
    return job


def queue_check_capacity() -> None:
    """503 when too many jobs wait already: better a quick "retry later" than a request that
    waits for minutes. (A soft limit: two racing requests may both pass at the edge.)"""
    if Job.objects.filter(status=Job.Status.QUEUED).count() >= settings.MAX_QUEUED_JOBS:
        raise ApiError(
            MSG_QUEUE_FULL,
            status_code=503,
            type=SERVER_ERROR,
            code="queue_full",
            headers={"Retry-After": str(settings.QUEUE_FULL_RETRY_AFTER)},
        )


def job_create(
    *,
    tenant: Tenant,
    api_key: ApiKey | None,
    request_id: str,
    params: AudioRequest,
    upload: UploadedFile,
    info: audio.AudioInfo,
    reservation: Reservation | None = None,
) -> Job:
    job = Job(
        tenant=tenant,
        api_key=api_key,
        request_id=request_id,
        task=params.task,
        requested_model=params.requested_model,
        model=params.model_id,
        language=params.language,
        prompt=params.prompt,
        response_format=params.response_format,
        temperature=params.temperature,
        timestamp_granularities=list(params.timestamp_granularities),
        stream=params.stream,
        callback_url=params.callback_url,
        is_async=params.is_async,
        audio_filename=(upload.name or "")[:255],
        audio_bytes=upload.size or 0,
        audio_format=info.container[:32],
        probed_duration=info.duration,
        reserved_seconds=reservation.seconds if reservation else 0,
        quota_period=reservation.period if reservation else None,
    )
    upload.seek(0)
    job.audio.save(job.public_id, upload, save=False)
    try:
        with transaction.atomic():
            job.save()
    except BaseException:
        # The row did not land: the stored audio must not outlive it.
        job.audio.delete(save=False)
        raise
    return job


def job_enqueue(*, job: Job) -> None:
    """Queue the job's next attempt once the row is committed (or a fast worker could look for
    it in vain). The attempt number travels with the task, so a stale copy handed out again by
    the broker after a crash finds the job already claimed and does nothing."""
    attempt = job.attempts + 1
    transaction.on_commit(
        lambda: async_task(
            "transcriptions.tasks.run_job",
            job.pk,
            attempt,
            task_name=f"{job.public_id}-{attempt}",
            group=job.model,
        )
    )


# --- Worker side ------------------------------------------------------------------------------


@contextmanager
def _audio_source(job: Job):
    """A path when the storage is local (no copy), an open file otherwise (S3 and the like)."""
    try:
        yield job.audio.path
    except NotImplementedError:
        with job.audio.open("rb") as fh:
            yield fh


def _claim(job_pk: int, attempt: int) -> Job | None:
    """queued -> running for this attempt only; None when cancelled, finished, or already
    claimed by another delivery of the same task."""
    claimed = Job.objects.filter(pk=job_pk, status=Job.Status.QUEUED, attempts=attempt - 1).update(
        status=Job.Status.RUNNING,
        started_at=timezone.now(),
        attempts=attempt,
        worker=worker_identity(),
    )
    if not claimed:
        return None
    return Job.objects.get(pk=job_pk)


def job_run(*, job_pk: int, attempt: int = 1) -> None:
    """Run one job to its end: succeeded or failed, never left running by an exception."""
    job = _claim(job_pk, attempt)
    if job is None:
        return

    def on_segment(segment: dict[str, Any], duration: float) -> None:
        progress = min(99, int(100 * segment["end"] / duration)) if duration else 0
        Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
            progress=progress, partial_text=Concat(F("partial_text"), Value(segment["text"]))
        )
        if job.stream:
            job_notify(job.pk)

    try:
        with _audio_source(job) as source:
            result = engine.transcribe(
                source,
                model_id=job.model,
                task=job.task,
                language=job.language or None,
                prompt=job.prompt,
                temperature=job.temperature,
                word_timestamps="word" in (job.timestamp_granularities or []),
                on_segment=on_segment,
            )
    except (Exception, TimeoutException) as exc:  # TimeoutException is a SystemExit
        timed_out = isinstance(exc, TimeoutException)
        logger.exception("job %s failed", job.public_id)
        job_fail(
            job=job,
            code="timeout" if timed_out else "engine_error",
            message=(MSG_TIMED_OUT if timed_out else MSG_ENGINE_FAILED).format(job=job),
        )
        return
    job_succeed(job=job, result=result)


def _finish(
    job: Job, *, from_statuses: tuple[str, ...] = (Job.Status.RUNNING,), **fields: Any
) -> bool:
    """The one way into a final state, taken once: False when someone else got there first
    (a cancel racing the worker's success, or the reverse)."""
    fields.setdefault("finished_at", timezone.now())
    with transaction.atomic():
        finished = Job.objects.filter(pk=job.pk, status__in=from_statuses).update(**fields)
        if finished:
            _settle(job, fields)
    if finished and not settings.RETAIN_AUDIO and job.audio:
        job.audio.delete(save=False)
        Job.objects.filter(pk=job.pk).update(audio="")
    if finished and job.callback_url:
        from .callbacks import callback_enqueue

        callback_enqueue(job_pk=job.pk)
    job_notify(job.pk)
    return bool(finished)


def _settle(job: Job, fields: dict[str, Any]) -> None:
    """The accounting of a job that just ended, in the transaction that ends it: its quota
    reservation becomes its real billed seconds (success) or is refunded (failure, timeout,
    cancel); the request's usage row is settled once that transaction is committed."""
    succeeded = fields.get("status") == Job.Status.SUCCEEDED
    used = billed_seconds(fields.get("duration") or 0.0) if succeeded else 0
    # quota_settled_at makes it once per job, whatever path ends it (or re-runs it).
    if Job.objects.filter(pk=job.pk, quota_settled_at__isnull=True).update(
        quota_settled_at=timezone.now()
    ):
        tenant_id, period, reserved = (
            Job.objects.filter(pk=job.pk)
            .values_list("tenant_id", "quota_period", "reserved_seconds")
            .get()
        )
        if period is not None:
            quota_settle(
                tenant_id=tenant_id, period=period, reserved_seconds=reserved, used_seconds=used
            )

    ended = Job.objects.get(pk=job.pk)
    usage = job_usage(ended)
    # After the commit: a usage row inserted meanwhile either is seen by this UPDATE or its
    # writer sees the job ended and settles it itself (accounts.middleware). The figures are
    # taken now: a job deleted right after its cancel is gone by then.
    transaction.on_commit(lambda: usage_record_settle(request_id=ended.request_id, usage=usage))


def job_succeed(*, job: Job, result: engine.TranscriptionResult) -> bool:
    return _finish(
        job,
        status=Job.Status.SUCCEEDED,
        progress=100,
        detected_language=result.language,
        duration=result.duration,
        text=result.text,
        result={
            "language": result.language,
            "duration": result.duration,
            "text": result.text,
            "segments": result.segments,
            "words": result.words,
        },
    )


def job_fail(
    *, job: Job, code: str, message: str, from_statuses: tuple[str, ...] = (Job.Status.RUNNING,)
) -> bool:
    return _finish(
        job,
        from_statuses=from_statuses,
        status=Job.Status.FAILED,
        error_code=code,
        error_message=message,
    )


def job_cancel(*, job: Job) -> bool:
    """Cancel a queued or running job. A running worker finishes its decode, but its result
    is refused by _finish, and the client is not billed."""
    return _finish(
        job,
        from_statuses=(Job.Status.QUEUED, Job.Status.RUNNING),
        status=Job.Status.CANCELLED,
        error_code="cancelled",
        error_message=MSG_CANCELLED.format(job=job.public_id),
    )


def job_delete(*, job: Job) -> None:
    """Delete a job with its audio and transcript (cancelling it first if it has not ended)."""
    if not job.is_finished:
        job_cancel(job=job)
    if job.audio:
        job.audio.delete(save=False)
    job.delete()


def job_requeue(*, job: Job) -> bool:
    """Give a job whose worker died another attempt (the same attempt token is not reused)."""
    requeued = Job.objects.filter(
        pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts, worker=job.worker
    ).update(status=Job.Status.QUEUED, progress=0, partial_text="", worker="")
    if requeued:
        job.refresh_from_db()
        job_enqueue(job=job)
    return bool(requeued)


def jobs_recover(*, dead_workers: set[str]) -> dict[str, int]:
    """Jobs left running by dead worker processes: retried up to MAX_JOB_ATTEMPTS, then
    failed (which refunds their quota). Returns how many of each."""
    counts = {"requeued": 0, "failed": 0}
    for job in Job.objects.filter(status=Job.Status.RUNNING, worker__in=dead_workers):
        logger.warning("job %s lost its worker %s (attempt %s)", job, job.worker, job.attempts)
        if job.attempts < MAX_JOB_ATTEMPTS:
            counts["requeued"] += job_requeue(job=job)
        else:
            counts["failed"] += job_fail(
                job=job, code="worker_interrupted", message=MSG_INTERRUPTED.format(job=job)
            )
    return counts


def job_retry(*, job: Job) -> bool:
    """failed -> queued again, for an operator (admin action). Only a job whose audio is still
    stored (RETAIN_AUDIO) can run again; False when it cannot or someone else moved it first."""
    retried = (
        Job.objects.filter(pk=job.pk, status=Job.Status.FAILED)
        .exclude(audio="")
        .update(
            status=Job.Status.QUEUED,
            progress=0,
            partial_text="",
            error_code="",
            error_message="",
            started_at=None,
            finished_at=None,
        )
    )
    if retried:
        job.refresh_from_db()
        job_enqueue(job=job)
    return bool(retried)


# --- Answering ----------------------------------------------------------------------------------


def job_error(job: Job) -> ApiError:
    """What a client waiting on an unsuccessful job is told."""
    if job.status == Job.Status.FAILED:
        status_code = 504 if job.error_code == "timeout" else 500
        return ApiError(
            job.error_message or MSG_ENGINE_FAILED.format(job=job),
            status_code=status_code,
            type=SERVER_ERROR,
            code=job.error_code or "engine_error",
        )
    if job.status == Job.Status.CANCELLED:
        return ApiError(MSG_CANCELLED.format(job=job), status_code=409, code="job_cancelled")
    return ApiError(
        MSG_WAIT_TIMEOUT.format(job=job.public_id),
        status_code=504,
        type=SERVER_ERROR,
        code="timeout",
        headers={"x-job-id": job.public_id},
    )
