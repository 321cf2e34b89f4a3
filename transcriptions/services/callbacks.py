"""Job callbacks: a POST of the finished job to the tenant's `callback_url`, signed with the
tenant's secret, retried with backoff, every attempt recorded.

Signature (Stripe's scheme): headers `X-Signature-Timestamp: <unix seconds>` and
`X-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{raw body}")>`. The receiver
recomputes it over the exact bytes it received, compares in constant time, and refuses a
timestamp older than a few minutes, so a captured callback cannot be replayed later.

Callbacks run on a django-q2 cluster of their own (settings.CALLBACK_CLUSTER), never on the
inference workers: the receiver, which a tenant chooses, decides how long an attempt takes. Each
attempt is one task bounded by CALLBACK_TIMEOUT in total (outbound.post); the next one is a
django-q2 schedule, so no process sleeps between attempts.

A tenant's attempts hold at most CALLBACK_TENANT_SLOTS of the cluster's workers at once (a slot
is a key in the shared cache): fifty callbacks to a receiver that never answers would otherwise
take every worker for CALLBACK_TIMEOUT each, in turn, while the other tenants' callbacks wait
behind them (issue 29). An attempt that finds its tenant's slots taken is put off, not counted.
"""

import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from accounts.models import Tenant
from ops.outages import is_outage

from ..models import CallbackAttempt, CallbackSecret, Job
from ..representations import job_object
from . import outbound

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Signature-Timestamp"
# A receiver should refuse signatures older than this (as docs/api/jobs.md's example does).
SIGNATURE_TOLERANCE_SECONDS = 300
# Seconds before attempt 2, 3, ...: schedules, which django-q2's scheduler looks at about
# twice a minute, so shorter waits would mean nothing.
BACKOFF = (30, 120, 600, 1800, 3600)
# An attempt put off because its tenant's slots are taken runs again at the scheduler's next look.
DEFER_SECONDS = 5


def callback_secret_get(*, tenant: Tenant) -> str:
    secret, _ = CallbackSecret.objects.get_or_create(
        tenant=tenant, defaults={"secret": f"whsec_{secrets.token_urlsafe(32)}"}
    )
    return secret.secret


def callback_secret_rotate(*, tenant: Tenant) -> str:
    value = f"whsec_{secrets.token_urlsafe(32)}"
    CallbackSecret.objects.update_or_create(tenant=tenant, defaults={"secret": value})
    return value


def callback_sign(*, secret: str, body: bytes, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def callback_signature_verify(
    *,
    secret: str,
    body: bytes,
    timestamp: str,
    signature: str,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """What a receiver does (docs/api/jobs.md shows it standalone): the signature matches this
    body and timestamp, and the timestamp is recent."""
    if not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
        return False
    expected = callback_sign(secret=secret, body=body, timestamp=int(timestamp))
    return hmac.compare_digest(expected, signature)


def callback_enqueue(*, job_pk: int, attempt: int = 1, delay: float = 0) -> None:
    """Queue attempt `attempt` on the callbacks cluster, now or as a schedule `delay` seconds
    from now."""
    if delay <= 0:
        async_task(
            "transcriptions.tasks.deliver_callback",
            job_pk,
            attempt,
            cluster=settings.CALLBACK_CLUSTER,
        )
        return
    Schedule.objects.create(
        name=f"callback-{job_pk}-{attempt}",
        func="transcriptions.tasks.deliver_callback",
        args=f"{job_pk},{attempt}",
        schedule_type=Schedule.ONCE,
        repeats=1,
        next_run=timezone.now() + timedelta(seconds=delay),
        cluster=settings.CALLBACK_CLUSTER,
    )


def _post(job: Job, body: bytes, secret: str) -> outbound.Outcome:
    timestamp = int(time.time())
    return outbound.post(
        job.callback_url,
        body=body,
        headers={
            "Content-Type": "application/json",
            "User-Agent": "whisper-platform-callback/1",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: callback_sign(secret=secret, body=body, timestamp=timestamp),
        },
        deadline_seconds=settings.CALLBACK_TIMEOUT,
        max_bytes=settings.CALLBACK_MAX_RESPONSE_BYTES,
        allow_private=settings.CALLBACK_ALLOW_PRIVATE,
    )


def callback_deliver(*, job_pk: int, attempt: int = 1) -> bool:
    """One delivery attempt of a job's callback; True on a 2xx answer. A failed attempt
    schedules the next one, until BACKOFF is used up."""
    job = Job.objects.select_related("tenant").filter(pk=job_pk).first()
    if job is None or not job.callback_url:
        return False  # deleted meanwhile: nothing to tell
    if job.callback_attempts.filter(delivered=True).exists():
        return True  # a copy of an attempt handed out again by the broker
    with _tenant_slot(job.tenant_id) as free:
        if not free:
            callback_enqueue(job_pk=job_pk, attempt=attempt, delay=DEFER_SECONDS)
            return False
        body = json.dumps(job_object(job, include_result=True)).encode()
        outcome = _post(job, body, callback_secret_get(tenant=job.tenant))
    CallbackAttempt.objects.update_or_create(
        job=job,
        number=attempt,
        defaults={
            "status_code": outcome.status_code,
            "error": outcome.reason,
            "delivered": outcome.delivered,
        },
    )
    if outcome.delivered:
        return True
    if attempt > len(BACKOFF):
        logger.warning("callback for %s given up after %s attempts", job, attempt)
        return False
    callback_enqueue(job_pk=job_pk, attempt=attempt + 1, delay=BACKOFF[attempt - 1])
    return False


@contextmanager
def _tenant_slot(tenant_id: int) -> Iterator[bool]:
    """One of the tenant's CALLBACK_TENANT_SLOTS for the length of an attempt (True), or False
    when all are taken. A slot outlives a worker killed mid-attempt by its expiry only."""
    ttl = int(settings.CALLBACK_TIMEOUT) + 30
    for index in range(settings.CALLBACK_TENANT_SLOTS):
        key = f"callback-slot:{tenant_id}:{index}"
        try:
            taken = cache.add(key, 1, timeout=ttl)
        except Exception as exc:
            if not is_outage(exc):
                raise
            # No cache to share slots through: deliver, as before slots existed.
            yield True
            return
        if taken:
            try:
                yield True
            finally:
                with contextlib.suppress(Exception):
                    cache.delete(key)
            return
    yield False
