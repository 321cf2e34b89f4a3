"""Idempotency-Key records: a retried request with the same key and body is answered from the
first request's job, and billed once."""

import asyncio
import hashlib
import json
from datetime import datetime, timedelta
from time import monotonic
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Tenant
from ops.threads import in_thread

from ..errors import IdempotencyKeyPending, IdempotencyKeyReused, IdempotencyKeyTooLong
from ..models import IdempotencyRecord

MSG_IDEMPOTENCY_MISMATCH = (
    "Keys for idempotent requests can only be used with the same parameters they were first "
    "used with. Try using a key other than '{key}' if you meant to execute a different request."
)
MSG_IDEMPOTENCY_IN_PROGRESS = (
    "A request with the Idempotency-Key '{key}' is still being processed; retry shortly."
)
MSG_IDEMPOTENCY_KEY_LONG = "The Idempotency-Key header must be at most {limit} characters long."

# A retried request with the same Idempotency-Key is answered from the first for this long.
IDEMPOTENCY_TTL = timedelta(hours=24)
IDEMPOTENCY_KEY_MAX = 255
# How long a retry waits for the first request with its key to store its job, and how often
# it looks (from POLL_MIN, less and less often up to POLL_MAX).
IDEMPOTENCY_WAIT = 10.0
POLL_MIN = 0.005
POLL_MAX = 0.05


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
    *, tenant: Tenant, key: str, fingerprint: str, request_id: str
) -> IdempotencyRecord:
    """The record of this Idempotency-Key: a new one (no job yet) when this request is the
    first in 24 hours, else the first request's, whose job is the answer.

    The unique constraint decides who is first. A retry that arrives while the first request
    is still storing its job gets IdempotencyKeyPending at once: its caller waits for the job
    id without a thread (idempotency_wait_async) and claims again, or answers 409.
    """
    if len(key) > IDEMPOTENCY_KEY_MAX:
        raise IdempotencyKeyTooLong(MSG_IDEMPOTENCY_KEY_LONG.format(limit=IDEMPOTENCY_KEY_MAX))
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
            raise IdempotencyKeyReused(MSG_IDEMPOTENCY_MISMATCH.format(key=key))
        if first.job_id:
            return first
        raise IdempotencyKeyPending(
            MSG_IDEMPOTENCY_IN_PROGRESS.format(key=key), retry_after=1, tenant=tenant, key=key
        )


def _in_progress(tenant: Tenant, key: str) -> bool:
    return IdempotencyRecord.objects.filter(tenant=tenant, key=key, job_id="").exists()


async def idempotency_wait_async(*, pending: IdempotencyKeyPending, timeout: float) -> None:
    """Until the first request with the pending key has its job or lets the key go, or the
    timeout passes. A coroutine: it sleeps in the event loop, and each look is a short read in
    the shared pool of ops.threads, so retries waiting hold no thread each."""
    deadline = monotonic() + timeout
    interval = POLL_MIN
    read = in_thread(_in_progress)
    while await read(pending.tenant, pending.key):
        left = deadline - monotonic()
        if left <= 0:
            return
        await asyncio.sleep(min(interval, left))
        interval = min(interval * 1.5, POLL_MAX)


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
