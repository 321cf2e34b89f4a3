"""Job callbacks: a POST of the finished job to the tenant's `callback_url`, signed with the
tenant's secret, retried with backoff, every attempt recorded.

Signature: header `X-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`; the receiver
recomputes it over the exact bytes it received and compares in constant time.
"""

import hashlib
import hmac
import json
import logging
import secrets
import time
from datetime import timedelta

import httpx
from django.conf import settings
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from accounts.models import Tenant

from ..models import CallbackAttempt, CallbackSecret, Job
from ..representations import job_object

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Signature"
# Seconds to wait before attempt 2, 3, ...: short waits are slept in the task (a receiver that
# blipped), long ones are django-q2 schedules so that no worker sits idle for minutes.
BACKOFF = (1, 5, 30, 120, 600)
SLEEP_IN_TASK_UP_TO = 5


def callback_secret_get(*, tenant: Tenant) -> str:
    secret, _ = CallbackSecret.objects.get_or_create(
        tenant=tenant, defaults={"secret": f"whsec_{secrets.token_urlsafe(32)}"}
    )
    return secret.secret


def callback_secret_rotate(*, tenant: Tenant) -> str:
    value = f"whsec_{secrets.token_urlsafe(32)}"
    CallbackSecret.objects.update_or_create(tenant=tenant, defaults={"secret": value})
    return value


def callback_sign(*, secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def callback_enqueue(*, job_pk: int, attempt: int = 1, delay: float = 0) -> None:
    if delay <= 0:
        async_task("transcriptions.tasks.deliver_callback", job_pk, attempt)
        return
    Schedule.objects.create(
        name=f"callback-{job_pk}-{attempt}",
        func="transcriptions.tasks.deliver_callback",
        args=f"{job_pk},{attempt}",
        schedule_type=Schedule.ONCE,
        repeats=1,
        next_run=timezone.now() + timedelta(seconds=delay),
    )


def _post(job: Job, body: bytes, secret: str) -> tuple[int | None, str]:
    try:
        response = httpx.post(
            job.callback_url,
            content=body,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: callback_sign(secret=secret, body=body),
                "User-Agent": "whisper-platform-callback/1",
            },
            timeout=settings.CALLBACK_TIMEOUT,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    return response.status_code, "" if response.is_success else f"HTTP {response.status_code}"


def callback_deliver(*, job_pk: int, attempt: int = 1) -> bool:
    """Deliver (and retry) one job's callback; True once a 2xx answer is received."""
    while True:
        job = Job.objects.select_related("tenant").filter(pk=job_pk).first()
        if job is None or not job.callback_url:
            return False  # deleted meanwhile: nothing to tell
        body = json.dumps(job_object(job, include_result=True)).encode()
        status_code, error = _post(job, body, callback_secret_get(tenant=job.tenant))
        delivered = not error
        CallbackAttempt.objects.update_or_create(
            job=job,
            number=attempt,
            defaults={"status_code": status_code, "error": error, "delivered": delivered},
        )
        if delivered or attempt > len(BACKOFF):
            if not delivered:
                logger.warning("callback for %s given up after %s attempts", job, attempt)
            return delivered
        delay = BACKOFF[attempt - 1]
        attempt += 1
        if delay > SLEEP_IN_TASK_UP_TO:
            callback_enqueue(job_pk=job_pk, attempt=attempt, delay=delay)
            return False
        time.sleep(delay)
