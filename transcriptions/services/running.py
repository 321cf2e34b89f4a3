"""The worker side: take a turn (the next chunk by the fair policy), run the engine on that
chunk, and end the job when its last chunk is done.

A job's first chunk is its whole file until a worker takes it: that worker decodes the file
(bounded by what was measured and reserved), cuts it at silences, queues the other pieces for
any free worker and transcribes the first itself. A file of one chunk is transcribed at once,
as a single pass, with no extra step.
"""

import itertools
import logging
import string
from contextlib import contextmanager
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone
from django_q.exceptions import TimeoutException

from ops.workers import worker_identity

from .. import engine
from ..engine import chunking, diarization, limits, openai_models
from ..models import SAMPLE_RATE, Chunk, Job
from .chunks import (
    chunk_claim,
    chunk_name,
    in_file_time,
    job_chunks_plan,
    samples_load,
)
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


def chunk_run_next() -> str | None:
    """Run one turn: the chunk the policy picks, if any. Its name ("job_…#index", the task's
    result in the monitor), or None when nothing waited."""
    chunk = chunk_claim(worker=worker_identity())
    if chunk is None:
        return None
    chunk_run(chunk=chunk)
    return chunk_name(chunk.job, chunk.index)


def chunk_run(*, chunk: Chunk) -> None:
    """Transcribe one chunk; a failure ends its job (failed), never leaves it running."""
    job = chunk.job
    if job.is_finished:
        return
    try:
        if chunk.planned:
            samples = samples_load(chunk.samples_name)
        else:
            samples = _plan(job, chunk)
            if samples is None:
                return
        language = job.language or job.detected_language or None
        if language is None and job.languages:  # a file of one chunk: decided here
            language = engine.detect_language(samples, model_id=job.model, candidates=job.languages)
        result = engine.transcribe(
            samples,
            model_id=job.model,
            task=job.task,
            language=language,
            prompt=job.prompt,
            temperature=job.temperature,
            # A diarizing job cuts segments where the speaker changes, between words.
            word_timestamps=wants_words(job),
            on_segment=_progress_reporter(job, chunk),
            **_newer_options(job),
        )
    except limits.AudioLimitExceeded as exc:
        logger.warning("job %s: audio longer than measured (%s)", job.public_id, exc)
        Job.objects.filter(pk=job.pk).update(covered_seconds=job.reserved_seconds)
        job_fail(job=job, code="audio_too_long", message=MSG_LONGER_THAN_MEASURED)
        return
    except (Exception, TimeoutException) as exc:  # TimeoutException is a SystemExit
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


def wants_logprobs(job: Job) -> bool:
    return "logprobs" in (job.include or [])


def _plan(job: Job, chunk: Chunk) -> np.ndarray | None:
    """Decode the job's file and cut it; the first piece's samples, or None if the job ended."""
    with _audio_source(job) as source:
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


# --- Progress -----------------------------------------------------------------------------------


def _progress_reporter(job: Job, chunk: Chunk):
    if job.chunk_count <= 1:
        return _whole_file_progress(job)

    offset = chunk.start_seconds
    scores: list[dict[str, Any]] = []  # the chunk's tokens so far (with include=logprobs)

    def on_segment(
        segment: dict[str, Any], duration: float, logprobs: list[dict] | None = None
    ) -> None:
        fields: dict[str, Any] = {
            "partial_text": Concat(F("partial_text"), Value(segment["text"])),
            "covered_seconds": offset + segment["end"],
        }
        if logprobs is not None:
            scores.extend(logprobs)
            fields["partial_logprobs"] = scores
        Chunk.objects.filter(pk=chunk.pk, status=Chunk.Status.RUNNING).update(**fields)
        job_progress_refresh(job)

    return on_segment


def _whole_file_progress(job: Job):
    scores: list[dict[str, Any]] = []  # the file's tokens so far (with include=logprobs)

    def on_segment(
        segment: dict[str, Any], duration: float, logprobs: list[dict] | None = None
    ) -> None:
        progress = min(99, int(100 * segment["end"] / duration)) if duration else 0
        fields: dict[str, Any] = {
            "progress": progress,
            "partial_text": Concat(F("partial_text"), Value(segment["text"])),
        }
        if logprobs is not None:  # written with the text, so that a stream sees both at once
            scores.extend(logprobs)
            fields["partial_logprobs"] = scores
        if job.stream:  # its text goes to the client now: billed even if the job ends badly
            fields["covered_seconds"] = segment["end"]
        Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(**fields)
        if job.stream:
            job_notify(job.pk)

    return on_segment


def job_progress_refresh(job: Job) -> None:
    """A job of several chunks: its progress from all of them, and the text a stream may send:
    that of the chunks done from the start on, then what the first unfinished one decoded so far
    (text goes out in order, whichever chunk finishes first). Serialized per job, so that the
    text only ever grows."""
    with transaction.atomic():
        current = (
            Job.objects.select_for_update()
            .filter(pk=job.pk, status=Job.Status.RUNNING)
            .values_list("partial_text", flat=True)
            .first()
        )
        if current is None:
            return
        rows = Chunk.objects.filter(job_id=job.pk).order_by("index")
        scored = wants_logprobs(job)
        rows = rows.values_list(
            "status",
            "partial_text",
            "covered_seconds",
            "start_sample",
            "end_sample",
            "partial_logprobs",
        )
        text, covered, decoded, total, in_order = [], 0.0, 0.0, 0, True
        scores: list[dict[str, Any]] = []
        for status, partial, chunk_covered, start, end, partial_scores in rows:
            total += end - start
            done = status == Chunk.Status.DONE
            decoded += (end - start) if done else max(0.0, chunk_covered * SAMPLE_RATE - start)
            if in_order:
                text.append(partial)
                if scored:
                    scores.extend(partial_scores or [])
                if done:
                    covered = end / SAMPLE_RATE
                elif partial:
                    covered = chunk_covered
                in_order = done
        fields: dict[str, Any] = {"progress": min(99, int(100 * decoded / total)) if total else 0}
        prefix = "".join(text)
        grew = job.stream and len(prefix) > len(current)
        if grew:
            # Its text goes to the client now: billed even if the job ends badly.
            fields.update(partial_text=prefix, covered_seconds=covered)
            if scored:
                fields["partial_logprobs"] = scores
        Job.objects.filter(pk=job.pk).update(**fields)
    if grew:
        job_notify(job.pk)


