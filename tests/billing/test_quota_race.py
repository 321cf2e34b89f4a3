"""Races for the last seconds of a quota, on PostgreSQL (row locks, READ COMMITTED: what
production runs). 20+ threads, each with its own database connection, are released together
at a barrier; exactly as many pass as the quota fits, and reserved + used never exceeds it,
not even for an instant (a monitor thread watches the row throughout).

Skipped on SQLite, where one writer at a time makes every race trivially serial: `.ci/run`'s
second pass runs the suite on PostgreSQL.
"""

import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone

from api.errors import ApiError, to_api_error
from billing.errors import BillingError
from billing.models import QuotaPeriod, UsageRecord
from billing.periods import month_start
from billing.services import plan_override_set, quota_reserve
from tests.billing.conftest import JFK_SECONDS, counters, transcribe
from tests.conftest import keyed_client
from transcriptions.models import Job

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.fake_engine,
]


def as_answered(results: list[Any]) -> list[Any]:
    """The services raise domain errors: each refusal as the API's error table answers it
    (what a client sees), every other result as it is."""
    return [to_api_error(r) if isinstance(r, BillingError) else r for r in results]


THREADS = 24


@pytest.fixture(autouse=True)
def postgres_only():
    if connection.vendor == "postgresql":
        return
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.fail("DATABASE_URL names PostgreSQL, yet the test database is not on it")
    pytest.skip(
        "needs PostgreSQL: run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres "
        "(.ci/run's second pass does)"
    )


def together(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(i) in `count` threads released at once; each result or raised exception."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as exc:
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return results


class Monitor:
    """Reads reserved + used of the tenant's month as often as it can while the race runs."""

    def __init__(self, tenant) -> None:
        self.tenant = tenant
        self.highest = 0
        self.reads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch)

    def _watch(self) -> None:
        period = month_start(timezone.now())
        try:
            while not self._stop.is_set():
                row = QuotaPeriod.objects.filter(tenant=self.tenant, period=period).first()
                if row is not None:
                    self.highest = max(self.highest, row.reserved_seconds + row.used_seconds)
                self.reads += 1
                time.sleep(0.001)
        finally:
            connections.close_all()

    def __enter__(self) -> "Monitor":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(autouse=True)
def waits_uncapped(settings):
    """These races are about the quota and Idempotency-Key; 20 requests of one tenant at once
    would otherwise meet the cap on waiting requests (tests/billing/test_hostile_tenants.py)."""
    settings.SYNC_WAITS_PER_TENANT = 100


def test_exactly_as_many_reservations_pass_as_the_quota_fits(tenant_a):
    quota = 5 * JFK_SECONDS
    plan_override_set(tenant=tenant_a, monthly_audio_seconds=quota, concurrent_jobs=1000)
    with Monitor(tenant_a) as monitor:
        results = together(THREADS, lambda i: quota_reserve(tenant=tenant_a, seconds=JFK_SECONDS))
    passed = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in as_answered(results) if isinstance(r, ApiError)]
    assert len(passed) == 5
    assert len(refused) == THREADS - 5, [r for r in results if isinstance(r, Exception)]
    assert {(r.status_code, r.code) for r in refused} == {(429, "insufficient_quota")}
    assert counters(tenant_a) == (quota, 0, 5)
    assert monitor.reads > 0 and monitor.highest <= quota


def test_exactly_as_many_jobs_start_as_the_concurrency_limit_allows(tenant_a):
    plan_override_set(tenant=tenant_a, monthly_audio_seconds=10_000, concurrent_jobs=4)
    results = as_answered(together(THREADS, lambda i: quota_reserve(tenant=tenant_a, seconds=7)))
    codes = Counter(getattr(r, "code", "ok") for r in results)
    assert codes == {"ok": 4, "rate_limit_exceeded": THREADS - 4}
    assert counters(tenant_a) == (28, 0, 4), "refused requests gave their seconds back"


def test_twenty_api_requests_race_for_a_quota_that_fits_three(api_a):
    quota = 3 * JFK_SECONDS
    plan_override_set(tenant=api_a.tenant, monthly_audio_seconds=quota)
    clients = [keyed_client(api_a.tenant) for _ in range(20)]
    with Monitor(api_a.tenant) as monitor:
        responses = together(20, lambda i: transcribe(clients[i]))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 3, 429: 17}, [r.content[:200] for r in responses]
    refused = [r.json()["error"] for r in responses if r.status_code == 429]
    assert {(e["type"], e["code"]) for e in refused} == {
        ("insufficient_quota", "insufficient_quota")
    }
    assert all(
        r.json()["usage"]["seconds"] == JFK_SECONDS for r in responses if r.status_code == 200
    )
    assert counters(api_a.tenant) == (0, quota, 0)
    assert monitor.highest <= quota
    assert Job.objects.count() == 3
    billed = sorted(UsageRecord.objects.values_list("billed_seconds", flat=True))
    assert billed == [0] * 17 + [JFK_SECONDS] * 3


def test_retries_racing_with_one_idempotency_key_make_one_job(api_a):
    responses = together(10, lambda i: transcribe(api_a, headers={"Idempotency-Key": "same-retry"}))
    assert {r.status_code for r in responses} == {200}, [r.content[:200] for r in responses]
    assert len({r.content for r in responses}) == 1
    assert Job.objects.count() == 1
    assert counters(api_a.tenant) == (0, JFK_SECONDS, 0)
    assert UsageRecord.objects.filter(replayed=True).count() == 9
