"""One realtime transcription session: the client events it acts on and the server events it
answers, over the domain services (transcriptions.services.live and .live_audio). It knows no
websocket: the consumer hands it each parsed client event and gives it a `send` coroutine.

Each committed turn runs as a task of its own: its job is submitted and waited for in threads
(the database and the wake-ups are synchronous), while the session goes on taking audio, so a
turn being transcribed never holds up the next one's detection.

While a turn is spoken (server VAD), its audio so far is previewed (services.live_preview), one
preview at a time, and the words two previews in a row agree on go out as deltas at once: the
interim text. The turn's own decode, of all its audio, is its `completed` transcript, and is
not bound to the interim text: forcing it to start with the previews' words (tried) locked their
mistakes in, and the live word error rate rose from 4 % to 24 % on the benchmark's clip. When the
transcript starts with what the deltas sent, a last delta carries the rest, so the deltas add
up to it; when it corrects them, no delta follows and `completed` has the corrected text, as a
client showing interim text replaces it with the transcript. With `include: logprobs` there are
no previews: each delta carries the log probabilities of its tokens, which only the turn's own
decode has.
"""

import asyncio
import base64
import binascii
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from accounts.models import ApiKey
from billing.errors import BillingError
from ops import threads
from transcriptions.engine.formats import usage
from transcriptions.errors import TranscriptionError
from transcriptions.models import SAMPLE_RATE, Job
from transcriptions.services import job_outcome_error
from transcriptions.services.live import (
    live_transcription_check,
    live_turn_abandon,
    live_turn_refused,
    live_turn_submit,
    live_turn_wait,
    turn_prompt,
)
from transcriptions.services.live_audio import (
    BufferFull,
    BufferTooSmall,
    LiveAudioBuffer,
    TurnStarted,
    TurnStopped,
)
from transcriptions.services.live_billing import (
    PreviewCharge,
    PreviewEnd,
    live_preview_release,
    live_preview_settle,
)
from transcriptions.services.live_preview import (
    live_preview_drop,
    live_preview_submit,
    live_preview_take,
    words_agreed,
)

from ..errors import ApiError, to_api_error
from .protocol import (
    ProtocolError,
    SessionSettings,
    beta_session_object,
    error_event,
    new_id,
    session_object,
    session_update,
)

MSG_UNKNOWN_EVENT = (
    "Invalid value for 'type': '{type}'. A transcription session takes session.update, "
    "transcription_session.update, input_audio_buffer.append, input_audio_buffer.commit and "
    "input_audio_buffer.clear."
)
MSG_BAD_AUDIO = "Invalid 'audio': expected base64-encoded audio bytes."
MSG_COMMIT_EMPTY = (
    "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
    "but buffer only has {ms:.2f}ms of audio."
)
MSG_BUFFER_FULL = (
    "The input audio buffer holds {seconds:g} seconds, as much as one turn may: commit it "
    "before appending more."
)

logger = logging.getLogger(__name__)

# An append bigger than this (half a second of 24 kHz PCM16) is decoded in a thread.
LARGE_APPEND_BYTES = 24_000
# A preview not decoded by then is given up (the next one is asked for).
PREVIEW_TIMEOUT = 5.0
# No previews past this much of a turn: its window would be Whisper's full 30 s, as costly as
# the turn's own decode (the rest of its text comes with `completed`).
PREVIEW_MAX_SECONDS = 28.0

# The database is synchronous: sessions submit their turns and previews, and write their rows,
# in these threads, never in the event loop. Their waits (live_turn_wait, live_preview_take) are
# coroutines and hold none.
_threads = ThreadPoolExecutor(max_workers=16, thread_name_prefix="realtime")


