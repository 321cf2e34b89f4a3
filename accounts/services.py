"""Writes for tenants, members and API keys, plan limits, the quota, the usage log and
Idempotency-Key records."""

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from time import monotonic, sleep
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from config.errors import ApiError
from transcriptions.formats import billed_seconds

from .models import (
    LIMIT_FIELDS,
    ActiveJobs,
    ApiKey,
    IdempotencyRecord,
    Membership,
    Plan,
    PlanOverride,
    QuotaPeriod,
    Tenant,
    UsageRecord,
    generate_key,
    hash_secret,
)
from .periods import month_end, month_start
from .selectors import Limits, tenant_limits, tenant_limits_forget

MSG_INSUFFICIENT_QUOTA = (
    "You exceeded your current quota: this request needs {needed} seconds of audio and "
    "{remaining} of this month's {limit} seconds remain. The quota resets at {resets_at}."
)
MSG_TOO_MANY_JOBS = (
    "Too many concurrent jobs: this organization may have {limit} jobs queued or running at "
    "once. Retry when one of them has finished."
)
MSG_AUDIO_TOO_LONG = (
    "The audio is {duration} seconds long, over this plan's limit of {limit} seconds per file."
)
MSG_IDEMPOTENCY_MISMATCH = (
    "Keys for idempotent requests can only be used with the same parameters they were first "
    "used with. Try using a key other than '{key}' if you meant to execute a different request."
)
MSG_IDEMPOTENCY_IN_PROGRESS = (
    "A request with the Idempotency-Key '{key}' is still being processed; retry shortly."
)
MSG_IDEMPOTENCY_KEY_LONG = "The Idempotency-Key header must be at most {limit} characters long."

# Retry-After of a request refused for the concurrent-jobs limit: jobs take seconds.
CONCURRENCY_RETRY_AFTER = 2
# A retried request with the same Idempotency-Key is answered from the first for this long.
IDEMPOTENCY_TTL = timedelta(hours=24)
IDEMPOTENCY_KEY_MAX = 255
IDEMPOTENCY_WAIT = 10.0
IDEMPOTENCY_POLL = 0.05

# last_used_at is informative: writing it on every request would make each API call a write
# on the hot path, so it is refreshed at most this often.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyNotFound(Exception):
    pass


def tenant_create(*, slug: str, name: str = "") -> Tenant:
    return Tenant.objects.create(slug=slug, name=name or slug)


def membership_create(
    *, tenant: Tenant, user: AbstractBaseUser, role: str = Membership.Role.MEMBER
) -> Membership:
    return Membership.objects.create(tenant=tenant, user=user, role=role)


