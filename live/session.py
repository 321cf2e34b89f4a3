"""One live transcription session: its input buffer, its turns and their interim text, over
the services (services.turn_jobs, .audio_buffer, .preview_decoding, .preview_billing). It knows
no websocket and no wire format: the layer above calls configure, append, commit, clear and
close, and hands it an `emit` coroutine that receives its events (events.py).

Its interim text is previews.py's part, its committed turns turns.py's.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from django.conf import settings

from accounts.models import ApiKey
from speech import SAMPLE_RATE

from .events import (
    Event,
    RefusalCodes,
    SessionSettings,
    SpeechStarted,
    SpeechStopped,
    new_id,
)
from .pool import in_thread, threads_pool
from .previews import Previews
from .services.audio_buffer import LiveAudioBuffer, TurnStarted, TurnStopped
from .services.preview_billing import PreviewCharge, PreviewEnd
from .services.preview_decoding import live_preview_drop
from .services.turn_jobs import live_transcription_check, live_turn_abandon
from .turns import Turns

# An append bigger than this (half a second of 24 kHz PCM16) is decoded in a thread.
LARGE_APPEND_BYTES = 24_000


class LiveSession(Previews, Turns):
    def __init__(
        self,
        *,
        api_key: ApiKey,
        emit: Callable[[Event], Awaitable[None]],
        refusal_codes: RefusalCodes,
    ) -> None:
        self.api_key = api_key
        self.id = new_id("sess")
        self.settings = SessionSettings()
        self.buffer = LiveAudioBuffer(
            audio_format=self.settings.audio_format, vad=self.settings.vad
        )
        self.emit = emit
        self.refusal_codes = refusal_codes
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
        self._charge = PreviewCharge(session_id=self.id)
        self._holding: tuple[PreviewCharge, asyncio.Future] | None = None  # a preview queued

    async def configure(self, updated: SessionSettings) -> None:
        """New settings (the client's update). A model or language the turns could not be
        transcribed with is refused now (TranscriptionError, BillingError), not at the first
        turn, and the settings stay as they were."""
        await in_thread(live_transcription_check)(updated.transcription)
        self.settings = updated
        self.buffer.reconfigure(audio_format=updated.audio_format, vad=updated.vad)

    async def append(self, data: bytes) -> None:
        """Audio for the input buffer; with server VAD, the turns it starts and ends. BufferFull
        (client commits) when the buffer holds a whole turn already."""
        if len(data) > LARGE_APPEND_BYTES:
            # Seconds of audio at once: resampled and scored by the VAD off the event loop,
            # which the other sessions of this process share.
            append = sync_to_async(
                self.buffer.append, thread_sensitive=False, executor=threads_pool
            )
            found = await append(data, max_samples=self._max_samples)
        else:
            found = self.buffer.append(data, max_samples=self._max_samples)
        for boundary in found:
            if isinstance(boundary, TurnStarted):
                self._item_id = new_id("item")
                # The first preview once REALTIME_PREVIEW_SECONDS of speech follow what the
                # buffer holds now (the prefix padding): one of the padding alone hears nothing.
                self._preview_samples = self.buffer.buffered_samples
                await self.emit(SpeechStarted(self._item_id, boundary.audio_start_ms))
            elif isinstance(boundary, TurnStopped):
                item_id = self._item_id or new_id("item")
                self._item_id = None
                await self.emit(SpeechStopped(item_id, boundary.audio_end_ms))
                self.stopped_at[item_id] = time.monotonic()
                sent, charge = self._turn_reset()
                if boundary.samples is not None:
                    await self._committed(item_id, boundary.samples, sent=sent, charge=charge)
                else:
                    await self._settle(charge, PreviewEnd.DROPPED)
        self._maybe_preview()

    async def commit(self) -> None:
        """The buffer becomes a turn (the client's commit); BufferTooSmall under 100 ms."""
        samples = self.buffer.commit()
        item_id = self._item_id or new_id("item")
        self._item_id = None
        sent, charge = self._turn_reset()
        await self._committed(item_id, samples, sent=sent, charge=charge)

    async def clear(self) -> None:
        """The buffer is thrown away: what its interim text covered is billed."""
        self.buffer.clear()
        self._item_id = None
        _, charge = self._turn_reset()
        await self._settle(charge, PreviewEnd.CLEARED)

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
