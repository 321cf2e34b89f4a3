"""Interim text of a live turn while it is spoken (the Realtime API's deltas before the turn is
committed).

While a session's turn goes on, the session queues the turn's audio so far as a LivePreview,
one at a time, and a worker decodes it once: the turn's model, a shorter encoder window
(engine.window_seconds_for), greedy at temperature 0, and the words already sent as the
transcript's forced start (faster-whisper's `prefix`). A preview is a django-q task of its own,
run by whichever worker is free; the turns themselves stay chunks under the fair policy
(transcriptions.dispatch), and a preview gives way to them: a worker that finds a client's
chunk waiting skips the preview. A session that finds its previews slow asks for fewer (the
session's pacing). A preview is queued only once its seconds are held against the quota, and the seconds
its sent words cover are billed even if the turn is never committed (preview_billing).

Which words are sent is decided here: a preview's text counts only up to its last word that
ended long enough before its audio did (`settled_text`, from its word times and
probabilities): SURE_SECONDS for a word Whisper gives SURE_PROBABILITY or more, SETTLED_SECONDS
for any other; and a word is sent once two previews in a row agree on it and on everything
before it (`words_agreed`, whisper_streaming's "local agreement"). The last, half-heard words
of a preview, which the next second of speech often changes, are guesses of low probability
("am I" for "my", 0.18-0.34, where a turn's first word, "And", gets 0.45-0.63 and "my"
0.59-0.74 in jfk.flac's previews): they wait the second, and are never sent. What was sent becomes the forced start of
the next previews, so the interim text only grows; the turn's own decode is free of it, and its
transcript goes on from it (services.transcript_join, live/previews.py).
"""

import logging
import re

import numpy as np
from django_q.tasks import async_task

import speech as engine
from accounts.models import Tenant
from ops import threads
from ops.outages import is_outage
from speech import SAMPLE_RATE
from transcriptions.models import Chunk
from transcriptions.services.waiting import topic_notify, topic_wait_async

from ..models import LivePreview
from .preview_billing import PreviewCharge, live_preview_hold
from .turn_jobs import LiveTranscription, live_transcription_check

logger = logging.getLogger(__name__)

PREVIEW_TASK = "live.tasks.run_preview"
# A preview's words are only candidates once this much of the turn was heard after them:
# Whisper's last words of a cut-off turn are guesses the next second of speech often changes.
SETTLED_SECONDS = 1.0
# ... and this soon for a word this probable (faster-whisper's, its tokens' mean): a turn's
# first words go out sooner, the same words right (docs/benchmarks.md; 0.2 s lost a word).
SURE_PROBABILITY = 0.4
SURE_SECONDS = 0.3
_WORD = re.compile(r"\s*\S+")


def _topic(preview_pk: int) -> str:
    return f"preview/{preview_pk}"


def words_agreed(sent: str, previous: str, latest: str) -> str:
    """What to send now: the words after `sent` on which the two latest previews agree, word
    for word from the start; "" when they do not. Both previews start with `sent` (their
    forced start); one that does not (a decoder that rewrote it) agrees on nothing."""
    if not (previous.startswith(sent) and latest.startswith(sent)):
        return ""
    agreed: list[str] = []
    for before, now in zip(
        _WORD.findall(previous[len(sent) :]), _WORD.findall(latest[len(sent) :]), strict=False
    ):
        if before != now:
            break
        agreed.append(now)
    return "".join(agreed)


def settled_text(text: str, words: list[dict], *, seconds: float) -> str:
    """The start of a preview's `text` up to its last word that ends SETTLED_SECONDS or more
    before the preview's audio does, SURE_SECONDS for one of SURE_PROBABILITY or more (`words`:
    its words with their times and probabilities, in order; one without a probability is not
    sure). A word found in the text out of order (a decoder whose words and text differ) ends
    it there."""
    end = position = 0
    for word in words:
        found = text.find(word["word"], position)
        sure = word.get("probability", 0.0) >= SURE_PROBABILITY
        if found < 0 or word["end"] > seconds - (SURE_SECONDS if sure else SETTLED_SECONDS):
            break
        end = position = found + len(word["word"])
    return text[:end]


