"""The life of a transcription job: submit (validate, store, queue), run, finish."""

import logging
from contextlib import contextmanager
from dataclasses import dataclass
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
from config.errors import SERVER_ERROR, ApiError

from . import audio, engine
from .models import Job
from .waiting import job_notify

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


def audio_request_build(*, task: str, data: dict[str, Any]) -> AudioRequest:
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
    )


def job_submit(
    *,
    tenant: Tenant,
    api_key: ApiKey | None,
    request_id: str,
    params: AudioRequest,
    upload: UploadedFile,
) -> Job:
    """Probe the upload, store it with its job row, and queue the job."""
    info = audio.probe(upload, filename=upload.name or "", size=upload.size or 0)
    job = job_create(
        tenant=tenant,
        api_key=api_key,
        request_id=request_id,
        params=params,
        upload=upload,
        info=info,
    )
    job_enqueue(job=job)
    return job


def job_create(
    *,
    tenant: Tenant,
    api_key: ApiKey | None,
    request_id: str,
    params: AudioRequest,
    upload: UploadedFile,
    info: audio.AudioInfo,
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
        audio_filename=(upload.name or "")[:255],
        audio_bytes=upload.size or 0,
        audio_format=info.container[:32],
        probed_duration=info.duration,
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
    # Queued only once the row is committed, or a fast worker could look for it in vain.
    transaction.on_commit(
        lambda: async_task(
            "transcriptions.tasks.run_job",
            job.pk,
            task_name=job.public_id,
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


def _claim(job_pk: int) -> Job | None:
    """queued -> running. A job still `running` is one whose worker died: it may run again."""
    claimed = Job.objects.filter(
        pk=job_pk, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]
    ).update(status=Job.Status.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1)
    if not claimed:
        return None  # cancelled or finished meanwhile: nothing to do
    return Job.objects.get(pk=job_pk)


def job_run(*, job_pk: int) -> None:
    """Run one job to its end: succeeded or failed, never left running by an exception."""
    job = _claim(job_pk)
    if job is None:
        return
    if job.attempts > MAX_JOB_ATTEMPTS:
        job_fail(job=job, code="worker_interrupted", message=MSG_INTERRUPTED.format(job=job))
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


def _finish(job: Job, **fields: Any) -> bool:
    """running -> a final state, once; False when someone else (a cancel) got there first."""
    fields.setdefault("finished_at", timezone.now())
    finished = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(**fields)
    if finished and not settings.RETAIN_AUDIO and job.audio:
        job.audio.delete(save=False)
        Job.objects.filter(pk=job.pk).update(audio="")
    job_notify(job.pk)
    return bool(finished)


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


def job_fail(*, job: Job, code: str, message: str) -> bool:
    return _finish(job, status=Job.Status.FAILED, error_code=code, error_message=message)


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
