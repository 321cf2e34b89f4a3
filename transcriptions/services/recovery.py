"""Jobs whose worker died (retried once, then failed), operators' retries, and the periodic
housekeeping schedule, defined in one place."""

import logging
import uuid
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.models import Schedule

from billing.rounding import billed_seconds
from billing.services import quota_release, quota_reserve, usage_record_create
from ops.workers import dead_workers

from ..models import Chunk, Job
from . import chunks
from .chunks import chunk_name, chunk_requeue, job_chunks_files_delete
from .lifecycle import job_enqueue, job_fail

logger = logging.getLogger(__name__)

MSG_INTERRUPTED = "The worker running job {job} stopped before finishing it."
# A job handed out again after its worker died is tried this many times in all.
MAX_JOB_ATTEMPTS = 2
# The usage log's endpoint for an operator's retry (not an API path: no client called it).
RETRY_ENDPOINT = "admin: retry job"


def chunks_recover(*, dead_workers: set[str]) -> dict[str, int]:
    """Chunks left running by dead worker processes: each is queued again (only that chunk is
    decoded again) up to MAX_JOB_ATTEMPTS, then its job fails (which refunds its quota).
    Returns how many of each."""
    counts = {"requeued": 0, "failed": 0}
    running = Chunk.objects.filter(status=Chunk.Status.RUNNING, worker__in=dead_workers)
    for chunk in running.select_related("job"):
        job = chunk.job
        logger.warning(
            "job %s chunk %s lost its worker %s (attempt %s)",
            job,
            chunk.index,
            chunk.worker,
            chunk.attempts,
        )
        if chunk.attempts < MAX_JOB_ATTEMPTS and not job.is_finished:
            counts["requeued"] += chunk_requeue(chunk=chunk)
        else:
            counts["failed"] += job_fail(
                job=job, code="worker_interrupted", message=MSG_INTERRUPTED.format(job=job)
            )
            Chunk.objects.filter(pk=chunk.pk).update(status=Chunk.Status.CANCELLED)
    return counts


# The name of earlier layouts, where a job was one unit of work.
jobs_recover = chunks_recover


def job_retry(*, job: Job) -> bool:
    """failed -> queued again, for an operator (admin action). Only a job whose audio is still
    stored (RETAIN_AUDIO) can run again; False when it cannot or someone else moved it first.

    A retry is a new run like any request: it holds the tenant's seconds and a concurrency slot
    again (QuotaExceeded / TooManyJobs when there are none left), and it is billed through a
    usage row of its own, settled when it ends, as the API's requests are."""
    if job.status != Job.Status.FAILED or not job.audio:
        return False
    reservation = quota_reserve(tenant=job.tenant, seconds=billed_seconds(job.probed_duration))
    request_id = f"req_retry_{uuid.uuid4().hex}"
    with transaction.atomic():
        retried = (
            Job.objects.filter(pk=job.pk, status=Job.Status.FAILED)
            .exclude(audio="")
            .update(
                status=Job.Status.QUEUED,
                progress=0,
                partial_text="",
                partial_logprobs=[],
                covered_seconds=0.0,
                chunk_count=0,
                error_code="",
                error_message="",
                started_at=None,
                finished_at=None,
                request_id=request_id,
                reserved_seconds=reservation.seconds,
                quota_period=reservation.period,
                quota_settled_at=None,
            )
        )
        if retried:
            usage_record_create(
                request_id=request_id,
                method="POST",
                endpoint=RETRY_ENDPOINT,
                status_code=202,
                tenant=job.tenant,
                api_key=job.api_key,
                model=job.requested_model,
                job_id=job.public_id,
                audio_seconds=job.probed_duration,
                billed_seconds=None,  # settled when the retried job ends
            )
        if retried:
            job_chunks_files_delete(job_pk=job.pk)
            job.chunks.all().delete()
    if not retried:
        quota_release(reservation=reservation)
        return False
    job.refresh_from_db()
    job_enqueue(job=job)
    return True


def recover_orphaned_jobs() -> dict[str, int]:
    job_workers = set(
        Chunk.objects.filter(status=Chunk.Status.RUNNING)
        .exclude(worker="")
        .values_list("worker", flat=True)
    )
    if not job_workers:
        return {"requeued": 0, "failed": 0}
    return chunks_recover(dead_workers=dead_workers(job_workers=job_workers))


def turns_resupply() -> int:
    """Queued chunks while no chunk runs anywhere: their turns were lost (a broker restarted
    without its tasks, a turn that went to a full cluster). A worker that ends a chunk takes
    the next itself, so only a platform with nothing running can be left waiting; it is given
    a turn per queued job. A turn too many finds nothing and ends at once."""
    if Chunk.objects.filter(status=Chunk.Status.RUNNING).exists():
        return 0
    firsts = {}
    for chunk in Chunk.objects.filter(status=Chunk.Status.QUEUED).select_related("job"):
        firsts.setdefault(chunk.job_id, chunk)
    chunks.turns_enqueue([chunk_name(chunk.job, chunk.index) for chunk in firsts.values()])
    return len(firsts)


# A job stored this long ago and still without its first chunk lost the request that was to
# queue it (its web process killed between the two): long past any request's own queuing.
UNQUEUED_AFTER = timedelta(minutes=1)


def jobs_unqueued_enqueue(*, now=None) -> int:
    """Queue the jobs whose request stored them and died before queuing their first chunk (a
    web process SIGKILLed, issue 29): they would stay queued for good, their quota reserved.
    How many were queued."""
    stored_before = (now or timezone.now()) - UNQUEUED_AFTER
    queued = 0
    stranded = Job.objects.filter(
        status=Job.Status.QUEUED, created_at__lt=stored_before, chunks__isnull=True
    )
    for job in stranded:
        try:
            job_enqueue(job=job)
        except IntegrityError:  # its first chunk was queued meanwhile (unique per index)
            continue
        logger.warning("job %s was stored but never queued: queued now", job)
        queued += 1
    return queued


# Periodic tasks, defined in one place and installed after every `migrate` (apps.py).
SCHEDULES = {
    "recover-orphaned-jobs": ("transcriptions.tasks.recover_orphaned_jobs", Schedule.MINUTES, 1),
    "purge-expired-transcripts": ("transcriptions.tasks.purge_expired", Schedule.HOURLY, None),
    # Old idempotency keys, usage rows past USAGE_RETENTION_DAYS.
    "usage-housekeeping": ("transcriptions.tasks.housekeeping", Schedule.HOURLY, None),
    "task-history-keep": ("transcriptions.tasks.task_history_keep", Schedule.MINUTES, 1),
}
# Schedules of earlier layouts, removed by the next migrate (their function moved).
RETIRED_SCHEDULES = ("accounts-housekeeping",)


def schedules_install() -> None:
    Schedule.objects.filter(name__in=RETIRED_SCHEDULES).delete()
    for name, (func, schedule_type, minutes) in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": schedule_type,
                "minutes": minutes,
                "repeats": -1,
            },
        )
