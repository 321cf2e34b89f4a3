"""The cap on a tenant's open realtime sessions holds across web processes: one row per open
session, counted while its process refreshes it, whoever opens the last place in a race."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from live.models import LiveSession
from live.services.session_slots import (
    LIVE_SESSION_STALE,
    live_session_close,
    live_session_open,
    live_session_seen,
    live_sessions_open,
)
from tests.billing.test_quota_race import together
from transcriptions.services import retention

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_cap_counts_every_open_session_of_the_tenant_and_only_them(tenant_a, tenant_b):
    assert all(
        live_session_open(tenant_id=tenant_a.pk, session_id=f"sess_a{i}", limit=3) for i in range(3)
    )
    assert not live_session_open(tenant_id=tenant_a.pk, session_id="sess_a3", limit=3)
    assert live_session_open(tenant_id=tenant_b.pk, session_id="sess_b0", limit=3)
    live_session_close("sess_a1")
    assert live_session_open(tenant_id=tenant_a.pk, session_id="sess_a3", limit=3)
    assert live_sessions_open(tenant_id=tenant_a.pk) == 3
    assert not LiveSession.objects.filter(public_id="sess_a1").exists()


def test_a_session_of_another_process_counts_until_its_process_stops_refreshing_it(tenant_a):
    """Another web process's session is a row like any; a process that died cannot delete
    its rows, and they stop counting LIVE_SESSION_STALE after their last refresh."""
    elsewhere = LiveSession.objects.create(public_id="sess_elsewhere", tenant=tenant_a)
    assert not live_session_open(tenant_id=tenant_a.pk, session_id="sess_here", limit=1)
    # Its process refreshes it while it is open (the consumer's heartbeat)...
    LiveSession.objects.filter(pk=elsewhere.pk).update(
        seen_at=timezone.now() - LIVE_SESSION_STALE + timedelta(seconds=5)
    )
    live_session_seen("sess_elsewhere")
    assert not live_session_open(tenant_id=tenant_a.pk, session_id="sess_here", limit=1)
    # ... and once it stopped (the process died), the place is free again.
    LiveSession.objects.filter(pk=elsewhere.pk).update(
        seen_at=timezone.now() - LIVE_SESSION_STALE - timedelta(seconds=1)
    )
    assert live_session_open(tenant_id=tenant_a.pk, session_id="sess_here", limit=1)


@pytest.mark.postgres
def test_twenty_sessions_racing_for_the_last_two_places_get_two(tenant_a):
    if connection.vendor != "postgresql":  # SQLite writes one at a time: no race to lose
        pytest.skip("needs PostgreSQL (.ci/run's second pass)")
    LiveSession.objects.create(public_id="sess_open", tenant=tenant_a)
    results = together(
        20, lambda i: live_session_open(tenant_id=tenant_a.pk, session_id=f"s{i}", limit=3)
    )
    assert sorted(results, key=str) == [False] * 18 + [True] * 2, results
    assert live_sessions_open(tenant_id=tenant_a.pk) == 3


def test_rows_left_by_a_dead_process_are_purged(tenant_a):
    LiveSession.objects.create(
        public_id="sess_old", tenant=tenant_a, seen_at=timezone.now() - timedelta(minutes=11)
    )
    LiveSession.objects.create(public_id="sess_live", tenant=tenant_a)
    assert retention.purge_expired()["live_sessions"] == 1
    assert list(LiveSession.objects.values_list("public_id", flat=True)) == ["sess_live"]
