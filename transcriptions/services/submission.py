"""Submitting a job: check the request against the model and the plan, store the audio with
its job row, reserve its seconds, and queue it. Each step is a small function; what a failed
step leaves behind is undone in the reverse order."""

import hashlib
import re
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import InMemoryUploadedFile, UploadedFile
from django.db import transaction

import speech as engine
from accounts.models import ApiKey, Tenant
from billing.errors import BillingError, QuotaExceeded, TooManyJobs
from billing.models import DASHBOARD_ENDPOINT, IdempotencyRecord
from billing.rounding import billed_seconds
from billing.selectors import tenant_limits
from billing.services import (
    Reservation,
    UsageOrigin,
    idempotency_attach,
    idempotency_claim,
    idempotency_release,
    plan_check_duration,
    quota_check,
    quota_reserve,
    request_fingerprint,
    usage_record_create,
)
from speech import audio

from ..errors import (
    ModelCannotTranslate,
    ModelLanguagesUnsupported,
    ModelLanguageUnsupported,
    ModelNotFound,
    QueueFull,
    TranscriptionError,
)
from ..models import Job
from .callback_targets import callback_url_check
from .lifecycle import job_enqueue, job_fail
from .speakers import speaker_references_delete, speaker_references_store
from .storage import file_field_save
from .usage import job_usage_record_create

# Long audio is cut at silences by default (OpenAI's "auto"), unlike OpenAI where an unset
# chunking_strategy means one block: its chunks then run in parallel on every free worker, and
# other tenants' work takes turns with them (transcriptions.dispatch).
DEFAULT_CHUNKING = {"type": "auto"}

MSG_MODEL_NOT_FOUND = "The model `{model}` does not exist or you do not have access to it."
MSG_NO_TRANSLATION = (
    "The model `{model}` is English-only and cannot translate; use a multilingual model "
    "such as `whisper-1`."
)
MSG_ENGLISH_ONLY = (
    "The model `{model}` is English-only; it cannot transcribe language '{language}'."
)
MSG_ENGLISH_ONLY_LANGUAGES = (
    "The model `{model}` is English-only; it cannot transcribe any of the languages {languages}."
)
MSG_QUEUE_FULL = "The server is overloaded with queued jobs; please retry after a short wait."
MSG_ENQUEUE_FAILED = "Job {job} could not be queued."


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
    chunking_strategy: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_CHUNKING))
    # OpenAI's newer fields: `include[]` ("logprobs"), `keywords[]`, `languages[]`.
    include: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    # gpt-4o-transcribe-diarize's known speakers: (name, the reference's audio file), stored
    # with the job and embedded by its worker (services.speakers).
    known_speakers: tuple[tuple[str, bytes], ...] = ()
    # Live turns only (live.services.turn_jobs): the job's `encoder_window`.
    encoder_window: int = 0

    def fingerprint_fields(self) -> dict[str, Any]:
        """The fields an Idempotency-Key's request is recognised by. The newer fields count
        only when set, so that a request without them has the fingerprint it always had."""
        fields = asdict(self)
        for name in ("include", "keywords", "languages", "known_speakers", "encoder_window"):
            if not fields[name]:
                del fields[name]
        if self.known_speakers:  # the references by digest, not as bytes
            fields["known_speakers"] = [
                (name, hashlib.sha256(clip).hexdigest()) for name, clip in self.known_speakers
            ]
        return fields