def api_key_create(
    *,
    tenant: Tenant,
    name: str = "",
    expires_at: datetime | None = None,
    created_by: AbstractBaseUser | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; the plain key is returned once here and never stored."""
    key, prefix = generate_key()
    api_key = ApiKey.objects.create(
        tenant=tenant,
        name=name,
        prefix=prefix,
        hashed_key=hash_secret(key),
        expires_at=expires_at,
        created_by=created_by,
    )
    return api_key, key


@transaction.atomic
def api_key_revoke(*, prefix: str, tenant: Tenant | None = None) -> ApiKey:
    """Revoke by prefix (optionally within one tenant); revoking twice keeps the first time."""
    keys = ApiKey.objects.select_for_update().filter(prefix=prefix)
    if tenant is not None:
        keys = keys.filter(tenant=tenant)
    api_key = keys.first()
    if api_key is None:
        raise ApiKeyNotFound(prefix)
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def api_key_touch(*, api_key: ApiKey) -> None:
    now = timezone.now()
    if api_key.last_used_at and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now


# --- Plans --------------------------------------------------------------------------------------


def tenant_plan_set(*, tenant: Tenant, plan: Plan | None) -> Tenant:
    """Move a tenant to a plan (None: back to the default plan)."""
    Tenant.objects.filter(pk=tenant.pk).update(plan=plan)
    tenant.plan = plan
    tenant_limits_forget(tenant=tenant)
    return tenant


def plan_override_set(*, tenant: Tenant, **values: Any) -> PlanOverride:
    """Set some of a tenant's limits apart from its plan; a value of None inherits again."""
    unknown = set(values) - set(LIMIT_FIELDS)
    if unknown:
        raise ValueError(f"not a plan limit: {', '.join(sorted(unknown))}")
    override, _ = PlanOverride.objects.get_or_create(tenant=tenant)
    for name, value in values.items():
        setattr(override, name, value)
    override.updated_at = timezone.now()
    override.save()
    tenant_limits_forget(tenant=tenant)
    return override


def plan_check_duration(*, limits: Limits, seconds: float) -> None:
    """400 for audio longer than the plan allows, before anything is stored or reserved."""
    if seconds > limits.max_audio_seconds:
        raise ApiError(
            MSG_AUDIO_TOO_LONG.format(duration=round(seconds, 1), limit=limits.max_audio_seconds),
            status_code=400,
            code="audio_too_long",
            param="file",
        )


# --- Quota ------------------------------------------------------------------------------------


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


def _insufficient_quota(*, tenant: Tenant, period: date, seconds: int, limit: int) -> ApiError:
    row = QuotaPeriod.objects.filter(tenant=tenant, period=period).first()
    taken = (row.reserved_seconds + row.used_seconds) if row else 0
    resets_at = month_end(period)
    return ApiError(
        MSG_INSUFFICIENT_QUOTA.format(
            needed=seconds,
            remaining=max(0, limit - taken),
            limit=limit,
            resets_at=resets_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        ),
        status_code=429,
        type="insufficient_quota",
        code="insufficient_quota",
        # Waiting a few seconds does not bring quota back: tell clients (the openai SDK
        # included) not to retry, and when it would make sense.
        headers={"Retry-After": str(_seconds_until(resets_at)), "x-should-retry": "false"},
    )


def quota_reserve(
    *, tenant: Tenant, seconds: int, limits: Limits | None = None, now: datetime | None = None
) -> Reservation:
    """Hold `seconds` of this month's allowance and one concurrency slot for a new job, or
    raise the 429 the client gets.

    Each hold is one conditional UPDATE whose WHERE clause carries the limit: the database
    applies it to the row as it is when the row lock is granted, so two requests racing for
    the last seconds cannot both pass (a read-then-write could). Both holds are taken in one
    transaction, always in the same order (seconds, then slot), so a refused slot gives the
    seconds back and two reservations never deadlock.
    """
    limits = limits or tenant_limits(tenant=tenant)
    period = month_start(now or timezone.now())
    _ensure_counters(tenant=tenant, period=period)
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
            raise _insufficient_quota(
                tenant=tenant, period=period, seconds=seconds, limit=limits.monthly_audio_seconds
            )
        slot = ActiveJobs.objects.filter(tenant=tenant, count__lt=limits.concurrent_jobs).update(
            count=F("count") + 1
        )
        if not slot:
            raise ApiError(
                MSG_TOO_MANY_JOBS.format(limit=limits.concurrent_jobs),
                status_code=429,
                type="requests",
                code="rate_limit_exceeded",
                headers={"Retry-After": str(CONCURRENCY_RETRY_AFTER)},
            )
    return Reservation(tenant_id=tenant.pk, period=period, seconds=seconds)


def quota_settle(*, tenant_id: int, period: date, reserved_seconds: int, used_seconds: int) -> None:
    """A job ended: its reservation becomes `used_seconds` (0 when it failed or was
    cancelled: a refund) and its slot is freed. The caller makes sure this runs once per
    job (transcriptions' _finish does it in the transaction that ends the job)."""
    with transaction.atomic():
        # Floors at 0 keep a bookkeeping slip from failing the job's final transition.
        QuotaPeriod.objects.filter(tenant_id=tenant_id, period=period).update(
            reserved_seconds=Greatest(F("reserved_seconds") - reserved_seconds, Value(0)),
            used_seconds=F("used_seconds") + used_seconds,
        )
        ActiveJobs.objects.filter(tenant_id=tenant_id).update(
            count=Greatest(F("count") - 1, Value(0))
        )


def quota_release(*, reservation: Reservation) -> None:
    """Give a reservation back whole: its job was never created."""
    quota_settle(
        tenant_id=reservation.tenant_id,
        period=reservation.period,
        reserved_seconds=reservation.seconds,
        used_seconds=0,
    )


# --- Usage log --------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobUsage:
    audio_seconds: float | None
    billed_seconds: int | None  # None: the job has not ended yet
    error_code: str


def job_usage(job: Any) -> JobUsage:
    """What a job costs: its measured duration billed per started second when it succeeded,
    nothing when it failed or was cancelled, not known yet while it runs."""
    if not job.is_finished:
        return JobUsage(audio_seconds=job.probed_duration, billed_seconds=None, error_code="")
    if job.status == job.Status.SUCCEEDED:
        duration = job.duration if job.duration is not None else job.probed_duration
        return JobUsage(
            audio_seconds=duration, billed_seconds=billed_seconds(duration), error_code=""
        )
    return JobUsage(
        audio_seconds=job.probed_duration,
        billed_seconds=0,
        error_code=job.error_code or str(job.status),
    )


def usage_record_create(
    *,
    request_id: str,
    method: str,
    endpoint: str,
    status_code: int,
    tenant: Tenant | None = None,
    api_key: ApiKey | None = None,
    model: str = "",
    job_id: str = "",
    error_code: str = "",
    request_bytes: int = 0,
    audio_seconds: float | None = None,
    billed_seconds: int | None = 0,
    processing_ms: int = 0,
    idempotency_key: str = "",
    replayed: bool = False,
    created_at: datetime | None = None,
) -> UsageRecord:
    """The one row of an API request (`billed_seconds=None`: its job has not ended)."""
    return UsageRecord.objects.create(
        tenant=tenant,
        api_key=api_key,
        request_id=request_id,
        method=method[:8],
        endpoint=endpoint[:200],
        model=model[:64],
        job_id=job_id,
        status_code=status_code,
        error_code=error_code[:64],
        request_bytes=max(0, request_bytes),
        audio_seconds=audio_seconds,
        billed_seconds=billed_seconds,
        processing_ms=max(0, processing_ms),
        idempotency_key=idempotency_key[:255],
        replayed=replayed,
        created_at=created_at or timezone.now(),
    )


def usage_record_settle(*, request_id: str, usage: JobUsage) -> bool:
    """Fill in the cost of a request whose job ended after its response: once, whichever of
    the worker (job ended) and the web process (row written) comes last."""
    if usage.billed_seconds is None:
        return False
    fields: dict[str, Any] = {
        "audio_seconds": usage.audio_seconds,
        "billed_seconds": usage.billed_seconds,
    }
    pending = UsageRecord.objects.filter(request_id=request_id, billed_seconds__isnull=True)
    settled = pending.filter(error_code="").update(**fields, error_code=usage.error_code)
    settled += pending.exclude(error_code="").update(**fields)
    return bool(settled)


# --- Idempotency-Key ----------------------------------------------------------------------------


def request_fingerprint(*, fields: dict[str, Any], upload: UploadedFile) -> str:
    """SHA-256 over the request's fields and the uploaded file's name and bytes."""
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode())
    digest.update(b"\0" + (upload.name or "").encode() + b"\0")
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def idempotency_claim(
    *,
    tenant: Tenant,
    key: str,
    fingerprint: str,
    request_id: str,
    wait: float = IDEMPOTENCY_WAIT,
) -> IdempotencyRecord:
    """The record of this Idempotency-Key: a new one (no job yet) when this request is the
    first in 24 hours, else the first request's, whose job is the answer.

    The unique constraint decides who is first. A retry that arrives while the first request
    is still storing its job waits for the job id (a moment), then answers 409 if it is late.
    """
    if len(key) > IDEMPOTENCY_KEY_MAX:
        raise ApiError(
            MSG_IDEMPOTENCY_KEY_LONG.format(limit=IDEMPOTENCY_KEY_MAX), code="invalid_value"
        )
    deadline = monotonic() + wait
    while True:
        IdempotencyRecord.objects.filter(
            tenant=tenant, key=key, created_at__lt=timezone.now() - IDEMPOTENCY_TTL
        ).delete()
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    tenant=tenant, key=key, fingerprint=fingerprint, request_id=request_id
                )
        except IntegrityError:
            pass
        first = IdempotencyRecord.objects.filter(tenant=tenant, key=key).first()
        if first is None:
            continue  # the first request failed and let go of the key meanwhile
        if first.fingerprint != fingerprint:
            raise ApiError(MSG_IDEMPOTENCY_MISMATCH.format(key=key), code="idempotency_key_reused")
        if first.job_id:
            return first
        if monotonic() > deadline:
            raise ApiError(
                MSG_IDEMPOTENCY_IN_PROGRESS.format(key=key),
                status_code=409,
                code="idempotency_key_in_use",
                headers={"Retry-After": "1"},
            )
        sleep(IDEMPOTENCY_POLL)


