"""A job's way through its states: queued (job_enqueue), then exactly one final transition
(_finish: succeeded, failed or cancelled) that settles its quota and usage, frees its audio,
sends its callback and wakes whoever waits on it."""

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import speech as engine
from billing.errors import AudioTooLong
from billing.rounding import billed_seconds
from billing.services import quota_settle, usage_record_settle
from ops.outages import through_outage

from ..errors import (
    JobCancelled,
    JobFailed,
    JobTimedOut,
    JobWaitTimeout,
)
from ..models import Job
from .callbacks import callback_enqueue
from .chunks import job_chunks_files_delete, job_chunks_release, job_first_chunk_queue
from .speakers import speaker_references_delete
from .usage import job_usage, success_usage
from .waiting import job_notify

MSG_ENGINE_FAILED = "The transcription engine failed on this audio (job {job})."
MSG_WAIT_TIMEOUT = (
    "The transcription is taking longer than this request may wait; fetch it later as job {job}."
)
MSG_CANCELLED = "Job {job} was cancelled."
# How long a job's end keeps trying to settle its usage row through a database outage.
SETTLE_PATIENCE = 30.0


def job_enqueue(*, job: Job) -> None:
    """Queue the job as its first chunk (the whole file, cut by the worker that takes it), and
    a turn for it once the rows are committed (or a fast worker could look for it in vain)."""
    with transaction.atomic():
        job_first_chunk_queue(job=job)


def _finish(
    job: Job, *, from_statuses: tuple[str, ...] = (Job.Status.RUNNING,), **fields: Any
) -> bool:
    """The one way into a final state, taken once: False when someone else got there first
    (a cancel racing the worker's success, or the reverse)."""
    fields.setdefault("finished_at", timezone.now())
    # The row lets go of its audio in the same UPDATE (the file is deleted once that is
    # committed): a write of its own just after the end was committed took SQLite's one write
    # lock while the waiting client's usage row was being written.
    audio = job.audio.name if not settings.RETAIN_AUDIO else ""
    if audio:
        fields["audio"] = ""
    with transaction.atomic():
        finished = Job.objects.filter(pk=job.pk, status__in=from_statuses).update(**fields)
        if finished:
            # A waiting client is woken as soon as the end is committed, first of what runs
            # then: its answer does not wait for the usage row's settling or the clean-up below.
            transaction.on_commit(lambda: job_notify(job.pk))
            job_chunks_release(job_pk=job.pk, succeeded=fields["status"] == Job.Status.SUCCEEDED)
            _settle(job, fields)
    if finished:
        job_chunks_files_delete(job_pk=job.pk)
    if finished and audio:
        job.audio.delete(save=False)
        speaker_references_delete(job=job)  # beside the audio (their embeddings stay)
    if finished and job.callback_url:
        callback_enqueue(job_pk=job.pk)
    job_notify(job.pk)  # and once the clean-up is done, as before (harmless: waiters re-read)
    return bool(finished)


def _settle(job: Job, fields: dict[str, Any]) -> None:
    """The accounting of a job that just ended, in the transaction that ends it: its quota
    reservation becomes its real billed seconds (success) or is refunded (failure, timeout,
    cancel); the request's usage row is settled once that transaction is committed."""
    succeeded = fields.get("status") == Job.Status.SUCCEEDED
    # quota_settled_at makes it once per job, whatever path ends it (or re-runs it).
    if Job.objects.filter(pk=job.pk, quota_settled_at__isnull=True).update(
        quota_settled_at=timezone.now()
    ):
        if succeeded:
            # The reservation's figures are written once, with the job: the worker's copy of
            # the row has them (one read less on every synchronous answer's way).
            tenant_id, period, reserved = job.tenant_id, job.quota_period, job.reserved_seconds
            used = billed_seconds(fields.get("duration") or 0.0)
        else:
            tenant_id, period, reserved, covered = (
                Job.objects.filter(pk=job.pk)
                .values_list("tenant_id", "quota_period", "reserved_seconds", "covered_seconds")
                .get()
            )
            # Text already streamed, or audio decoded past a length that lied: paid for, but
            # never more than was reserved (and so allowed) for it.
            used = min(billed_seconds(covered), reserved) if period is not None else 0
        if period is not None:
            quota_settle(
                tenant_id=tenant_id, period=period, reserved_seconds=reserved, used_seconds=used
            )

    if succeeded:  # its cost is known from `fields`: no read
        usage = success_usage(job, duration=fields.get("duration"))
    else:
        usage = job_usage(Job.objects.get(pk=job.pk))
    request_id = job.request_id
    # After the commit: a usage row inserted meanwhile either is seen by this UPDATE or its
    # writer sees the job ended and settles it itself (api.middleware). The figures are
    # taken now: a job deleted right after its cancel is gone by then.
    # A database restarted just after that commit would leave the row waiting for the
    # minute's recovery (recovery.py), a usage log and a quota that disagree meanwhile: the
    # settle is tried again on a fresh connection first.
    transaction.on_commit(
        lambda: through_outage(
            lambda: usage_record_settle(request_id=request_id, usage=usage),
            within=SETTLE_PATIENCE,
            what=f"usage row {request_id} settled",
        )
    )


def job_succeed(*, job: Job, result: engine.TranscriptionResult) -> bool:
    stored = {
        "language": result.language,
        "duration": result.duration,
        "text": result.text,
        "segments": result.segments,
        "words": result.words,
    }
    if result.logprobs is not None:  # include=["logprobs"]
        stored["logprobs"] = result.logprobs
    if result.output_tokens is not None:  # a model id whose usage counts tokens
        stored["text_tokens"] = result.text_tokens or 0
        stored["output_tokens"] = result.output_tokens
    return _finish(
        job,
        status=Job.Status.SUCCEEDED,
        progress=100,
        chunk_count=max(job.chunk_count, 1),
        detected_language=result.language,
        duration=result.duration,
        text=result.text,
        result=stored,
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
    is refused by _finish; the client is billed only for audio whose text it was already sent
    (a stream), as for any job that does not succeed."""
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
        speaker_references_delete(job=job)
    job.delete()


# --- Answering ----------------------------------------------------------------------------------


def job_outcome_error(job: Job) -> Exception:
    """What a client waiting on a job that did not succeed (or not yet) is told."""
    if job.status == Job.Status.FAILED and job.error_code == "audio_too_long":
        return AudioTooLong(job.error_message)
    if job.status == Job.Status.FAILED:
        failed = JobTimedOut if job.error_code == "timeout" else JobFailed
        return failed(
            job.error_message or MSG_ENGINE_FAILED.format(job=job),
            code=job.error_code or "engine_error",
        )
    if job.status == Job.Status.CANCELLED:
        return JobCancelled(MSG_CANCELLED.format(job=job))
    return JobWaitTimeout(MSG_WAIT_TIMEOUT.format(job=job.public_id), job_id=job.public_id)
