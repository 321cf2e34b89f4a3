"""The request counters behind /metrics: bumped by conditional UPDATEs, never read-then-write."""

from django.db.models import F

from ..models import LATENCY_BUCKETS_MS, RequestCounter, latency_bucket_field


def _bump(*, endpoint: str, status_code: int, increments: dict[str, int | float]) -> None:
    if not increments:
        return
    changes = {field: F(field) + amount for field, amount in increments.items()}
    counter = RequestCounter.objects.filter(endpoint=endpoint, status_code=status_code)
    if counter.update(**changes):
        return
    # First request of its kind: create the zero row (another process may be doing the same,
    # the unique constraint keeps one), then add to it like everyone else.
    RequestCounter.objects.bulk_create(
        [RequestCounter(endpoint=endpoint, status_code=status_code)], ignore_conflicts=True
    )
    counter.update(**changes)


def request_counter_add(
    *,
    endpoint: str,
    status_code: int,
    processing_ms: int,
    audio_seconds: float | None = None,
    billed_seconds: int | None = None,
    requests: int = 1,
) -> None:
    """Count one request and its latency, with what its job measured and billed when that is
    known already (one UPDATE of one small row). `requests=-1` takes back what was counted
    (a row whose status the request log changed)."""
    processing_ms = max(0, processing_ms)
    increments: dict[str, int | float] = {"requests": 1, "processing_ms": processing_ms}
    for ms in LATENCY_BUCKETS_MS:
        if processing_ms <= ms:
            increments[latency_bucket_field(ms)] = 1
    increments.update(_audio_increments(audio_seconds, billed_seconds))
    increments = {field: amount * requests for field, amount in increments.items()}
    _bump(endpoint=endpoint[:200], status_code=status_code, increments=increments)


def request_counter_add_audio(
    *, endpoint: str, status_code: int, audio_seconds: float | None, billed_seconds: int | None
) -> None:
    """Add what a request's job measured and billed, once, when its cost is known."""
    increments = _audio_increments(audio_seconds, billed_seconds)
    _bump(endpoint=endpoint[:200], status_code=status_code, increments=increments)


def _audio_increments(
    audio_seconds: float | None, billed_seconds: int | None
) -> dict[str, int | float]:
    increments: dict[str, int | float] = {}
    if audio_seconds:
        increments["audio_seconds"] = audio_seconds
    if billed_seconds:
        increments["billed_seconds"] = billed_seconds
    return increments
