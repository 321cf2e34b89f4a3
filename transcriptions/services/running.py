"""The worker side: take a turn (the next chunk by the fair policy), run the engine on that
chunk, and end the job when its last chunk is done.

A job's first chunk is its whole file until a worker takes it: that worker decodes the file
(bounded by what was measured and reserved), cuts it at silences, queues the other pieces for
any free worker and transcribes the first itself. A file of one chunk is transcribed at once,
as a single pass. Speech Whisper left out of a chunk (or of a file of one) is decoded again and
spliced in: _every_stretch_heard. Progress as it goes: progress.py; speakers of a diarizing
job, once all its chunks are merged: speakers.py.
"""

import logging
import time
from dataclasses import replace
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.exceptions import TimeoutException

import speech as engine
from ops.outages import is_outage, through_outage
from ops.workers import worker_identity
from speech import SAMPLE_RATE, chunking, coverage, limits, word_times

from ..models import Chunk, Job
from ..openai import policy as openai_models
from . import chunks, lanes
from .chunks import (
    chunk_claim,
    chunk_name,
    chunk_requeue,
    in_file_time,
    job_audio_source,
    job_chunks_plan,
    samples_load,
)
from .lifecycle import MSG_ENGINE_FAILED, job_fail, job_succeed
from .progress import job_progress_refresh, progress_reporter, text_not_sent, wants_logprobs
from .speakers import (
    ENCODER_UNAVAILABLE,
    MSG_ENCODER_MISSING,
    SpeakerEncoderUnavailable,
    known_speakers_embed,
    speaker_encoder_check,
    speakers_label,
)

logger = logging.getLogger(__name__)

MSG_TIMED_OUT = "The transcription did not finish in time (job {job})."
MSG_LONGER_THAN_MEASURED = (
    "The audio decodes to more than its measured length; it was refused at that length and "
    "billed for it."
)


def chunk_run_next() -> str | None:
    """Run the chunk the policy picks, if any (one step of a turn). Its name ("job_…#index"),
    or None when nothing waited."""
    chunk = chunk_claim(worker=worker_identity())
    if chunk is None:
        return None
    chunk_run(chunk=chunk)
    return chunk_name(chunk.job, chunk.index)


def turn_run() -> str | None:
    """A turn, as a worker runs it: chunk after chunk by the policy until none is left that
    this worker may take; their names (the task's result in the monitor), or None.

    A worker that frees takes the next chunk itself rather than waiting for a turn to reach it:
    the turn may have gone to a worker that may not take batch work (lanes.py). The loop stops
    after a third of JOB_TIMEOUT, so that the chunk it runs last never meets the task's timeout
    (which would fail that chunk's job), and hands what is left to a new turn."""
    deadline = time.monotonic() + settings.JOB_TIMEOUT / 3
    names: list[str] = []
    while time.monotonic() < deadline:
        with lanes.batch_place() as place:
            chunk = chunk_claim(worker=worker_identity(), interactive_only=not place.taken)
            if chunk is None:
                return ", ".join(names) or None
            if chunk.interactive:
                place.release()  # a client's chunk leaves the place to batch work
                chunk_run(chunk=chunk)
            else:
                with lanes.batch_priority():
                    chunk_run(chunk=chunk)
        names.append(chunk_name(chunk.job, chunk.index))
    queued = Chunk.objects.filter(status=Chunk.Status.QUEUED).order_by("arrived_at").first()
    if queued is not None:
        chunks.turns_enqueue([chunk_name(queued.job, queued.index)])
    return ", ".join(names)


