"""The usage log: one row per API request of a tenant, kept USAGE_RETENTION_DAYS (whole
months). Every row is also counted (counters.py).

A request that creates a job has its row written by the service that creates the job, in the
job's transaction (pending: `billed_seconds` empty), so that no job ever exists without it; the
request log then gives it the response's status, size and time (usage_record_log), and the job's
final transition its cost (usage_record_settle), in whichever order they come. A request that
reached no such service (a refusal, a read) gets its row from the request log alone."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import ApiKey, Tenant

from ..models import UsageRecord
from ..periods import month_start
from .counters import request_counter_add, request_counter_add_audio

# Rows deleted per statement by the purge: a backlog of millions never holds one long lock.
PURGE_BATCH = 5_000


@dataclass(frozen=True)
class UsageOrigin:
    """The request a job is created for, as its usage row tells it. `status_code` is what the
    request answers when all goes well; the request log writes the real one."""

    request_id: str
    method: str
    endpoint: str
    status_code: int
    request_bytes: int = 0
    idempotency_key: str = ""
    started: float | None = None  # time.perf_counter() when the request came in


@dataclass(frozen=True)
class JobUsage:
    audio_seconds: float | None
    billed_seconds: int | None  # None: the job has not ended yet
    error_code: str


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
    """The one row of an API request (`billed_seconds=None`: its job has not ended), counted
    for /metrics in the same transaction."""
    with transaction.atomic():
        record = UsageRecord.objects.create(
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
        known = billed_seconds is not None  # else added when the job ends (settle below)
        request_counter_add(
            endpoint=record.endpoint,
            status_code=status_code,
            processing_ms=record.processing_ms,
            audio_seconds=audio_seconds if known else None,
            billed_seconds=billed_seconds if known else None,
        )
    return record


def usage_record_log(
    *,
    request_id: str,
    status_code: int,
    error_code: str = "",
    request_bytes: int = 0,
    processing_ms: int = 0,
    **row: Any,
) -> None:
    """The request log's write, once the response exists (or the client left): the row its
    service wrote gets the response's figures (usage_record_update); a request that reached no
    service gets its own row, billed nothing (`row`: usage_record_create's other fields)."""
    answer = {
        "request_id": request_id,
        "status_code": status_code,
        "error_code": error_code,
        "request_bytes": request_bytes,
        "processing_ms": processing_ms,
    }
    with transaction.atomic():
        if usage_record_update(**answer):
            return
        try:
            with transaction.atomic():
                usage_record_create(**answer, **row, billed_seconds=0)
            return
        except IntegrityError:
            pass  # (PostgreSQL) the service's row was committed meanwhile: it is updated
        usage_record_update(**answer)


def usage_record_update(
    *, request_id: str, status_code: int, error_code: str, request_bytes: int, processing_ms: int
) -> bool:
    """Give a request's row the response's status, error, size and time (False: no row). Its
    cost is left alone: that is the job's to write. An empty `error_code` keeps the row's (a
    stream that answered 200 carries its job's error). The counters follow the row."""
    with transaction.atomic():
        rows = UsageRecord.objects.filter(request_id=request_id)
        before = (
            rows.select_for_update()
            .values("endpoint", "status_code", "processing_ms", "audio_seconds", "billed_seconds")
            .first()
        )
        if before is None:
            return False
        changes: dict[str, Any] = {
            "status_code": status_code,
            "request_bytes": max(0, request_bytes),
            "processing_ms": max(0, processing_ms),
        }
        if error_code:
            changes["error_code"] = error_code[:64]
        rows.update(**changes)
        known = before["billed_seconds"] is not None  # else counted when it is settled
        cost = {
            "audio_seconds": before["audio_seconds"] if known else None,
            "billed_seconds": before["billed_seconds"] if known else None,
        }
        request_counter_add(
            endpoint=before["endpoint"],
            status_code=before["status_code"],
            processing_ms=before["processing_ms"],
            requests=-1,
            **cost,
        )
        request_counter_add(
            endpoint=before["endpoint"],
            status_code=status_code,
            processing_ms=changes["processing_ms"],
            **cost,
        )
    return True


def usage_record_settle(*, request_id: str, usage: JobUsage) -> bool:
    """Fill in the cost of a request's job, once, when the job ends: whatever the request log
    wrote in the row meanwhile (the client may have left long before)."""
    if usage.billed_seconds is None:
        return False
    fields: dict[str, Any] = {
        "audio_seconds": usage.audio_seconds,
        "billed_seconds": usage.billed_seconds,
    }
    pending = UsageRecord.objects.filter(request_id=request_id, billed_seconds__isnull=True)
    # A read first: a row settled already (a second run of the final transition) takes no
    # write transaction, which on SQLite would hold the one write lock.
    if not pending.exists():
        return False
    with transaction.atomic():
        settled = pending.filter(error_code="").update(**fields, error_code=usage.error_code)
        settled += pending.exclude(error_code="").update(**fields)
        if settled:
            endpoint, status_code = UsageRecord.objects.values_list("endpoint", "status_code").get(
                request_id=request_id
            )
            request_counter_add_audio(
                endpoint=endpoint,
                status_code=status_code,
                audio_seconds=usage.audio_seconds,
                billed_seconds=usage.billed_seconds,
            )
    return bool(settled)


def usage_retention_cutoff(*, now: datetime | None = None) -> datetime | None:
    """Rows created before this instant are purged; None keeps everything.

    The cutoff is the start of a month, so that a month is kept whole or not at all: a billing
    report never shows a month cut in half."""
    days = settings.USAGE_RETENTION_DAYS
    if days <= 0:
        return None
    first = month_start((now or timezone.now()) - timedelta(days=days))
    return datetime(first.year, first.month, 1, tzinfo=UTC)


def usage_records_purge(*, now: datetime | None = None) -> int:
    """Delete the usage rows past the retention (a django-q2 schedule), in batches."""
    cutoff = usage_retention_cutoff(now=now)
    if cutoff is None:
        return 0
    expired = UsageRecord.objects.filter(created_at__lt=cutoff)
    purged = 0
    while batch := list(expired.order_by().values_list("pk", flat=True)[:PURGE_BATCH]):
        deleted, _ = UsageRecord.objects.filter(pk__in=batch).delete()
        purged += deleted
    return purged
