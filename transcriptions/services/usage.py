"""What a job costs, for the usage log (billing): known once the job has ended."""

from billing.models import UsageRecord
from billing.rounding import billed_seconds
from billing.services import JobUsage, usage_record_settle

from ..models import Job


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
    """Settle pending usage rows whose job has ended: the rare row left behind when a process
    died between ending a job and settling its row. Safe to run any time."""
    settled = 0
    pending = UsageRecord.objects.filter(billed_seconds__isnull=True).exclude(job_id="")
    for record in pending.only("request_id", "job_id"):
        job = Job.objects.filter(public_id=record.job_id).first()
        if job is None:
            # Deleted by its owner: deleting cancels a running job first, so nothing was used.
            usage = JobUsage(audio_seconds=None, billed_seconds=0, error_code="job_deleted")
        else:
            usage = job_usage(job)
        settled += usage_record_settle(request_id=record.request_id, usage=usage)
    return settled
