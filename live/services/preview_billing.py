"""What a live turn's interim text costs: every second of audio whose text leaves the server is
billed, whether or not the turn is ever committed.

A turn's audio so far is previewed (preview_decoding) only once its seconds are held against the
month's quota (billing's quota_hold, no job slot): a tenant without them gets no interim text.
When the turn ends, the hold becomes what its text covered (`PreviewCharge.sent_seconds`, the
audio of the last preview whose words were sent):

- committed: the hold is given back as the turn's job reserves the whole turn, which its job
  bills once. A job that does not succeed (refused, failed, cancelled as the client left) bills
  only what its own text covered; the seconds the previews' text covered beyond that are
  billed by a row of their own;
- cleared, dropped, or left when the client went away: a row of its own bills them.

That row's endpoint is PREVIEW_ENDPOINT and its error code says how the turn ended
(PreviewEnd), so the usage log, the dashboard and the billing report show those seconds apart.
"""

import uuid
from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest

from accounts.models import ApiKey, Tenant
from billing.models import UsageRecord
from billing.rounding import billed_seconds
from billing.services import quota_hold, quota_unhold, usage_record_create
from ops.outages import through_outage
from speech import SAMPLE_RATE
from transcriptions.models import Job
from transcriptions.services import job_cancel, job_usage

from ..models import LiveSession

PREVIEW_ENDPOINT = "/v1/realtime/preview"
# How long giving back or settling a turn's hold keeps trying while the database is out (a
# restart cuts every connection, a failover makes it read-only for a while): else its seconds
# stay held until the session's row is reaped. The wait holds one of the realtime share's
# threads (ops.threads), for a session that is ending anyway.
OUTAGE_PATIENCE = 60.0
PREVIEW_METHOD = "WS"


class PreviewEnd:
    """How a turn whose interim text was sent ended (its preview row's error code)."""

    CLEARED = "preview_cleared"  # input_audio_buffer.clear
    CLOSED = "preview_closed"  # the client went away mid-turn
    DROPPED = "preview_dropped"  # too short to be speech (server VAD)
    TURN_REFUSED = "preview_turn_refused"  # committed, refused (quota, too many jobs)
    TURN_FAILED = "preview_turn_failed"  # committed, its job did not succeed


@dataclass
class PreviewCharge:
    """One turn's previews: the seconds held for them, and the audio their sent text covers."""

    period: date | None = None  # the month the seconds are held in
    held: int = 0
    sent_seconds: float = 0.0
    # The session's row (LiveSession), which counts the seconds held too: a web process
    # killed mid-turn cannot give them back, the row tells who can (session_slots).
    session_id: str = ""

    @property
    def owed(self) -> int:
        return billed_seconds(self.sent_seconds)

    @property
    def empty(self) -> bool:
        """Nothing held nor owed: the turn had no preview (or was settled)."""
        return not (self.held or self.sent_seconds)


def live_preview_hold(*, tenant: Tenant, charge: PreviewCharge, samples: int) -> bool:
    """Hold the seconds of a preview of `samples` (16 kHz) before it is decoded: False when
    the month's quota has not got them (no preview, no interim text)."""
    needed = billed_seconds(samples / SAMPLE_RATE)
    if needed <= charge.held:
        return True
    with transaction.atomic():
        period = quota_hold(tenant=tenant, period=charge.period, seconds=needed - charge.held)
        if period is None:
            return False
        _session_held(charge, needed - charge.held, period=period)
    charge.period, charge.held = period, needed
    return True


def _session_held(charge: PreviewCharge, seconds: int, *, period: date | None = None) -> None:
    """Count `seconds` more (or fewer) held on the session's row, in the caller's transaction."""
    if not charge.session_id or not seconds:
        return
    fields = {"held_seconds": Greatest(F("held_seconds") + seconds, Value(0))}
    if period is not None:
        fields["held_period"] = period
    LiveSession.objects.filter(public_id=charge.session_id).update(**fields)


def live_preview_release(*, tenant: Tenant, charge: PreviewCharge) -> None:
    """The turn is committed: its hold is given back just before its job reserves the whole
    turn (a tenant with the turn's seconds left is not refused for holding part of them
    twice). What its text covered stays owed should the job not bill it (live_preview_settle)."""
    if charge.held and charge.period is not None:

        @transaction.atomic
        def release() -> None:
            quota_unhold(
                tenant_id=tenant.pk, period=charge.period, held_seconds=charge.held, used_seconds=0
            )
            _session_held(charge, -charge.held)

        through_outage(release, within=OUTAGE_PATIENCE, what="preview hold given back")
    charge.held = 0


def live_preview_settle(
    *,
    tenant: Tenant,
    api_key: ApiKey | None,
    model: str,
    charge: PreviewCharge,
    end: str,
    job_id: str = "",
) -> int:
    """The turn ended: what its previews' text covered is billed (less what the turn's job
    `job_id` bills for the same audio), the rest of the hold given back. The seconds billed
    by the turn's preview row (0: no row)."""
    covered_by_job = _job_billed(job_id) if job_id else 0
    owed = max(0, charge.owed - covered_by_job)
    if not (charge.held or owed):  # a committed turn its job billed whole: nothing to write
        charge.sent_seconds = 0.0
        return 0
    through_outage(
        lambda: _settled(tenant, api_key, model, charge, end, job_id, owed),
        within=OUTAGE_PATIENCE,
        what="preview hold settled",
    )
    charge.held, charge.sent_seconds = 0, 0.0
    return owed


@transaction.atomic
def _settled(
    tenant: Tenant,
    api_key: ApiKey | None,
    model: str,
    charge: PreviewCharge,
    end: str,
    job_id: str,
    owed: int,
) -> None:
    """live_preview_settle's writes, in one transaction (tried again whole after an outage)."""
    if charge.period is not None:
        quota_unhold(
            tenant_id=tenant.pk,
            period=charge.period,
            held_seconds=charge.held,
            used_seconds=owed,
        )
        _session_held(charge, -charge.held)
    if owed:
        usage_record_create(
            request_id=f"req_{uuid.uuid4().hex}",
            method=PREVIEW_METHOD,
            endpoint=PREVIEW_ENDPOINT,
            status_code=200,
            tenant=tenant,
            api_key=api_key,
            model=model,
            job_id=job_id,
            error_code=end,
            request_bytes=int(charge.sent_seconds * SAMPLE_RATE) * 2,
            audio_seconds=charge.sent_seconds,
            billed_seconds=owed,
        )


def _job_billed(job_id: str) -> int:
    """What the turn's job bills: it is cancelled first if it still runs (the session gave it
    up), so that what it bills is known and final."""
    job = Job.objects.filter(public_id=job_id).first()
    if job is None:  # deleted by its owner: its row says what it billed
        billed = (
            UsageRecord.objects.filter(job_id=job_id)
            .exclude(endpoint=PREVIEW_ENDPOINT)
            .values_list("billed_seconds", flat=True)
            .first()
        )
        return billed or 0
    if not job.is_finished:
        job_cancel(job=job)
        job.refresh_from_db()
    return job_usage(job).billed_seconds or 0
