"""Live transcription (the Realtime API's transcription sessions): each turn of a session's
audio becomes a job like any other, queued as an interactive chunk (ahead of async work, in
the fair order of transcriptions.dispatch) and run by the same workers. Nothing is decoded in
the web process.

A turn is billed as any synchronous request is: its seconds reserved against the month's
quota when it is committed (refused with QuotaExceeded when they are not there), settled with
the measured length when its job ends, refunded if it fails or is cancelled. Each turn leaves
one row in the usage log (endpoint REALTIME_ENDPOINT), settled when its job ends, so a bill
reads the same whether the audio came in a file or live. Audio never committed (cleared, or
left in the buffer when the client went away) is never transcribed, and billed only for what
its interim text covered (preview_billing).
"""

import io
import uuid
import wave
from dataclasses import dataclass, replace

import numpy as np
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile

import speech as engine
from accounts.models import ApiKey, Tenant
from billing.services import UsageOrigin, usage_record_create
from speech import SAMPLE_RATE
from transcriptions.models import Job
from transcriptions.services import AudioRequest, audio_request_build, job_cancel, job_submit
from transcriptions.services.waiting import job_wait_async

REALTIME_ENDPOINT = "/v1/realtime"
# The earlier turns' text given to the decoder with a turn (as Whisper conditions each window of
# a file on the text before it): this many characters of it at most, cut at a word.
CONTEXT_CHARS = 200
# A websocket has no HTTP method; the usage log's column says how the turn came.
REALTIME_METHOD = "WS"


@dataclass(frozen=True)
class LiveTranscription:
    """A session's transcription settings (OpenAI's `audio.input.transcription` + `include`)."""

    model: str = "whisper-1"
    language: str = ""
    prompt: str = ""
    logprobs: bool = False


def live_transcription_check(settings: LiveTranscription) -> AudioRequest:
    """The job parameters of the session's turns; refuses an unknown model, or a language the
    model cannot transcribe, when the session is configured rather than at its first turn."""
    return audio_request_build(
        task=Job.Task.TRANSCRIBE,
        data={
            "model": settings.model,
            "language": settings.language,
            "prompt": settings.prompt,
            "response_format": "json",
            "stream": True,  # the worker publishes each segment's text: the turn's deltas
            "include": ["logprobs"] if settings.logprobs else [],
        },
    )


def turn_prompt(settings: LiveTranscription, context: str) -> str:
    """The decoder's prompt for a turn: the session's prompt, then the end of what the
    session's earlier turns said."""
    context = context.strip()
    if len(context) > CONTEXT_CHARS:
        context = context[-CONTEXT_CHARS:].partition(" ")[2]
    return " ".join(part for part in (settings.prompt.strip(), context) if part)


def turn_window(seconds: float) -> int:
    """The encoder window of a turn's decode: engine.MIN_WINDOW_SECONDS for a turn that fits in
    it (a third of the encoder's work), else Whisper's own 30 s (0). Longer windows cut less
    and were not always as accurate (the 11 s jfk.flac over G.711 lost a word in 15 s), so only
    the shortest is used; REALTIME_FULL_WINDOW turns it off."""
    window = engine.window_seconds_for(seconds)
    if django_settings.REALTIME_FULL_WINDOW or window > engine.MIN_WINDOW_SECONDS:
        return 0
    return window


def wav_upload(samples: np.ndarray) -> SimpleUploadedFile:
    """A turn's 16 kHz int16 samples as the WAV file its job stores."""
    body = io.BytesIO()
    with wave.open(body, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(samples.astype("<i2").tobytes())
    return SimpleUploadedFile("turn.wav", body.getvalue(), content_type="audio/wav")


def _usage_origin(samples: np.ndarray) -> UsageOrigin:
    return UsageOrigin(
        request_id=f"req_{uuid.uuid4().hex}",
        method=REALTIME_METHOD,
        endpoint=REALTIME_ENDPOINT,
        status_code=200,
        request_bytes=int(samples.nbytes),
    )


def live_turn_submit(
    *,
    tenant: Tenant,
    api_key: ApiKey,
    settings: LiveTranscription,
    samples: np.ndarray,
    context: str = "",
) -> Job:
    """Queue one committed turn as an interactive job, with its usage row (written with the
    job, pending until the job's final transition settles it). Refusals (QuotaExceeded,
    TooManyJobs, QueueFull) are raised with nothing stored; the caller logs them with
    live_turn_refused. A fault before the job and its row are committed leaves neither.

    `context`: the session's earlier text (turn_prompt); the encoder window: turn_window."""
    params = replace(
        live_transcription_check(settings),
        prompt=turn_prompt(settings, context),
        encoder_window=turn_window(len(samples) / SAMPLE_RATE),
    )
    return job_submit(
        tenant=tenant,
        api_key=api_key,
        origin=_usage_origin(samples),
        params=params,
        upload=wav_upload(samples),
    )


def live_turn_refused(
    *,
    tenant: Tenant,
    api_key: ApiKey,
    settings: LiveTranscription,
    samples: np.ndarray,
    status_code: int,
    error_code: str,
) -> None:
    """The usage row of a turn that was refused (over quota, too many jobs): billed nothing."""
    origin = _usage_origin(samples)
    usage_record_create(
        request_id=origin.request_id,
        method=origin.method,
        endpoint=origin.endpoint,
        tenant=tenant,
        api_key=api_key,
        model=settings.model,
        request_bytes=origin.request_bytes,
        audio_seconds=len(samples) / SAMPLE_RATE,
        status_code=status_code,
        error_code=error_code,
        billed_seconds=0,
    )


async def live_turn_wait(job_pk: int, *, sent: int, timeout: float) -> Job:
    """The turn's job once it has more text than `sent` characters (its leading space aside),
    or has ended. A coroutine: the session waits in the event loop, not in a thread."""

    def moved_on(job: Job) -> bool:
        return job.is_finished or len(job.partial_text.lstrip()) > sent

    return await job_wait_async(job_pk, timeout=timeout, until=moved_on)


def live_turn_abandon(job_pk: int) -> None:
    """The session ended before its turn did: the worker stops at its next segment and the
    turn is billed only what it had already transcribed (job_cancel)."""
    job = Job.objects.filter(pk=job_pk).first()
    if job is not None and not job.is_finished:
        job_cancel(job=job)