def idempotency_attach(*, record: IdempotencyRecord, job_id: str) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk).update(job_id=job_id)
    record.job_id = job_id


def idempotency_release(*, record: IdempotencyRecord) -> None:
    """The first request failed before it had a job: a retry may try again from scratch."""
    IdempotencyRecord.objects.filter(pk=record.pk, job_id=record.job_id).delete()


def idempotency_records_purge(*, now: datetime | None = None) -> int:
    """Forget keys older than 24 hours (a periodic task may call this; claims also do it)."""
    cutoff = (now or timezone.now()) - IDEMPOTENCY_TTL
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def usage_records_settle_pending() -> int:
    """Settle pending usage rows whose job has ended: the rare row left behind when a process
    died between ending a job and settling its row. Safe to run any time."""
    from transcriptions.models import Job

    settled = 0
    pending = UsageRecord.objects.filter(billed_seconds__isnull=True).exclude(job_id="")
    for record in pending.only("request_id", "job_id"):
        job = Job.objects.filter(public_id=record.job_id).first()
        if job is None:
            # Deleted by its owner: deleting cancels a running job first, so nothing was used.
            usage = JobUsage(audio_seconds=None, billed_seconds=0, error_code="job_deleted")
        else:
            usage = job_usage(job)
        settled += usage_record_settle(request_id=record.request_id, usage=usage)
    return settled
