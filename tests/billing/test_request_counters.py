"""The request counters behind /metrics: one UPDATE per request, exact under concurrency.

The race runs on PostgreSQL (row locks, READ COMMITTED: what production runs), with the
harness of the quota races; SQLite serializes every writer, which proves nothing.
"""

import pytest
from django.db import connection

from billing.models import RequestCounter
from billing.services import request_counter_add
from tests.billing.test_quota_race import THREADS, together

pytestmark = pytest.mark.django_db(transaction=True)


def test_one_row_per_endpoint_and_status_with_its_latency_buckets():
    request_counter_add(endpoint="/v1/models", status_code=401, processing_ms=3)
    request_counter_add(endpoint="/v1/models", status_code=401, processing_ms=700)
    counter = RequestCounter.objects.get()
    assert (counter.requests, counter.processing_ms) == (2, 703)
    assert (counter.ms_le_50, counter.ms_le_500, counter.ms_le_1000, counter.ms_le_300000) == (
        1,
        1,
        2,
        2,
    )


@pytest.mark.postgres
def test_processes_racing_to_count_lose_no_request():
    """THREADS connections count 10 requests each at once, the first ones racing to create
    the row too: every request is counted, in one row."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (.ci/run's second pass)")

    def count_ten(index: int) -> None:
        for _ in range(10):
            request_counter_add(endpoint="/v1/models", status_code=401, processing_ms=1)

    results = together(THREADS, count_ten)
    assert results == [None] * THREADS
    counter = RequestCounter.objects.get()
    assert (counter.requests, counter.processing_ms) == (THREADS * 10, THREADS * 10)
