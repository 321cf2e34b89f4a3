"""A live session's interim text (mixed into session.LiveSession, whose state it uses).

While a turn is spoken (server VAD), its audio so far is previewed (services.preview_decoding),
one preview at a time, and the words two previews in a row agree on, among those the turn went
on past (a second, or 0.3 s for a word Whisper is fairly sure of: services.preview_decoding),
go out as deltas at once: the interim text. The deltas of a turn add up to its
`completed` transcript, as OpenAI's do (turns.py): the turn's own decode, of all its audio, is
free of the interim words, and its transcript is the sent words followed by the decode's words
after them (services.transcript_join). Forcing that decode to start with the previews' words
instead (tried) locked their mistakes in and raised the live word error rate several times
over; sending a preview's last words too (Whisper's guesses at a word cut off) made the interim
text disagree with the turn's decode in many turns (docs/realtime.md, docs/benchmarks.md). With
`include: logprobs` there are no previews: each delta carries the log probabilities of its
tokens, which only the turn's own decode has.

Interim text is billed (services.preview_billing): each preview's seconds are held against the
quota before it is queued, and what the sent deltas covered is billed however the turn ends.
"""

import asyncio
import contextlib
import logging
import time

from django.conf import settings

from billing.errors import BillingError
from speech import SAMPLE_RATE
from transcriptions.errors import TranscriptionError

from .events import Delta, SessionSettings
from .pool import in_thread
from .services.preview_billing import PreviewCharge, live_preview_settle
from .services.preview_decoding import (
    live_preview_drop,
    live_preview_submit,
    live_preview_take,
    words_agreed,
)
from .services.turn_jobs import turn_prompt

logger = logging.getLogger(__name__)

# A preview not decoded by then is given up (the next one is asked for).
PREVIEW_TIMEOUT = 5.0
# No previews past this much of a turn: its window would be Whisper's full 30 s, as costly as
# the turn's own decode (the rest of its text comes with `completed`).
PREVIEW_MAX_SECONDS = 28.0


class Previews:
    def _turn_reset(self) -> tuple[str, PreviewCharge]:
        """The turn being spoken ended (committed, cleared): what its deltas sent and what its
        previews hold and owe; its preview, if one is under way, is dropped."""
        sent, self._sent, self._previewed = self._sent, "", ""
        charge, self._charge = self._charge, PreviewCharge(session_id=self.id)
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
        """Bill what the turn's interim text covered (services.preview_billing): shielded, so a session
        torn down meanwhile still bills it."""
        await self._holds_done(charge)
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

    async def _holds_done(self, charge: PreviewCharge) -> None:
        """Wait for a preview of the turn being queued (its hold is written to `charge` in a
        thread), so that the charge is read and settled only once it has stopped changing."""
        if self._holding is not None and self._holding[0] is charge:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._holding[1])

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
        submit = asyncio.ensure_future(
            in_thread(live_preview_submit)(
                tenant=self.api_key.tenant,
                settings=turn_settings.transcription,
                samples=samples,
                prefix=sent,
                prompt=turn_prompt(turn_settings.transcription, " ".join(self._said)),
                charge=charge,
            )
        )
        self._holding = (charge, submit)
        try:
            pk = await asyncio.shield(submit)
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
            await self.emit(Delta(item_id, agreed))