def chunk_run(*, chunk: Chunk) -> None:
    """Transcribe one chunk; a failure ends its job (failed), never leaves it running. A
    backend outage on the way (the database restarted, Redis gone: ops.outages) is not the
    job's failure: the chunk is put back for a turn once the backend is back, and the job's
    client still gets its answer; the chunk is decoded again, billed once (its job settles
    once, whoever ends it)."""
    try:
        _chunk_run(chunk)
    except Exception as exc:
        if not is_outage(exc):
            raise
        logger.warning("job %s chunk %s: backend out (%s), put back", chunk.job, chunk.index, exc)
        # Tried until the backend is back, for as long as the task may run: a chunk left
        # running under a live worker would be recovered by no one. If the outage outlasts
        # the task's timeout, django-q2 ends this worker process, and a dead worker's chunks
        # are queued again by recovery (its replacement's start, the minute's housekeeping).
        through_outage(
            lambda: chunk_requeue(chunk=chunk), within=settings.JOB_TIMEOUT, what="chunk put back"
        )


def _chunk_run(chunk: Chunk) -> None:
    job = chunk.job
    if job.is_finished:
        return
    try:
        if chunk.planned:
            samples = samples_load(chunk.samples_name)
        else:
            if openai_models.diarizes(job.requested_model):
                # Before any transcription: a job that could not be labelled fails now.
                speaker_encoder_check()
                known_speakers_embed(job)
            samples = _plan(job, chunk)
            if samples is None:
                return
        language = job.language or job.detected_language or None
        if language is None and job.languages:  # a file of one chunk: decided here
            language = engine.detect_language(samples, model_id=job.model, candidates=job.languages)
        options = {
            "model_id": job.model,
            # One budget of sampled windows for the chunk and the stretches decoded again in it.
            "seeded_budget": engine.SeededBudget.for_audio(len(samples) / SAMPLE_RATE),
            "task": job.task,
            "language": language,
            "temperature": job.temperature,
            # A diarizing job cuts segments where the speaker changes, between words; every
            # job but a live turn needs them to find the speech Whisper left out.
            "word_timestamps": wants_words(job) or not job.encoder_window,
            **_newer_options(job),
            **_live_options(job),
        }
        result = engine.transcribe(
            samples, prompt=job.prompt, on_segment=progress_reporter(job, chunk), **options
        )
        if not job.encoder_window:
            result = _every_stretch_heard(job, samples, result, options)
        if not wants_words(job):
            result = replace(result, words=None)
    except SpeakerEncoderUnavailable:
        _encoder_unavailable(job)
        return
    except limits.AudioLimitExceeded as exc:
        logger.warning("job %s: audio longer than measured (%s)", job.public_id, exc)
        Job.objects.filter(pk=job.pk).update(covered_seconds=job.reserved_seconds)
        job_fail(job=job, code="audio_too_long", message=MSG_LONGER_THAN_MEASURED)
        return
    except (Exception, TimeoutException) as exc:  # TimeoutException is a SystemExit
        if is_outage(exc):
            raise  # not the job's failure: chunk_run puts the chunk back
        if not Job.objects.filter(pk=job.pk).exists():
            # Its owner deleted it meanwhile (DELETE removes the audio under the decode).
            logger.info("job %s deleted while chunk %s ran", job.public_id, chunk.index)
            return
        timed_out = isinstance(exc, TimeoutException)
        logger.exception("job %s failed (chunk %s)", job.public_id, chunk.index)
        job_fail(
            job=job,
            code="timeout" if timed_out else "engine_error",
            message=(MSG_TIMED_OUT if timed_out else MSG_ENGINE_FAILED).format(job=job),
        )
        return
    if job.chunk_count <= 1:
        _succeed(job, result, samples=samples)  # one chunk: its samples are the whole file
    else:
        _chunk_done(job, chunk, result)


def _encoder_unavailable(job: Job) -> None:
    logger.error("job %s: no speaker encoder on this worker", job.public_id, exc_info=True)
    job_fail(job=job, code=ENCODER_UNAVAILABLE, message=MSG_ENCODER_MISSING)


# Speech left out is looked for again after each round of retakes (a retake may itself leave
# some out), at most this many rounds; a stretch is never decoded twice.
RETAKE_ROUNDS = 2


