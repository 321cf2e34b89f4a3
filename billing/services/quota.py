"""The monthly audio allowance and the concurrent-jobs slot: reserved before a job is queued,
settled when it ends. Every change is one conditional UPDATE (race-free under concurrency)."""

import math
from dataclasses import dataclass
from datetime import date, datetime

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from accounts.models import Tenant

from ..errors import QuotaExceeded, TooManyJobs
from ..models import ActiveJobs, QuotaPeriod
from ..periods import month_end, month_start
from ..selectors import Limits, tenant_limits

MSG_INSUFFICIENT_QUOTA = (
    "You exceeded your current quota: this request needs {needed} seconds of audio and "
    "{remaining} of this month's {limit} seconds remain. The quota resets at {resets_at}."
)
MSG_TOO_MANY_JOBS = (
    "Too many concurrent jobs: this organization may have {limit} jobs queued or running at "
    "once. Retry when one of them has finished."
)
# Retry-After of a request refused for the concurrent-jobs limit: jobs take seconds.
CONCURRENCY_RETRY_AFTER = 2


@dataclass(frozen=True)
class Reservation:
    """Audio seconds and one concurrency slot held for a job until it is settled."""

    tenant_id: int
    period: date
    seconds: int


def _seconds_until(moment: datetime) -> int:
    return max(1, math.ceil((moment - timezone.now()).total_seconds()))


def _ensure_counters(*, tenant: Tenant, period: date) -> None:
    # Rows are created on first use; ignore_conflicts makes two first requests racing safe.
    if not QuotaPeriod.objects.filter(tenant=tenant, period=period).exists():
        QuotaPeriod.objects.bulk_create(
            [QuotaPeriod(tenant=tenant, period=period)], ignore_conflicts=True
        )
    if not ActiveJobs.objects.filter(tenant=tenant).exists():
        ActiveJobs.objects.bulk_create([ActiveJobs(tenant=tenant)], ignore_conflicts=True)


def _quota_exceeded(*, tenant: Tenant, period: date, seconds: int, limit: int) -> QuotaExceeded:
    row = QuotaPeriod.objects.filter(tenant=tenant, period=period).first()
    taken = (row.reserved_seconds + row.used_seconds) if row else 0
    resets_at = month_end(period)
    return QuotaExceeded(
        MSG_INSUFFICIENT_QUOTA.format(
            needed=seconds,
            remaining=max(0, limit - taken),
            limit=limit,
            resets_at=resets_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        ),
        retry_after=_seconds_until(resets_at),
    )


def quota_reserve(
    *, tenant: Tenant, seconds: int, limits: Limits | None = None, now: datetime | None = None
) -> Reservation:
    """Hold `seconds` of this month's allowance and one concurrency slot for a new job, or
    raise QuotaExceeded / TooManyJobs.

    Each hold is one conditional UPDATE whose WHERE clause carries the limit: the database
    applies it to the row as it is when the row lock is granted, so two requests racing for
    the last seconds cannot both pass (a read-then-write could). Both holds are taken in one
    transaction, always in the same order (seconds, then slot), so a refused slot gives the
    seconds back and two reservations never deadlock.
    """
    limits = limits or tenant_limits(tenant=tenant)
    period = month_start(now or timezone.now())
    # The counters' rows are made on a tenant's first request of a month: looked for only when
    # a hold is refused, not before every reservation (two reads less on every request). A
    # refusal is only final once the rows surely exist: the row a hold found missing may have
    # been made by another request a moment later.
    try:
        return _reserve(tenant=tenant, period=period, seconds=seconds, limits=limits, first=True)
    except _Refused:
        _ensure_counters(tenant=tenant, period=period)
    return _reserve(tenant=tenant, period=period, seconds=seconds, limits=limits, first=False)


def quota_check(
    *, tenant: Tenant, seconds: int, limits: Limits | None = None, now: datetime | None = None
) -> None:
    """Raise QuotaExceeded / TooManyJobs when a reservation of `seconds` would surely be
    refused now: two reads, no lock. Called before an upload is stored, so a tenant out of
    quota does not have each of its files written to disk and deleted again; quota_reserve,
    in the job's transaction, stays the guarantee (a race between the two is settled there)."""
    limits = limits or tenant_limits(tenant=tenant)
    period = month_start(now or timezone.now())
    row = QuotaPeriod.objects.filter(tenant=tenant, period=period).first()
    taken = (row.reserved_seconds + row.used_seconds) if row else 0
    if taken + seconds > limits.monthly_audio_seconds:
        raise _quota_exceeded(
            tenant=tenant, period=period, seconds=seconds, limit=limits.monthly_audio_seconds
        )
    slots = ActiveJobs.objects.filter(tenant=tenant).values_list("count", flat=True).first()
    if slots is not None and slots >= limits.concurrent_jobs:
        raise TooManyJobs(
            MSG_TOO_MANY_JOBS.format(limit=limits.concurrent_jobs),
            retry_after=CONCURRENCY_RETRY_AFTER,
        )