def live_preview_submit(
    *,
    tenant: Tenant,
    settings: LiveTranscription,
    samples: np.ndarray,
    prefix: str,
    prompt: str,
    charge: PreviewCharge,
) -> int | None:
    """Queue a decode of a turn's audio so far (16 kHz int16); its id, for live_preview_take.
    None when the month's quota has not the seconds the turn has so far: they are held in the
    turn's `charge` first, as what its text covers is billed however the turn ends."""
    if not live_preview_hold(tenant=tenant, charge=charge, samples=len(samples)):
        return None
    params = live_transcription_check(settings)
    preview = LivePreview.objects.create(
        tenant=tenant,
        model=params.model_id,
        language=params.language,
        prompt=prompt,
        prefix=prefix,
        samples=samples.astype("<i2").tobytes(),
    )
    # Not saved among the task monitor's results: previews come several a second and would
    # push the turns' own results out of its history (TASK_HISTORY_KEEP, ops.task_history).
    async_task(PREVIEW_TASK, preview.pk, task_name=f"preview-{preview.pk}", save=False)
    return preview.pk


def live_preview_run(preview_pk: int) -> str | None:
    """The worker's side: decode the preview, unless its session already moved on (the row is
    gone). Its text, or None."""
    preview = LivePreview.objects.filter(pk=preview_pk, status=LivePreview.Status.QUEUED).first()
    if preview is None:
        return None
    if Chunk.objects.filter(status=Chunk.Status.QUEUED, interactive=True).exists():
        # A client waits for a chunk (a committed turn, a synchronous request): interim text
        # gives way to it. The session hears at once and asks again later.
        LivePreview.objects.filter(pk=preview_pk).update(status=LivePreview.Status.FAILED)
        topic_notify(_topic(preview_pk))
        return None
    samples = np.frombuffer(bytes(preview.samples), dtype="<i2").astype(np.float32) / 32768.0
    seconds = len(samples) / SAMPLE_RATE
    try:
        result = engine.transcribe(
            samples,
            model_id=preview.model,
            language=preview.language or None,
            prompt=preview.prompt,
            prefix=preview.prefix or None,
            window_seconds=engine.window_seconds_for(seconds),
            quick=True,
            word_timestamps=True,
            word_probabilities=True,
        )
    except Exception:
        # Only a preview: the turn's own decode shows a real fault.
        logger.exception("live preview %s failed", preview_pk)
        LivePreview.objects.filter(pk=preview_pk).update(status=LivePreview.Status.FAILED)
        topic_notify(_topic(preview_pk))
        return None
    text = settled_text(result.text, result.words or [], seconds=seconds)
    LivePreview.objects.filter(pk=preview_pk).update(status=LivePreview.Status.DONE, text=text)
    topic_notify(_topic(preview_pk))
    return text


async def live_preview_take(preview_pk: int, *, timeout: float) -> str | None:
    """The session's side: the preview's text once decoded (None if it failed, or did not come
    within `timeout`); the row is deleted either way, so a worker that had not reached it yet
    skips it. A coroutine: the session waits in the event loop, not in a thread."""

    def read() -> tuple[str, str] | None:
        return LivePreview.objects.filter(pk=preview_pk).values_list("status", "text").first()

    try:
        row = await topic_wait_async(
            _topic(preview_pk),
            timeout=timeout,
            read=read,
            until=lambda row: row is None or row[0] != LivePreview.Status.QUEUED,
        )
    finally:
        await threads.in_thread(live_preview_drop)(preview_pk)
    if row is None or row[0] != LivePreview.Status.DONE:
        return None  # gone, failed, or not decoded in time
    return row[1]


def live_preview_drop(preview_pk: int) -> None:
    """The preview's row is no longer wanted. With the database out it is left to the hourly
    purge (live.services.retention): what comes after (the turn's hold settled) must not wait
    on it, nor be skipped."""
    try:
        LivePreview.objects.filter(pk=preview_pk).delete()
    except Exception as exc:
        if not is_outage(exc):
            raise
        logger.warning("preview %s left for the purge: backend unavailable (%s)", preview_pk, exc)
