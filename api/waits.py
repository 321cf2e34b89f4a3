"""A per-tenant cap on the requests that hold a web thread while their job runs.

A synchronous or streaming transcription keeps its thread until the job ends (up to
SYNC_WAIT_TIMEOUT). Without a cap, one tenant's burst of such requests takes every thread of a
web process, and every other tenant's requests (even `GET /v1/models`) queue behind them. So
each web process lets one tenant hold at most SYNC_WAITS_PER_TENANT threads (by default a
quarter of its threads); past that the request is refused at once with 429 and Retry-After,
before anything is stored or billed. Async jobs (`POST /v1/audio/jobs`) hold no thread and are
not counted.

The count lives in the process, not in the database or Redis, on purpose: what it protects are
this process's threads, and a count in memory cannot leak when a process dies mid-request.
"""

import threading
from collections import Counter

from django.conf import settings

from .errors import ApiError

MSG_TOO_MANY_WAITING = (
    "Too many requests of this organization are waiting for their transcription on this "
    "server (at most {limit} at once). Retry shortly, or submit jobs with POST "
    "/v1/audio/jobs, which do not wait."
)
RETRY_AFTER_SECONDS = 5

_lock = threading.Lock()
_waiting: Counter[int] = Counter()


def wait_slot_take(tenant_id: int) -> None:
    """Count one more waiting request of the tenant, or refuse it (429)."""
    limit = settings.SYNC_WAITS_PER_TENANT
    with _lock:
        if _waiting[tenant_id] >= limit:
            raise ApiError(
                MSG_TOO_MANY_WAITING.format(limit=limit),
                status_code=429,
                type="requests",
                code="rate_limit_exceeded",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        _waiting[tenant_id] += 1


def wait_slot_free(tenant_id: int) -> None:
    with _lock:
        _waiting[tenant_id] -= 1
        if _waiting[tenant_id] <= 0:
            del _waiting[tenant_id]


def waiting_now(tenant_id: int) -> int:
    with _lock:
        return _waiting[tenant_id]
