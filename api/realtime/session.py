"""One realtime transcription session: the client events it acts on and the server events it
answers, over the domain services (transcriptions.services.live and .live_audio). It knows no
websocket: the consumer hands it each parsed client event and gives it a `send` coroutine.

Its interim text is previews.py's part, its committed turns turns.py's.
"""

import asyncio
import base64
import binascii
import time
from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from django.conf import settings

from accounts.models import ApiKey
from billing.errors import BillingError
from speech import SAMPLE_RATE
from transcriptions.errors import TranscriptionError
from transcriptions.services.live import live_transcription_check, live_turn_abandon
from transcriptions.services.live_audio import (
    BufferFull,
    BufferTooSmall,
    LiveAudioBuffer,
    TurnStarted,
    TurnStopped,
)
from transcriptions.services.live_billing import PreviewCharge, PreviewEnd
from transcriptions.services.live_preview import live_preview_drop

from ..errors import to_api_error
from .pool import in_thread, threads_pool
from .previews import PREVIEW_MAX_SECONDS, PREVIEW_TIMEOUT, Previews
from .protocol import (
    ProtocolError,
    SessionSettings,
    beta_session_object,
    error_event,
    new_id,
    session_object,
    session_update,
)
from .turns import Turns

__all__ = ["PREVIEW_MAX_SECONDS", "PREVIEW_TIMEOUT", "RealtimeSession", "in_thread"]

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

# An append bigger than this (half a second of 24 kHz PCM16) is decoded in a thread.
LARGE_APPEND_BYTES = 24_000


class RealtimeSession(Previews, Turns):
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
        self._holding: tuple[PreviewCharge, asyncio.Future] | None = None  # a preview queued

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
                    self.buffer.append, thread_sensitive=False, executor=threads_pool
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
