"""A per-tenant cap on the requests that wait in a web process while their job runs.

A synchronous or streaming transcription stays open until its job ends (up to
SYNC_WAIT_TIMEOUT). It waits as a coroutine and holds no thread (api.views.audio), but it
still holds the client's connection, a subscription to Redis (or a wake-up socket) and its
request's memory. Without a cap, one tenant could open them by the thousand in one process;
with it, each web process lets one tenant hold at most SYNC_WAITS_PER_TENANT such requests
(default 32); past that the request is refused at once with 429 and Retry-After, before
anything is stored or billed. Async jobs (`POST /v1/audio/jobs`) do not wait and are not
counted.

The count lives in the process, not in the database or Redis, on purpose: what it protects is
this process, and a count in memory cannot leak when a process dies mid-request.
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
