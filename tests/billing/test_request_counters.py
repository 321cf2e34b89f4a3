"""The request counters behind /metrics: one UPDATE per request, exact under concurrency.

The race runs on PostgreSQL (row locks, READ COMMITTED: what production runs), with the
harness of the quota races; SQLite serializes every writer, which proves nothing.
"""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

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


def test_the_counters_start_where_the_usage_log_stands():
    """The migration that introduces the counters seeds them from the existing log (once),
    with the unknown paths of old rows under the one label, so /metrics does not drop."""
    before, after = [("billing", "0001_initial")], [("billing", "0002_request_counters")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old_log = executor.loader.project_state(before).apps.get_model("billing", "UsageRecord")
        for i, (endpoint, status, ms, billed) in enumerate(
            [
                ("/v1/models", 200, 30, 0),
                ("/v1/models", 200, 700, 0),
                ("/v1/audio/transcriptions", 200, 2_000, 11),
                ("/v1/scan/wp-login.php", 404, 5, 0),
                ("/v1/.env", 404, 5, 0),
            ]
        ):
            old_log.objects.create(
                request_id=f"req_{i}",
                method="GET",
                endpoint=endpoint,
                status_code=status,
                processing_ms=ms,
                billed_seconds=billed,
                audio_seconds=float(billed),
            )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(after)
    counted = {
        (c.endpoint, c.status_code): (c.requests, c.processing_ms, c.ms_le_50, c.billed_seconds)
        for c in RequestCounter.objects.all()
    }
    assert counted == {
        ("/v1/models", 200): (2, 730, 1, 0),
        ("/v1/audio/transcriptions", 200): (1, 2_000, 0, 11),
        ("/v1/(unknown)", 404): (2, 10, 2, 0),
    }