def _every_stretch_heard(
    job: Job, samples: np.ndarray, result: engine.TranscriptionResult, options: dict[str, Any]
) -> engine.TranscriptionResult:
    """The window's transcript with the speech Whisper left out of it (anywhere: start,
    middle, end) decoded again, each stretch on its own, at a speaking level, with the text
    before it as the prompt, and spliced in (speech/coverage.py); then the last word of each
    stretch of speech ends where the speech does (speech/word_times.py). Live turns are not
    looked at: they are one utterance, and a client waits on each."""
    if result.words is None:  # an engine that gave no words: nothing to measure
        return result
    vad = chunking.VadSettings.from_strategy(job.chunking_strategy or {"type": "auto"})
    regions = chunking.speech_regions(samples, vad)
    # The window's language, as a long-form pass keeps it: a short stretch is no basis for one.
    options = {**options, "language": options["language"] or result.language}
    tried: list[tuple[int, int]] = []
    for _ in range(RETAKE_ROUNDS):
        marks = coverage.marks(result, task=options.get("task"))
        stretches = [
            (start, end)
            for start, end in coverage.uncovered_stretches(samples, marks, vad=vad, regions=regions)
            if not any(start < done_end and done_start < end for done_start, done_end in tried)
        ]
        if not stretches:
            break
        retakes = []
        for start, end in stretches:
            logger.info(
                "job %s: speech at %.1f-%.1f s left out, decoded again",
                job.public_id,
                start / SAMPLE_RATE,
                end / SAMPLE_RATE,
            )
            before = coverage.text_before(result, start / SAMPLE_RATE)
            prompt = " ".join(part for part in (job.prompt, before) if part)
            retake = engine.transcribe(
                coverage.leveled(samples[start:end]), prompt=prompt, **options
            )
            retakes.append((start, retake))
        tried += stretches
        heard = [
            (start / SAMPLE_RATE, end / SAMPLE_RATE)
            for start, end in coverage.speech_uncovered(regions, marks)
        ]
        result = coverage.results_spliced(result, retakes, model_id=job.model, heard=heard)
    # Last, so that a word's stretched end hides nothing from the look for speech left out.
    return word_times.word_ends_at_speech(result, regions)


def _live_options(job: Job) -> dict[str, Any]:
    """A live turn's shorter encoder window; nothing for any other job."""
    options: dict[str, Any] = {}
    if job.encoder_window:
        options["window_seconds"] = job.encoder_window
    return options


def _newer_options(job: Job) -> dict[str, Any]:
    """engine.transcribe's arguments for OpenAI's newer fields, only those the job set (the
    engine is called exactly as before without them)."""
    options: dict[str, Any] = {}
    if job.keywords:
        options["keywords"] = job.keywords
    if wants_logprobs(job):
        options["logprobs"] = True
    return options


def wants_words(job: Job) -> bool:
    return "word" in (job.timestamp_granularities or []) or openai_models.diarizes(
        job.requested_model
    )


def _plan(job: Job, chunk: Chunk) -> np.ndarray | None:
    """Decode the job's file and cut it; the first piece's samples, or None if the job ended."""
    with job_audio_source(job) as source:
        # Never more than was measured and reserved (plus a margin), whatever the file
        # claims: memory and billing both stop there.
        samples = limits.decode_bounded(
            source, max_seconds=job.probed_duration + limits.DECODE_MARGIN_SECONDS
        )
    bounds = chunking.chunk_bounds(
        samples,
        vad=chunking.VadSettings.from_strategy(job.chunking_strategy or {"type": "auto"}),
        max_seconds=settings.CHUNK_MAX_SECONDS,
    )
    if len(bounds) == 1:
        job.chunk_count = 1  # recorded when the job ends (one row written less per job)
        return samples
    # One pass decides the language from the first 30 s and keeps it; so do the chunks (among
    # the job's candidate `languages`, when it has some).
    language = job.language or engine.detect_language(
        samples, model_id=job.model, candidates=job.languages or ()
    )
    if not job_chunks_plan(job=job, chunk=chunk, samples=samples, bounds=bounds, language=language):
        return None
    return samples[: bounds[0][1]]


# --- The end of a chunk, and of its job ---------------------------------------------------------