def audio_request_build(
    *,
    task: str,
    data: dict[str, Any],
    is_async: bool = False,
    callback_addresses: list[str] | None = None,
) -> AudioRequest:
    """Resolve the model and check it can do what is asked (and the callback_url's host, by
    the addresses callback_url_resolve found, if given)."""
    requested = data["model"]
    model_id = engine.resolve_model_id(requested)
    if model_id is None:
        raise ModelNotFound(MSG_MODEL_NOT_FOUND.format(model=requested))
    spec = engine.registry()[model_id]
    language = data.get("language") or ""
    if not spec.multilingual:
        if task == Job.Task.TRANSLATE:
            raise ModelCannotTranslate(MSG_NO_TRANSLATION.format(model=requested))
        if language and language != "en":
            raise ModelLanguageUnsupported(
                MSG_ENGLISH_ONLY.format(model=requested, language=language)
            )
        languages = data.get("languages") or ()
        if languages and not language and "en" not in languages:
            listed = ", ".join(f"'{code}'" for code in languages)
            raise ModelLanguagesUnsupported(
                MSG_ENGLISH_ONLY_LANGUAGES.format(model=requested, languages=listed)
            )
    callback_url = data.get("callback_url") or ""
    if callback_url:
        callback_url_check(callback_url, addresses=callback_addresses)
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
        callback_url=callback_url,
        is_async=is_async,
        chunking_strategy=dict(data.get("chunking_strategy") or DEFAULT_CHUNKING),
        include=tuple(data.get("include") or ()),
        keywords=tuple(data.get("keywords") or ()),
        languages=tuple(data.get("languages") or ()),
        known_speakers=tuple(
            zip(
                data.get("known_speaker_names") or (),
                data.get("known_speaker_references") or (),
                strict=True,
            )
        ),
    )


def job_submit(
    *,
    tenant: Tenant,
    api_key: ApiKey | None,
    origin: UsageOrigin,
    params: AudioRequest,
    upload: UploadedFile,
) -> Job:
    """Probe the upload, check it against the plan, store it, reserve its seconds in the
    transaction that inserts its job row and the request's usage row (`origin`), and queue
    the job.

    With an Idempotency-Key (`origin.idempotency_key`) used in the last 24 hours for the same
    request, the first request's job is returned instead, with a usage row that says so:
    nothing is stored, reserved or billed again.
    """
    claim = None
    request_id = origin.request_id
    if origin.idempotency_key:
        fingerprint = request_fingerprint(fields=params.fingerprint_fields(), upload=upload)
        claim, first = _idempotency_claim(
            tenant=tenant,
            key=origin.idempotency_key,
            request_id=request_id,
            fingerprint=fingerprint,
        )
        if first is not None:
            job_usage_record_create(job=first, origin=origin, api_key=api_key, replayed=True)
            return first
    # Undone in reverse order if a later step fails (ExitStack.pop_all keeps them on success).
    with ExitStack() as undo:
        if claim is not None:
            undo.callback(idempotency_release, record=claim)
        limits = tenant_limits(tenant=tenant)
        info = audio.probe(
            upload,
            filename=upload.name or "",
            size=upload.size or 0,
            stop_after=limits.max_audio_seconds,
        )
        plan_check_duration(limits=limits, seconds=info.duration, declared=info.declared)
        seconds = billed_seconds(info.duration)
        quota_check(tenant=tenant, seconds=seconds, limits=limits)  # before the audio is stored
        queue_check_capacity()
        job = job_create(
            tenant=tenant,
            api_key=api_key,
            origin=origin,
            params=params,
            upload=upload,
            info=info,
            reserve=lambda: quota_reserve(tenant=tenant, seconds=seconds, limits=limits),
        )
        undo.pop_all()
    if claim is not None:
        idempotency_attach(record=claim, job_id=job.public_id)
    _job_queue(job)
    return job


def _idempotency_claim(
    *, tenant: Tenant, key: str, request_id: str, fingerprint: str
) -> tuple[IdempotencyRecord, Job | None]:
    """This request's claim on the key, and the first request's job when there is one."""
    while True:
        claim = idempotency_claim(
            tenant=tenant, key=key, request_id=request_id, fingerprint=fingerprint
        )
        if not claim.job_id:
            return claim, None
        first = Job.objects.filter(tenant=tenant, public_id=claim.job_id).first()
        if first is not None:
            return claim, first
        # Its owner deleted the first job since: this request starts afresh.
        idempotency_release(record=claim)


def _job_queue(job: Job) -> None:
    """Queue a stored job; one that cannot be queued is ended (which refunds its reservation)
    rather than left waiting."""
    with ExitStack() as undo:
        undo.callback(
            job_fail,
            job=job,
            code="enqueue_failed",
            message=MSG_ENQUEUE_FAILED.format(job=job.public_id),
            from_statuses=(Job.Status.QUEUED,),
        )
        job_enqueue(job=job)
        undo.pop_all()