def in_thread(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """`fn` in one of the sessions' threads, with fresh database connections (ops.threads)."""
    return threads.in_thread(fn, _threads)


class RealtimeSession:
    def __init__(self, *, api_key: ApiKey, send: Callable[[dict], Awaitable[None]]) -> None:
        self.api_key = api_key
        self.id = new_id("sess")
        self.settings = SessionSettings()
        self.buffer = LiveAudioBuffer(
            audio_format=self.settings.audio_format, vad=self.settings.vad
        )
        self._send = send
        self._item_id: str | None = None  # the turn being spoken (server VAD)
        self._previous_item_id: str | None = None
        self._turns: set[asyncio.Task] = set()
        self._jobs: dict[str, int] = {}  # item id -> its job, while the job runs
        self._submits: set[asyncio.Future] = set()  # turns being queued right now
        self._max_samples = int(settings.REALTIME_MAX_TURN_SECONDS * SAMPLE_RATE)
        # When the last speech_stopped of each item was sent: the benchmark's latency origin.
        self.stopped_at: dict[str, float] = {}
        # The text of the turns completed so far (the next turns' context), in order.
        self._said: list[str] = []
        # Previews of the turn being spoken: the words sent as its deltas, the last preview's
        # text, the preview under way, and when the next may start.
        self._sent = ""
        self._previewed = ""
        self._preview: asyncio.Task | None = None
        self._preview_pk: int | None = None
        self._preview_samples = 0
        self._preview_after = 0.0
        # The quota held for the turn's previews, and the audio their sent words cover.
        self._charge = PreviewCharge()

    async def send(self, event: dict) -> None:
        if "event_id" not in event:
            event = {"event_id": new_id("event"), **event}
        await self._send(event)

    async def start(self) -> None:
        await self.send(
            {"type": "session.created", "session": session_object(self.id, self.settings)}
        )

    # --- client events ------------------------------------------------------------------------

    async def handle(self, event: dict) -> None:
        kind = event.get("type")
        handler = {
            "session.update": self._session_update,
            "transcription_session.update": self._session_update,
            "input_audio_buffer.append": self._append,
            "input_audio_buffer.commit": self._commit,
            "input_audio_buffer.clear": self._clear,
        }.get(kind if isinstance(kind, str) else "")
        try:
            if handler is None:
                raise ProtocolError(
                    MSG_UNKNOWN_EVENT.format(type=kind), code="invalid_value", param="type"
                )
            await handler(event)
        except ProtocolError as bad:
            await self.send(
                error_event(
                    bad.message, code=bad.code, param=bad.param, event_id=event.get("event_id")
                )
            )

    async def _session_update(self, event: dict) -> None:
        updated = session_update(event, self.settings)
        try:
            await in_thread(live_transcription_check)(updated.transcription)
        except (TranscriptionError, BillingError) as refused:
            error = to_api_error(refused)
            param = "session.audio.input.transcription." + (error.param or "model")
            raise ProtocolError(
                error.message, code=error.code or "invalid_value", param=param
            ) from None
        self.settings = updated
        self.buffer.reconfigure(audio_format=updated.audio_format, vad=updated.vad)
        if event.get("type") == "transcription_session.update":
            await self.send(
                {
                    "type": "transcription_session.updated",
                    "session": beta_session_object(self.id, self.settings),
                }
            )
        else:
            await self.send(
                {"type": "session.updated", "session": session_object(self.id, self.settings)}
            )

    async def _append(self, event: dict) -> None:
        audio = event.get("audio")
        try:
            data = base64.b64decode(audio, validate=True) if isinstance(audio, str) else None
        except (binascii.Error, ValueError):
            data = None
        if data is None:
            raise ProtocolError(MSG_BAD_AUDIO, param="audio")
        try:
            if len(data) > LARGE_APPEND_BYTES:
                # Seconds of audio at once: resampled and scored by the VAD off the event loop,
                # which the other sessions of this process share.
                append = sync_to_async(
                    self.buffer.append, thread_sensitive=False, executor=_threads
                )
                found = await append(data, max_samples=self._max_samples)
            else:
                found = self.buffer.append(data, max_samples=self._max_samples)
        except BufferFull as full:
            raise ProtocolError(
                MSG_BUFFER_FULL.format(seconds=full.max_seconds),
                code="input_audio_buffer_full",
                param="audio",
            ) from None
        for boundary in found:
            if isinstance(boundary, TurnStarted):
                self._item_id = new_id("item")
                # The first preview once REALTIME_PREVIEW_SECONDS of speech follow what the
                # buffer holds now (the prefix padding): one of the padding alone hears nothing.
                self._preview_samples = self.buffer.buffered_samples
                await self.send(
                    {
                        "type": "input_audio_buffer.speech_started",
                        "audio_start_ms": boundary.audio_start_ms,
                        "item_id": self._item_id,
                    }
                )
            elif isinstance(boundary, TurnStopped):
                item_id = self._item_id or new_id("item")
                self._item_id = None
                await self.send(
                    {
                        "type": "input_audio_buffer.speech_stopped",
                        "audio_end_ms": boundary.audio_end_ms,
                        "item_id": item_id,
                    }
                )
                self.stopped_at[item_id] = time.monotonic()
                sent, charge = self._turn_reset()
                if boundary.samples is not None:
                    await self._committed(item_id, boundary.samples, sent=sent, charge=charge)
                else:
                    await self._settle(charge, PreviewEnd.DROPPED)
        self._maybe_preview()

    async def _commit(self, event: dict) -> None:
        try:
            samples = self.buffer.commit()
        except BufferTooSmall as small:
            raise ProtocolError(
                MSG_COMMIT_EMPTY.format(ms=small.buffered_ms),
                code="input_audio_buffer_commit_empty",
            ) from None
        item_id = self._item_id or new_id("item")
        self._item_id = None
        sent, charge = self._turn_reset()
        await self._committed(item_id, samples, sent=sent, charge=charge)

    async def _clear(self, event: dict) -> None:
        self.buffer.clear()
        self._item_id = None
        _, charge = self._turn_reset()
        await self._settle(charge, PreviewEnd.CLEARED)
        await self.send({"type": "input_audio_buffer.cleared"})

    # --- previews -------------------------------------------------------------------------------

    def _turn_reset(self) -> tuple[str, PreviewCharge]:
        """The turn being spoken ended (committed, cleared): what its deltas sent and what its
        previews hold and owe; its preview, if one is under way, is dropped."""
        sent, self._sent, self._previewed = self._sent, "", ""
        charge, self._charge = self._charge, PreviewCharge()
        self._preview_samples = 0
        if self._preview is not None:
            self._preview.cancel()
            self._preview = None
        if self._preview_pk is not None:
            drop = asyncio.ensure_future(in_thread(live_preview_drop)(self._preview_pk))
            self._turns.add(drop)
            drop.add_done_callback(self._turns.discard)
            self._preview_pk = None
        return sent, charge

    async def _settle(self, charge: PreviewCharge, end: str, *, job_id: str = "") -> None:
        """Bill what the turn's interim text covered (live_billing): shielded, so a session
        torn down meanwhile still bills it."""
        if charge.empty:
            return
        settle = asyncio.ensure_future(
            in_thread(live_preview_settle)(
                tenant=self.api_key.tenant,
                api_key=self.api_key,
                model=self.settings.transcription.model,
                charge=charge,
                end=end,
                job_id=job_id,
            )
        )
        try:
            await asyncio.shield(settle)
        except asyncio.CancelledError:
            await settle
            raise
        except Exception:
            logger.exception("the interim text of a turn of session %s was not billed", self.id)

    def _maybe_preview(self) -> None:
        step = settings.REALTIME_PREVIEW_SECONDS
        if (
            step <= 0
            or self._item_id is None
            or self._preview is not None
            or self.settings.transcription.logprobs
            or not self.buffer.in_speech
        ):
            return
        buffered = self.buffer.buffered_samples
        if (
            buffered - self._preview_samples < step * SAMPLE_RATE
            or buffered > PREVIEW_MAX_SECONDS * SAMPLE_RATE
            or time.monotonic() < self._preview_after
        ):
            return
        self._preview_samples = buffered
        self._preview = asyncio.create_task(
            self._run_preview(self._item_id, self.buffer.peek(), self.settings)
        )

    async def _run_preview(self, item_id: str, samples, turn_settings: SessionSettings) -> None:
        started = time.monotonic()
        sent, charge = self._sent, self._charge
        try:
            pk = await in_thread(live_preview_submit)(
                tenant=self.api_key.tenant,
                settings=turn_settings.transcription,
                samples=samples,
                prefix=sent,
                prompt=turn_prompt(turn_settings.transcription, " ".join(self._said)),
                charge=charge,
            )
            if pk is None:  # the quota has not the turn's seconds: no interim text
                return
            if self._item_id != item_id:
                await in_thread(live_preview_drop)(pk)
                return
            self._preview_pk = pk
            text = await live_preview_take(pk, timeout=PREVIEW_TIMEOUT)
        except (BillingError, TranscriptionError):
            return
        finally:
            if self._item_id == item_id:
                self._preview = None
                self._preview_pk = None
                # A busy platform decodes previews slowly: ask for fewer (the next no sooner
                # than this one's round trip after it).
                self._preview_after = time.monotonic() + (time.monotonic() - started)
        if text is None or self._item_id != item_id or self._sent != sent:
            return
        agreed = words_agreed(sent, self._previewed, text)
        self._previewed = text
        if agreed and self._charge is charge:
            # Held before the preview was queued (live_preview_submit); owed from now on.
            charge.sent_seconds = max(charge.sent_seconds, len(samples) / SAMPLE_RATE)
            self._sent = sent + agreed
            await self.send(
                {
                    "type": "conversation.item.input_audio_transcription.delta",
                    "item_id": item_id,
                    "content_index": 0,
                    "delta": agreed,
                }
            )

    # --- turns ----------------------------------------------------------------------------------

    async def _committed(
        self, item_id: str, samples, *, sent: str = "", charge: PreviewCharge | None = None
    ) -> None:
        await self.send(
            {
                "type": "input_audio_buffer.committed",
                "previous_item_id": self._previous_item_id,
                "item_id": item_id,
            }
        )
        self._previous_item_id = item_id
        task = asyncio.create_task(
            self._transcribe(
                item_id,
                samples,
                self.settings,
                sent=sent,
                charge=charge if charge is not None else PreviewCharge(),
            )
        )
        self._turns.add(task)
        task.add_done_callback(self._turns.discard)

    async def _failed(self, item_id: str, error: ApiError) -> None:
        await self.send(
            {
                "type": "conversation.item.input_audio_transcription.failed",
                "item_id": item_id,
                "content_index": 0,
                "error": error.as_dict()["error"],
            }
        )

    async def _transcribe(
        self,
        item_id: str,
        samples,
        turn_settings: SessionSettings,
        *,
        sent: str = "",
        charge: PreviewCharge,
    ) -> None:
        transcription = turn_settings.transcription
        tenant = self.api_key.tenant

        def submit_turn() -> Job:
            live_preview_release(tenant=tenant, charge=charge)
            return live_turn_submit(
                tenant=tenant,
                api_key=self.api_key,
                settings=transcription,
                samples=samples,
                context=" ".join(self._said),
            )

        # Shielded: a submission under way when the session ends still ends in a job, which
        # close() then cancels.
        submit = asyncio.ensure_future(in_thread(submit_turn)())
        self._submits.add(submit)
        try:
            job = await asyncio.shield(submit)
            self._submits.discard(submit)
        except (BillingError, TranscriptionError) as refused:
            self._submits.discard(submit)
            # Over quota (or too many jobs, a full queue): nothing stored, nothing billed but
            # the interim text already sent.
            error = to_api_error(refused)
            await in_thread(live_turn_refused)(
                tenant=tenant,
                api_key=self.api_key,
                settings=transcription,
                samples=samples,
                status_code=error.status_code,
                error_code=error.code or "",
            )
            await self._settle(charge, PreviewEnd.TURN_REFUSED)
            await self.send(error_event(error.message, type=error.type, code=error.code))
            await self._failed(item_id, error)
            return
        except asyncio.CancelledError:
            # The session ends while the turn is queued: its job (cancelled) bills what its
            # own text covered, the interim text's row the rest.
            job_id = ""
            with contextlib.suppress(Exception):
                job_id = (await submit).public_id
            await self._settle(charge, PreviewEnd.CLOSED, job_id=job_id)
            raise
        except Exception as fault:
            # A fault, not a refusal (the database went away, a bug): nothing of the turn runs
            # (job_submit undoes its steps; live_turn_submit cancels a job left without its
            # usage row), and the client hears so instead of waiting for a `completed` that
            # never comes. The session goes on.
            self._submits.discard(submit)
            await self._settle(charge, PreviewEnd.TURN_FAILED)
            await self._failed(item_id, to_api_error(fault))
            return
        self._jobs[item_id] = job.pk
        end = PreviewEnd.TURN_FAILED
        try:
            await self._follow(item_id, job, logprobs=transcription.logprobs, sent=sent)
        except asyncio.CancelledError:
            end = PreviewEnd.CLOSED
            raise
        except Exception as fault:
            # Following the job failed (a read that raised): the turn is cancelled, billed only
            # what was transcribed, and reported failed, rather than left running unseen.
            with contextlib.suppress(Exception):
                await in_thread(live_turn_abandon)(job.pk)
            await self._failed(item_id, to_api_error(fault))
        finally:
            self._jobs.pop(item_id, None)
            # A job that succeeded billed the whole turn: nothing more. One given up (left
            # running past the wait, the session closed) is cancelled first.
            await self._settle(charge, end, job_id=job.public_id)

    async def _follow(self, item_id: str, job: Job, *, logprobs: bool, sent: str = "") -> None:
        """Deltas as the worker decodes the turn's segments (after the words the previews
        `sent`, when its text starts with them), then `completed` (or `failed`)."""
        start = sent
        sent_chars = len(sent)
        seen = sent_scores = 0  # characters of the job's text read so far
        deadline = time.monotonic() + settings.SYNC_WAIT_TIMEOUT
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                job = await live_turn_wait(job.pk, sent=seen, timeout=remaining)
            except TranscriptionError as gone:  # deleted by its owner meanwhile
                await self._failed(item_id, to_api_error(gone))
                return
            # The whole text once done; a delta carries whatever of it the earlier ones did
            # not. Segments' texts begin with a space, the transcript does not.
            text = (job.text if job.status == Job.Status.SUCCEEDED else job.partial_text).lstrip()
            seen = len(text)
            if not text.startswith(start):
                # The transcript corrects the interim text: `completed` carries it, no delta
                # is sent after words it does not have.
                text = ""
            if len(text) > sent_chars:
                delta: dict[str, Any] = {
                    "type": "conversation.item.input_audio_transcription.delta",
                    "item_id": item_id,
                    "content_index": 0,
                    "delta": text[sent_chars:],
                }
                if logprobs:
                    scores = job.partial_logprobs or []
                    if job.status == Job.Status.SUCCEEDED:
                        scores = (job.result or {}).get("logprobs") or scores
                    delta["logprobs"] = scores[sent_scores:]
                    sent_scores = len(scores)
                await self.send(delta)
                sent_chars = len(text)
            if job.status == Job.Status.SUCCEEDED:
                completed: dict[str, Any] = {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item_id,
                    "content_index": 0,
                    "transcript": job.text,
                    "usage": usage(job.duration or 0.0),
                }
                if logprobs:
                    completed["logprobs"] = (job.result or {}).get("logprobs") or []
                if job.text:
                    self._said.append(job.text)
                await self.send(completed)
                return
            if job.is_finished or time.monotonic() >= deadline:
                error = to_api_error(job_outcome_error(job))
                await self._failed(item_id, error)
                return

    async def close(self) -> None:
        """The client went away: its turns still running are cancelled (billed only what was
        already transcribed), so no worker goes on for nobody."""
        preview_pk, self._preview_pk = self._preview_pk, None
        _, charge = self._turn_reset()
        if preview_pk is not None:
            await in_thread(live_preview_drop)(preview_pk)
        # The turn being spoken: what its interim text covered is billed.
        await self._settle(charge, PreviewEnd.CLOSED)
        jobs = set(self._jobs.values())
        submits = list(self._submits)
        turns = list(self._turns)
        for task in turns:
            task.cancel()
        # Each committed turn bills its interim text as it ends (_transcribe), its job
        # cancelled first: awaited before the writes below (one writer at a time).
        await asyncio.gather(*turns, return_exceptions=True)
        for submit in submits:
            try:
                jobs.add((await submit).pk)
            except Exception:  # refused: nothing to cancel
                continue
        for job_pk in jobs:
            await in_thread(live_turn_abandon)(job_pk)