def _chunk_done(job: Job, chunk: Chunk, result: engine.TranscriptionResult) -> None:
    segments, words = in_file_time(result.segments, result.words, chunk=chunk)
    stored = {"language": result.language, "segments": segments, "words": words}
    # The chunk's text as a stream sends it: what it reported as it decoded, then what was
    # decoded again after it (its text only ever grows).
    sent, sent_scores = Chunk.objects.values_list("partial_text", "partial_logprobs").get(
        pk=chunk.pk
    )
    rest, rest_scores = text_not_sent(sent, segments, result.logprobs)
    scores: dict[str, Any] = {}
    if result.logprobs is not None:
        stored["logprobs"] = result.logprobs
        scores["partial_logprobs"] = (sent_scores or []) + rest_scores
    with transaction.atomic():
        # Serialized per job: of two workers ending its last two chunks, the later sees both.
        active = Job.objects.select_for_update().filter(pk=job.pk, status=Job.Status.RUNNING)
        if not active.exists():
            return
        done = Chunk.objects.filter(
            pk=chunk.pk, status=Chunk.Status.RUNNING, attempts=chunk.attempts
        ).update(
            status=Chunk.Status.DONE,
            finished_at=timezone.now(),
            result=stored,
            partial_text=sent + rest,
            covered_seconds=chunk.end_sample / SAMPLE_RATE,
            **scores,
        )
        last = (
            done
            and not Chunk.objects.filter(job_id=job.pk).exclude(status=Chunk.Status.DONE).exists()
        )
    if not done:
        return  # the chunk was given to another worker meanwhile: its result counts
    if not last:
        job_progress_refresh(job)
        return
    _succeed(job, job_result_merge(job))


def _succeed(
    job: Job, result: engine.TranscriptionResult, *, samples: np.ndarray | None = None
) -> None:
    """End the job with its (merged) result; a diarizing model's segments get their speakers
    first, from the whole file diarized once (so that the letters agree across chunks)."""
    if openai_models.diarizes(job.requested_model):
        try:
            speakers_label(job, result, samples=samples)
        except SpeakerEncoderUnavailable:
            _encoder_unavailable(job)
            return
        except (Exception, TimeoutException) as exc:  # TimeoutException is a SystemExit
            timed_out = isinstance(exc, TimeoutException)
            logger.exception("job %s failed (diarization)", job.public_id)
            job_fail(
                job=job,
                code="timeout" if timed_out else "engine_error",
                message=(MSG_TIMED_OUT if timed_out else MSG_ENGINE_FAILED).format(job=job),
            )
            return
    if openai_models.reports_tokens(job.requested_model):
        result.text_tokens = engine.text_token_count(
            model_id=job.model, prompt=job.prompt, keywords=job.keywords or ()
        )
        result.output_tokens = engine.output_token_count(
            model_id=job.model, segments=result.segments
        )
    job_succeed(job=job, result=result)


def job_result_merge(job: Job) -> engine.TranscriptionResult:
    """One result from all the chunks, as one pass over the file reports it: segments numbered
    from 0 in order, times in the file, the language decided for the whole file, the tokens'
    log probabilities (when asked for) in chunk order."""
    segments: list[dict[str, Any]] = []
    words: list[dict[str, Any]] | None = None
    scores: list[dict[str, Any]] = []
    language, end = "", 0
    for result, end_sample in (
        Chunk.objects.filter(job_id=job.pk).order_by("index").values_list("result", "end_sample")
    ):
        language = language or result["language"]
        for segment in result["segments"]:
            segments.append({**segment, "id": len(segments)})
        if result["words"] is not None:
            words = (words or []) + result["words"]
        scores.extend(result.get("logprobs") or [])
        end = end_sample
    return engine.TranscriptionResult(
        language=job.language or job.detected_language or language,
        duration=round(end / SAMPLE_RATE, 3),
        text="".join(s["text"] for s in segments).strip(),
        segments=segments,
        words=words if wants_words(job) else None,
        logprobs=scores if wants_logprobs(job) else None,
    )
