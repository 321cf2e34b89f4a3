"""The usage log: one immutable row per API request, settled once when its job ends later."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from accounts.models import ApiKey, Tenant

from ..models import UsageRecord


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