# --- The end of a chunk, and of its job ---------------------------------------------------------


def _chunk_done(job: Job, chunk: Chunk, result: engine.TranscriptionResult) -> None:
    segments, words = in_file_time(result.segments, result.words, chunk=chunk)
    stored = {"language": result.language, "segments": segments, "words": words}
    scores: dict[str, Any] = {}
    if result.logprobs is not None:
        stored["logprobs"] = scores["partial_logprobs"] = result.logprobs
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
            partial_text="".join(s["text"] for s in segments),
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
        except (Exception, TimeoutException) as exc:  # TimeoutException is a SystemExit
            timed_out = isinstance(exc, TimeoutException)
            logger.exception("job %s failed (diarization)", job.public_id)
            job_fail(
                job=job,
                code="timeout" if timed_out else "engine_error",
                message=(MSG_TIMED_OUT if timed_out else MSG_ENGINE_FAILED).format(job=job),
            )
            return
    job_succeed(job=job, result=result)


def speakers_label(
    job: Job, result: engine.TranscriptionResult, *, samples: np.ndarray | None = None
) -> None:
    """Give the result's segments their speakers: the whole file (decoded again, bounded as
    _plan decodes it, unless given; the audio is kept until the job ends) diarized within
    Whisper's segments. A segment whose words (a diarizing job always asks for them) fall in
    two speakers' turns is cut where the speaker changes."""
    if not result.segments:
        return
    if samples is None:
        with _audio_source(job) as source:
            samples = limits.decode_bounded(
                source, max_seconds=job.probed_duration + limits.DECODE_MARGIN_SECONDS
            )
    known = {
        speaker["name"]: np.asarray(speaker["embedding"], dtype=np.float32)
        for speaker in job.known_speakers or []
    }
    turns = diarization.diarize(
        samples, regions=[(s["start"], s["end"]) for s in result.segments], known=known or None
    )
    words = result.words or []
    word_speakers = diarization.label_segments(words, turns) if words else []
    pieces: list[dict[str, Any]] = []
    taken = 0
    segment_speakers = diarization.label_segments(result.segments, turns)
    for number, (segment, speaker) in enumerate(
        zip(result.segments, segment_speakers, strict=True)
    ):
        last = number == len(result.segments) - 1
        inside = []  # the segment's words: those whose middle is before its end
        while taken < len(words) and (
            last or (words[taken]["start"] + words[taken]["end"]) / 2 < segment["end"]
        ):
            inside.append(taken)
            taken += 1
        runs: list[list[int]] = []
        for index in inside:
            if runs and word_speakers[runs[-1][-1]] == word_speakers[index]:
                runs[-1].append(index)
            else:
                runs.append([index])
        if len(runs) <= 1:
            pieces.append({**segment, "speaker": word_speakers[runs[0][0]] if runs else speaker})
            continue
        texts = _text_cut(segment["text"], [[words[i]["word"] for i in run] for run in runs])
        for run, text in zip(runs, texts, strict=True):
            pieces.append(
                {
                    **segment,
                    "start": words[run[0]]["start"],
                    "end": words[run[-1]]["end"],
                    "text": text,
                    "tokens": [],
                    "speaker": word_speakers[run[0]],
                }
            )
    # Letters by first appearance in the transcript (a turn too short to hold a segment of
    # its own could have taken a letter first).
    letters = iter(string.ascii_uppercase)
    renamed: dict[str, str] = {}
    for number, piece in enumerate(pieces):
        speaker = piece["speaker"]
        if len(speaker) == 1 and speaker in string.ascii_uppercase:
            if speaker not in renamed:
                renamed[speaker] = next(letters, speaker)
            piece["speaker"] = renamed[speaker]
        piece["id"] = number
    result.segments = pieces
    if "word" not in (job.timestamp_granularities or []):
        result.words = None


def _text_cut(text: str, runs: list[list[str]]) -> list[str]:
    """A segment's text cut before the first word of each run after the first, so that the
    pieces join to the text (as the stream's deltas do; spaces stay where Whisper wrote
    them, and scripts without spaces stay whole); the runs' words joined by spaces if a word
    is not found in it."""
    cuts, cursor = [0], 0
    for run in runs:
        found = text.find(run[0], cursor) if run[0] else -1
        if found < 0:
            return [" " + " ".join(run) for run in runs]
        cursor = found + len(run[0])
        if len(cuts) < len(runs) + 1 and run is not runs[0]:
            while found > cuts[-1] and text[found - 1].isspace():
                found -= 1
            cuts.append(found)
        for word in run[1:]:
            at = text.find(word, cursor) if word else -1
            if at >= 0:
                cursor = at + len(word)
    cuts.append(len(text))
    return [text[start:end] for start, end in itertools.pairwise(cuts)]


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
