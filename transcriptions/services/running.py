"""The worker side of a job: claim this attempt, run the engine, end the job."""

import logging
from contextlib import contextmanager
from typing import Any

from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone
from django_q.exceptions import TimeoutException

from ops.workers import worker_identity

from .. import engine
from ..engine import limits
from ..models import Job
from .lifecycle import MSG_ENGINE_FAILED, job_fail, job_succeed
from .waiting import job_notify

logger = logging.getLogger(__name__)

MSG_TIMED_OUT = "The transcription did not finish in time (job {job})."
MSG_LONGER_THAN_MEASURED = (
    "The audio decodes to more than its measured length; it was refused at that length and "
    "billed for it."
)


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
        fields: dict[str, Any] = {
            "progress": progress,
            "partial_text": Concat(F("partial_text"), Value(segment["text"])),
        }
        if job.stream:  # its text goes to the client now: billed even if the job ends badly
            fields["covered_seconds"] = segment["end"]
        Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(**fields)
        if job.stream:
            job_notify(job.pk)

    try:
        with _audio_source(job) as source:
            # Never more than was measured and reserved (plus a margin), whatever the file
            # claims: memory and billing both stop there.
            samples = limits.decode_bounded(
                source, max_seconds=job.probed_duration + limits.DECODE_MARGIN_SECONDS
            )
            result = engine.transcribe(
                samples,
                model_id=job.model,
                task=job.task,
                language=job.language or None,
                prompt=job.prompt,
                temperature=job.temperature,
                word_timestamps="word" in (job.timestamp_granularities or []),
                on_segment=on_segment,
            )
    except limits.AudioLimitExceeded as exc:
        logger.warning("job %s: audio longer than measured (%s)", job.public_id, exc)
        Job.objects.filter(pk=job.pk).update(covered_seconds=job.reserved_seconds)
        job_fail(job=job, code="audio_too_long", message=MSG_LONGER_THAN_MEASURED)
        return
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