def queue_check_capacity() -> None:
    """Refuse when too many jobs wait already: better a quick "retry later" than a request that
    waits for minutes. (A soft limit: two racing requests may both pass at the edge.)"""
    if Job.objects.filter(status=Job.Status.QUEUED).count() >= settings.MAX_QUEUED_JOBS:
        raise QueueFull(MSG_QUEUE_FULL, retry_after=settings.QUEUE_FULL_RETRY_AFTER)


def job_create(
    *,
    tenant: Tenant,
    api_key: ApiKey | None,
    origin: UsageOrigin,
    params: AudioRequest,
    upload: UploadedFile,
    info: audio.AudioInfo,
    reserve: Callable[[], Reservation] | None = None,
) -> Job:
    """Store the audio, then insert the job with its request's usage row, in one transaction.

    `reserve`: the job's seconds and concurrency slot, taken in that transaction, so that they
    are held only with the job: a request that fails, or whose process is SIGKILLed, before
    the commit holds nothing (issue 29), where a reservation of its own, committed first, was
    held for good by a process killed before the job was stored."""
    job = Job(
        tenant=tenant,
        api_key=api_key,
        request_id=origin.request_id,
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
        chunking_strategy=params.chunking_strategy,
        include=list(params.include),
        keywords=list(params.keywords),
        languages=list(params.languages),
        encoder_window=params.encoder_window,
        audio_filename=(upload.name or "")[:255],
        audio_bytes=upload.size or 0,
        audio_format=info.container[:32],
        probed_duration=info.duration,
    )
    upload.seek(0)
    file_field_save(job.audio, job.public_id, _in_pieces(upload))  # no half-written file
    # The row must land, or the stored audio must not outlive it.
    with ExitStack() as undo:
        undo.callback(job.audio.delete, save=False)
        undo.callback(speaker_references_delete, job=job)
        job.known_speakers = speaker_references_store(job=job, speakers=params.known_speakers)
        with transaction.atomic():
            if reserve is not None:
                reservation = reserve()
                job.reserved_seconds, job.quota_period = reservation.seconds, reservation.period
            job.save()
            job_usage_record_create(job=job, origin=origin)
        undo.pop_all()
    return job


def _in_pieces(upload: UploadedFile) -> File:
    """What the storage is given to write: an upload held in memory, in 64 KB pieces.

    InMemoryUploadedFile.chunks() gives the storage the whole file as one piece, and one write(2)
    of a megabyte is several times slower than 64 KB writes, before every short synchronous
    request's job can start. An upload spooled to disk is left as it is: the storage moves it."""
    if isinstance(upload, InMemoryUploadedFile):
        return File(upload.file, name=upload.name)
    return upload


# --- Submitted by a person (the dashboard) ------------------------------------------------------


def _refusal_code(refused: Exception) -> str:
    """The usage row's error code of a refused submission: the error's own code, or its
    class name in snake case (QuotaExceeded: quota_exceeded)."""
    code = getattr(refused, "code", None)
    return code or re.sub(r"(?<!^)(?=[A-Z])", "_", type(refused).__name__).lower()


def _refusal_status(refused: Exception) -> int:
    if isinstance(refused, (QuotaExceeded, TooManyJobs)):
        return 429
    if isinstance(refused, QueueFull):
        return 503
    return 400


def job_submit_recorded(
    *,
    tenant: Tenant,
    params: AudioRequest,
    upload: UploadedFile,
    endpoint: str = DASHBOARD_ENDPOINT,
) -> Job:
    """Submit a job as job_submit does (the same checks, quota and queue, the same usage row
    with the job) for a surface other than the API; a refused one gets its usage row here,
    with its error code (the refusal is raised again for the caller to show)."""
    origin = UsageOrigin(
        request_id=f"req_{uuid.uuid4().hex}",
        method="POST",
        endpoint=endpoint,
        status_code=202,
        request_bytes=upload.size or 0,
        started=time.perf_counter(),
    )
    try:
        return job_submit(tenant=tenant, api_key=None, origin=origin, params=params, upload=upload)
    except (TranscriptionError, BillingError) as refused:
        usage_record_create(
            request_id=origin.request_id,
            method=origin.method,
            endpoint=endpoint,
            tenant=tenant,
            model=params.requested_model,
            request_bytes=origin.request_bytes,
            status_code=_refusal_status(refused),
            error_code=_refusal_code(refused),
            processing_ms=round((time.perf_counter() - origin.started) * 1000),
        )
        raise
