"""A live session's committed turns (mixed into session.LiveSession, whose state it
uses): each runs as a task of its own, its job submitted and waited for in threads (the
database and the wake-ups are synchronous), while the session goes on taking audio, so a turn
being transcribed never holds up the next one's detection."""

import asyncio
import contextlib
import time

from django.conf import settings

from billing.errors import BillingError
from transcriptions.errors import TranscriptionError
from transcriptions.models import Job
from transcriptions.services import job_outcome_error

from .events import Committed, Completed, Delta, SessionSettings, TurnFailed, TurnRefused
from .pool import in_thread
from .services.preview_billing import PreviewCharge, PreviewEnd, live_preview_release
from .services.transcript_join import transcript_after
from .services.turn_jobs import (
    live_turn_abandon,
    live_turn_refused,
    live_turn_submit,
    live_turn_wait,
)


class Turns:
    async def _committed(
        self, item_id: str, samples, *, sent: str = "", charge: PreviewCharge | None = None
    ) -> None:
        await self.emit(Committed(item_id, self._previous_item_id))
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

    async def _failed(self, item_id: str, error: Exception) -> None:
        await self.emit(TurnFailed(item_id, error))

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

        try:
            await self._holds_done(charge)
        except asyncio.CancelledError:  # the session ends: its interim text is billed still
            await self._settle(charge, PreviewEnd.CLOSED)
            raise
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
            status_code, error_code = self.refusal_codes(refused)
            await in_thread(live_turn_refused)(
                tenant=tenant,
                api_key=self.api_key,
                settings=transcription,
                samples=samples,
                status_code=status_code,
                error_code=error_code,
            )
            await self._settle(charge, PreviewEnd.TURN_REFUSED)
            await self.emit(TurnRefused(item_id, refused))
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
            # (job_submit undoes its steps; a job and its usage row are written in one
            # transaction), and the client hears so instead of waiting for a `completed` that
            # never comes. The session goes on.
            self._submits.discard(submit)
            await self._settle(charge, PreviewEnd.TURN_FAILED)
            await self._failed(item_id, fault)
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
            await self._failed(item_id, fault)
        finally:
            self._jobs.pop(item_id, None)
            # A job that succeeded billed the whole turn: nothing more. One given up (left
            # running past the wait, the session closed) is cancelled first.
            await self._settle(charge, end, job_id=job.public_id)

    async def _follow(self, item_id: str, job: Job, *, logprobs: bool, sent: str = "") -> None:
        """Deltas as the worker decodes the turn's segments (after the words the previews
        `sent`, while its text starts with them), then `completed`, whose transcript starts
        with every delta sent (services.transcript_join): the turn's deltas add up to it."""
        joined = sent  # what the turn's deltas add up to so far
        seen = sent_scores = 0  # characters of the job's text read so far
        deadline = time.monotonic() + settings.SYNC_WAIT_TIMEOUT
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                job = await live_turn_wait(job.pk, sent=seen, timeout=remaining)
            except TranscriptionError as gone:  # deleted by its owner meanwhile
                await self._failed(item_id, gone)
                return
            done = job.status == Job.Status.SUCCEEDED
            # Segments' texts begin with a space, the transcript does not.
            text = (job.text if done else job.partial_text).lstrip()
            seen = len(text)
            if done:
                transcript = transcript_after(joined, text)
            else:
                # Text that disagrees with the interim words waits for the whole decode, whose
                # words after theirs are then sent.
                transcript = text if text.startswith(joined) else joined
            if len(transcript) > len(joined):
                delta_scores = None
                if logprobs:
                    scores = job.partial_logprobs or []
                    if done:
                        scores = (job.result or {}).get("logprobs") or scores
                    delta_scores = scores[sent_scores:]
                    sent_scores = len(scores)
                await self.emit(Delta(item_id, transcript[len(joined) :], delta_scores))
                joined = transcript
            if done:
                completed = Completed(
                    item_id,
                    joined,
                    job.duration or 0.0,
                    ((job.result or {}).get("logprobs") or []) if logprobs else None,
                )
                if job.text:
                    # The next turns' context: the decode's own words, which heard the turn whole.
                    self._said.append(job.text)
                await self.emit(completed)
                return
            if job.is_finished or time.monotonic() >= deadline:
                await self._failed(item_id, job_outcome_error(job))
                return