class _Refused(Exception):
    """A first try's hold was refused (its transaction is rolled back): try again, once the
    counters' rows exist."""


def _reserve(
    *, tenant: Tenant, period: date, seconds: int, limits: Limits, first: bool
) -> Reservation:
    with transaction.atomic():
        held = (
            QuotaPeriod.objects.filter(tenant=tenant, period=period)
            .filter(
                LessThanOrEqual(
                    F("reserved_seconds") + F("used_seconds") + seconds,
                    limits.monthly_audio_seconds,
                )
            )
            .update(reserved_seconds=F("reserved_seconds") + seconds)
        )
        if not held:
            if first:
                raise _Refused
            raise _quota_exceeded(
                tenant=tenant, period=period, seconds=seconds, limit=limits.monthly_audio_seconds
            )
        slot = ActiveJobs.objects.filter(tenant=tenant, count__lt=limits.concurrent_jobs).update(
            count=F("count") + 1
        )
        if not slot:
            if first:
                raise _Refused
            raise TooManyJobs(
                MSG_TOO_MANY_JOBS.format(limit=limits.concurrent_jobs),
                retry_after=CONCURRENCY_RETRY_AFTER,
            )
    return Reservation(tenant_id=tenant.pk, period=period, seconds=seconds)


def quota_settle(*, tenant_id: int, period: date, reserved_seconds: int, used_seconds: int) -> None:
    """A job ended: its reservation becomes `used_seconds` (0 when it failed or was
    cancelled: a refund) and its slot is freed. The caller makes sure this runs once per
    job (transcriptions' _finish does it in the transaction that ends the job)."""
    # Within that transaction, no savepoint of its own (two statements less per job).
    with transaction.atomic(savepoint=False):
        # Floors at 0 keep a bookkeeping slip from failing the job's final transition.
        QuotaPeriod.objects.filter(tenant_id=tenant_id, period=period).update(
            reserved_seconds=Greatest(F("reserved_seconds") - reserved_seconds, Value(0)),
            used_seconds=F("used_seconds") + used_seconds,
        )
        ActiveJobs.objects.filter(tenant_id=tenant_id).update(
            count=Greatest(F("count") - 1, Value(0))
        )


def quota_hold(*, tenant: Tenant, period: date | None, seconds: int) -> date | None:
    """Hold `seconds` more of the month's allowance with no job slot: a live turn's interim
    text is sent only once the seconds it covers are held, so a tenant without them gets none.
    The month held in (`period`, or this one), or None when they are not there."""
    limit = tenant_limits(tenant=tenant).monthly_audio_seconds
    period = period or month_start(timezone.now())
    fits = LessThanOrEqual(F("reserved_seconds") + F("used_seconds") + seconds, limit)

    def hold() -> int:
        return (
            QuotaPeriod.objects.filter(tenant=tenant, period=period)
            .filter(fits)
            .update(reserved_seconds=F("reserved_seconds") + seconds)
        )

    # As quota_reserve: the counters' row is looked for only when a hold is refused.
    held = hold()
    if not held:
        _ensure_counters(tenant=tenant, period=period)
        held = hold()
    return period if held else None


def quota_unhold(*, tenant_id: int, period: date, held_seconds: int, used_seconds: int) -> None:
    """A hold of quota_hold ends: `used_seconds` are used (text was sent for them, whether or
    not they were still held: they cannot be taken back), the held ones given back."""
    with transaction.atomic(savepoint=False):
        QuotaPeriod.objects.filter(tenant_id=tenant_id, period=period).update(
            reserved_seconds=Greatest(F("reserved_seconds") - held_seconds, Value(0)),
            used_seconds=F("used_seconds") + used_seconds,
        )


def quota_release(*, reservation: Reservation) -> None:
    """Give a reservation back whole: its job was never created."""
    quota_settle(
        tenant_id=reservation.tenant_id,
        period=reservation.period,
        reserved_seconds=reservation.seconds,
        used_seconds=0,
    )
