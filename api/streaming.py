"""Server-Sent Events for `stream=true`: text deltas as segments are decoded, then the total.

An async generator: between two events it sleeps in the event loop (job_wait_async), so a
stream waiting for its next segment holds no thread."""

import json
import time
from collections.abc import AsyncIterator

from django.conf import settings

from ops.request_thread import request_thread_release
from transcriptions.errors import TranscriptionError
from transcriptions.models import Job
from transcriptions.openai.formats import diarized_json, usage_of
from transcriptions.services import job_outcome_error, job_wait_async, text_not_sent

from .errors import to_api_error


def _event(payload: dict) -> str:
    return f"data: {json.dumps(payload)}\n\n"


# An SSE comment, which clients ignore (the openai SDK included): sent at once, it puts the
# response headers on the wire (x-job-id, to cancel the stream's job) before any text exists.
STREAM_OPENED = ": stream opened\n\n"


def _rest_of_text(job: Job, sent: int) -> tuple[str, list[dict]]:
    """What of a finished job's text no delta has carried yet (the deltas sent are the first
    `sent` characters of its partial text), and its tokens' log probabilities."""
    result = job.result or {}
    return text_not_sent(
        job.partial_text[:sent], result.get("segments") or [], result.get("logprobs")
    )


async def sse_events(job: Job) -> AsyncIterator[str]:
    """With include=["logprobs"], each delta carries its tokens' log probabilities and the
    done event all of them (OpenAI's `logprobs` on both events)."""
    yield STREAM_OPENED
    await request_thread_release()  # given back until the stream ends (ops.request_thread)
    sent = sent_scores = 0
    scored = "logprobs" in (job.include or [])
    deadline = time.monotonic() + settings.SYNC_WAIT_TIMEOUT

    def moved_on(current: Job) -> bool:
        return current.is_finished or len(current.partial_text) > sent

    while True:
        remaining = deadline - time.monotonic()
        try:
            job = await job_wait_async(job.pk, timeout=max(0.0, remaining), until=moved_on)
        except TranscriptionError as gone:  # deleted mid-stream: say so, and end the stream
            yield _event({"type": "error", **to_api_error(gone).as_dict()})
            return
        if len(job.partial_text) > sent:
            delta = {"type": "transcript.text.delta", "delta": job.partial_text[sent:]}
            if scored:
                delta["logprobs"] = (job.partial_logprobs or [])[sent_scores:]
                sent_scores += len(delta["logprobs"])
            yield _event(delta)
            sent = len(job.partial_text)
        if job.status == Job.Status.SUCCEEDED:
            # A job of several chunks can end with the text of its last chunks not yet in a
            # delta (the chunk that ends the job does not pass through the stream's text):
            # it goes out now, so that the deltas together are the text.
            rest, rest_scores = _rest_of_text(job, sent)
            if rest:
                delta = {"type": "transcript.text.delta", "delta": rest}
                if scored:
                    delta["logprobs"] = rest_scores
                yield _event(delta)
            if job.response_format == "diarized_json":
                # gpt-4o-transcribe-diarize: one `transcript.text.segment` event per segment
                # (openai-python `TranscriptionTextSegmentEvent`), all of them here, right
                # before `done`: speakers are known only once the whole file is transcribed
                # and diarized (so that the letters agree across chunks), while the deltas
                # above went out as the text was decoded.
                for segment in diarized_json(job.result or {})["segments"]:
                    yield _event(segment)
            done = {"type": "transcript.text.done", "text": job.text}
            if scored:
                done["logprobs"] = (job.result or {}).get("logprobs") or []
            done["usage"] = usage_of(
                job.result or {"duration": job.duration}, requested_model=job.requested_model
            )
            yield _event(done)
            return
        if job.is_finished or time.monotonic() >= deadline:
            yield _event({"type": "error", **to_api_error(job_outcome_error(job)).as_dict()})
            return
