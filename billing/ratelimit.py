"""Requests per minute, per tenant and per key, kept in the Django cache (local memory by
default: one web process; Redis when REDIS_URL is set: shared by every web process).

Each limit is a token bucket of `limit` requests that refills continuously, one request
every 60/limit seconds (GCRA: one number per bucket, the "theoretical arrival time"). A burst
of `limit` requests passes, then one more every 60/limit seconds, which is what OpenAI's
`x-ratelimit-reset-requests` describes: the time until the bucket is full again.

The Django cache has no compare-and-swap, so the read-compute-write of the buckets runs under
a short lock taken with `cache.add` (atomic in both backends). A lock that cannot be had in
LOCK_WAIT seconds (a process died holding it: it expires after LOCK_TTL) lets the request
through: rate limiting protects the service and must never be what takes it down.
"""

import logging
import math
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.cache import cache

from accounts.models import ApiKey

from .errors import RateLimited
from .selectors import tenant_limits

logger = logging.getLogger(__name__)

WINDOW = 60.0  # the limits are per minute
LOCK_TTL = 2
LOCK_WAIT = 0.5
EPSILON = 1e-6
KEY_PREFIX = "ratelimit"

MSG_RATE_LIMITED = (
    "Rate limit reached for requests per minute (RPM) on {scope}: Limit {limit}, Used {limit}, "
    "Requested 1. Please try again in {wait}."
)


@dataclass(frozen=True)
class Bucket:
    name: str  # cache key part, e.g. "tenant:3"
    limit: int  # requests per minute
    scope: str  # for the message, e.g. "organization acme"


@dataclass(frozen=True)
class RateLimit:
    """The state of the binding bucket after a request: what the headers say."""

    limit: int
    remaining: int
    reset: float  # seconds until the bucket is full again
    retry_after: float  # seconds until one more request passes; 0 when this one passed
    scope: str

    @property
    def allowed(self) -> bool:
        return self.retry_after <= 0


def _ceil(value: float) -> int:
    # Times are differences of epoch floats (~1e9): 2 s can come out as 2.0000002, which must
    # not be shown, or waited, as 3.
    return math.ceil(round(value, 3))


def duration_text(seconds: float) -> str:
    """OpenAI's notation for durations in headers: `20ms`, `1.5s`, `6m0s`."""
    millis = max(0, _ceil(seconds * 1000))
    if millis < 1000:
        return f"{millis}ms"
    minutes, millis = divmod(millis, 60_000)
    secs = f"{millis / 1000:.3f}".rstrip("0").rstrip(".")
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def _cache_key(bucket: Bucket) -> str:
    return f"{KEY_PREFIX}:{bucket.name}"


@contextmanager
def _locked(keys: list[str]) -> Iterator[None]:
    held: list[str] = []
    token = uuid.uuid4().hex
    try:
        for key in sorted(keys):  # one order for every request: no deadlock
            lock = f"{key}:lock"
            deadline = time.monotonic() + LOCK_WAIT
            while not cache.add(lock, token, timeout=LOCK_TTL):
                if time.monotonic() > deadline:
                    logger.warning("rate limit lock %s not acquired; letting the request in", lock)
                    break
                time.sleep(0.001)
            else:
                held.append(lock)
        yield
    finally:
        if held:
            cache.delete_many(held)


def _state(bucket: Bucket, tat: float, now: float) -> tuple[float, RateLimit]:
    """GCRA: the bucket's new theoretical arrival time if this request passes, and the
    state to report."""
    if bucket.limit <= 0:  # a plan of 0 requests per minute: nothing passes
        return tat, RateLimit(
            limit=0, remaining=0, reset=WINDOW, retry_after=WINDOW, scope=bucket.scope
        )
    interval = WINDOW / bucket.limit
    new_tat = max(tat, now) + interval
    if new_tat - now > WINDOW + EPSILON:
        return tat, RateLimit(
            limit=bucket.limit,
            remaining=0,
            reset=max(0.0, tat - now),
            retry_after=new_tat - WINDOW - now,
            scope=bucket.scope,
        )
    remaining = math.floor((now + WINDOW - new_tat) / interval + EPSILON)
    return new_tat, RateLimit(
        limit=bucket.limit,
        remaining=max(0, remaining),
        reset=new_tat - now,
        retry_after=0.0,
        scope=bucket.scope,
    )


def rate_limit_take(*, buckets: list[Bucket], now: float | None = None) -> RateLimit:
    """Count one request against every bucket, or against none if any is empty; the state
    of the bucket that binds (the refusing one, else the one with the fewest left)."""
    now = time.time() if now is None else now
    keys = [_cache_key(bucket) for bucket in buckets]
    with _locked(keys):
        stored = cache.get_many(keys)
        # No arrival time is ever more than WINDOW ahead of the clock that wrote it. One that
        # is ahead of this clock was written by a clock ahead of it (another machine's, or
        # this one's stepping: issue 29): an empty bucket, not a wait of the clocks' gap.
        results = [
            _state(bucket, min(float(stored.get(key, now)), now + WINDOW), now)
            for bucket, key in zip(buckets, keys, strict=True)
        ]
        refused = [state for _, state in results if not state.allowed]
        if refused:
            return max(refused, key=lambda state: state.retry_after)
        # A bucket is full again WINDOW seconds after its arrival time at the latest.
        cache.set_many(
            {key: tat for key, (tat, _) in zip(keys, results, strict=True)},
            timeout=math.ceil(WINDOW) + 1,
        )
    return min((state for _, state in results), key=lambda state: (state.remaining, -state.reset))


def rate_limit_check(*, api_key: ApiKey) -> RateLimit:
    """Count one request of this key against its tenant's plan (and the key's own limit, when
    it has one); RateLimited when a bucket is empty. The state says what the headers show."""
    tenant = api_key.tenant
    buckets = [
        Bucket(
            name=f"tenant:{tenant.pk}",
            limit=tenant_limits(tenant=tenant).requests_per_minute,
            scope=f"organization {tenant.slug}",
        )
    ]
    if api_key.requests_per_minute:
        buckets.append(
            Bucket(
                name=f"key:{api_key.pk}",
                limit=api_key.requests_per_minute,
                scope=f"API key {api_key.prefix}",
            )
        )
    state = rate_limit_take(buckets=buckets)
    if not state.allowed:
        wait = max(1, _ceil(state.retry_after))  # whole seconds, as Retry-After says
        raise RateLimited(
            MSG_RATE_LIMITED.format(scope=state.scope, limit=state.limit, wait=f"{wait}s"),
            retry_after=wait,
            state=state,
        )
    return state
