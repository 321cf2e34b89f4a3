"""What a job costs, for the usage log (billing): known once the job has ended; and the row of
the request that creates a job, written with it."""

import time

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef

from accounts.models import ApiKey
from billing.models import UsageRecord
from billing.rounding import billed_seconds
from billing.services import JobUsage, UsageOrigin, usage_record_create, usage_record_settle

from ..errors import RequestClosed
from ..models import Job

MSG_REQUEST_CLOSED = "The client closed the connection before its job was created."


def job_usage(job: Job) -> JobUsage:
    """What a job costs: its measured duration billed per started second when it succeeded;
    when it failed or was cancelled, the audio it covered anyway (text streamed, audio decoded
    past a lying length), often nothing; not known yet while it runs."""
    if not job.is_finished:
        return JobUsage(audio_seconds=job.probed_duration, billed_seconds=None, error_code="")
    if job.status == Job.Status.SUCCEEDED:
        return success_usage(job, duration=job.duration)
    billed = min(billed_seconds(job.covered_seconds), job.reserved_seconds)
    return JobUsage(
        audio_seconds=job.covered_seconds if billed else job.probed_duration,
        billed_seconds=billed,
        error_code=job.error_code or str(job.status),
    )


def success_usage(job: Job, *, duration: float | None) -> JobUsage:
    """What the job costs having succeeded with this measured `duration` (None: unknown, the
    probed one counts)."""
    audio = duration if duration is not None else job.probed_duration
    return JobUsage(audio_seconds=audio, billed_seconds=billed_seconds(audio), error_code="")


def usage_records_settle_pending() -> int:
    """Settle pending usage rows whose job has ended (or is gone): the row left behind when a
    worker died between committing a job's end and settling its row, just after (issue 29:
    every worker SIGKILLed). Safe to run any time; the rows of jobs still running are not
    read."""
    settled = 0
    running = Job.objects.filter(public_id=OuterRef("job_id")).exclude(status__in=Job.FINISHED)
    pending = (
        UsageRecord.objects.filter(billed_seconds__isnull=True)
        .exclude(job_id="")
        .exclude(Exists(running))
    )
    for record in pending.only("request_id", "job_id"):
        job = Job.objects.filter(public_id=record.job_id).first()
        if job is None:
            # Deleted by its owner: deleting cancels a running job first, so nothing was used.
            usage = JobUsage(audio_seconds=None, billed_seconds=0, error_code="job_deleted")
        else:
            usage = job_usage(job)
        settled += usage_record_settle(request_id=record.request_id, usage=usage)
    return settled


def job_usage_record_create(
    *, job: Job, origin: UsageOrigin, api_key: ApiKey | None = None, replayed: bool = False
) -> None:
    """The usage row of the request that created `job` (pending: its final transition settles
    it), or was answered from it (`replayed`: an Idempotency-Key retry with its own `api_key`,
    billed nothing).

    Called inside the transaction that inserts the job, so that no job ever exists without its
    row. A row already there means the request log wrote it first, for a client that left
    before its job existed: RequestClosed then, which rolls the job back with it."""
    started = origin.started
    usage = job_usage(job)
    try:
        with transaction.atomic():
            usage_record_create(
                request_id=origin.request_id,
                method=origin.method,
                endpoint=origin.endpoint,
                status_code=origin.status_code,
                tenant=job.tenant,
                api_key=api_key if replayed else job.api_key,
                model=job.requested_model,
                job_id=job.public_id,
                request_bytes=origin.request_bytes,
                audio_seconds=usage.audio_seconds,
                billed_seconds=0 if replayed else usage.billed_seconds,
                processing_ms=round((time.perf_counter() - started) * 1000) if started else 0,
                idempotency_key=origin.idempotency_key,
                replayed=replayed,
            )
    except IntegrityError:
        if not UsageRecord.objects.filter(request_id=origin.request_id).exists():
            raise
        raise RequestClosed(MSG_REQUEST_CLOSED, code="client_closed_request") from None
