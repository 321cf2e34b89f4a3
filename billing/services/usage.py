"""The usage log: one immutable row per API request of a tenant, settled once when its job ends
later, and kept USAGE_RETENTION_DAYS (whole months). Every row is also counted (counters.py)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, Tenant

from ..models import UsageRecord
from ..periods import month_start
from .counters import request_counter_add, request_counter_add_audio

# Rows deleted per statement by the purge: a backlog of millions never holds one long lock.
PURGE_BATCH = 5_000


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
    # Usually there is none (a synchronous answer's row is written after its job ended): a read
    # then, and no write transaction, which on SQLite would hold the one write lock.
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
