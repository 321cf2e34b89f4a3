"""A running job's progress as its worker decodes it: the percentage, and the text (and token
log probabilities) a stream may already send, whole-file or gathered in order from its chunks."""

import time
from typing import Any

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat

from speech import SAMPLE_RATE

from ..models import Chunk, Job
from .waiting import job_notify


def wants_logprobs(job: Job) -> bool:
    """include[]=logprobs: the tokens' log probabilities go with the text."""
    return "logprobs" in (job.include or [])


def progress_reporter(job: Job, chunk: Chunk):
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


# A job that nobody streams writes its progress at most this often, the first time after this
# long: a short file's decode (in the worker's own thread) is not slowed by writes that nobody
# reads. A stream writes at every segment: its text goes to the client at once.
PROGRESS_INTERVAL = 1.0


def _whole_file_progress(job: Job):
    scores: list[dict[str, Any]] = []  # the file's tokens so far (with include=logprobs)
    unwritten: list[str] = []  # text decoded since the last write
    written_at = time.monotonic()

    def on_segment(
        segment: dict[str, Any], duration: float, logprobs: list[dict] | None = None
    ) -> None:
        nonlocal written_at
        unwritten.append(segment["text"])
        if logprobs is not None:
            scores.extend(logprobs)
        now = time.monotonic()
        if not job.stream and now - written_at < PROGRESS_INTERVAL:
            return
        written_at = now
        progress = min(99, int(100 * segment["end"] / duration)) if duration else 0
        fields: dict[str, Any] = {
            "progress": progress,
            "partial_text": Concat(F("partial_text"), Value("".join(unwritten))),
        }
        unwritten.clear()
        if logprobs is not None:  # written with the text, so that a stream sees both at once
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


def text_not_sent(
    sent: str, segments: list[dict[str, Any]], logprobs: list[dict[str, Any]] | None
) -> tuple[str, list[dict[str, Any]]]:
    """What of a transcript a stream that sent the text `sent` has not carried: the text of
    its other segments, and their tokens' log probabilities (`logprobs`: the transcript's, in
    segment order). A window's segments go out as they are decoded; speech decoded again after
    the window (running._every_stretch_heard) is spliced among them in time order, and goes
    out after them: every word once, the `done` event in time order."""
    rest: list[str] = []
    scores: list[dict[str, Any]] = []
    entries = list(logprobs or [])
    taken = [False] * len(sent)  # the sent characters a segment has been matched with
    at = 0
    for segment in segments:
        text = segment["text"]
        size, own = len(text.encode()), []
        while entries and size > 0:
            size -= len(entries[0]["bytes"])
            own.append(entries.pop(0))
        found = at if sent.startswith(text, at) else _free(sent, text, taken)
        if found is None:
            rest.append(text)
            scores += own
            continue
        taken[found : found + len(text)] = [True] * len(text)
        if found == at:
            at += len(text)
    return "".join(rest), scores


def _free(sent: str, text: str, taken: list[bool]) -> int | None:
    """Where `text` was sent and no other segment was matched (a retake sent after its
    window, out of time order), or None."""
    found = sent.find(text)
    while found >= 0 and any(taken[found : found + len(text)]):
        found = sent.find(text, found + 1)
    return found if found >= 0 else None
