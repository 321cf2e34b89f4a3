"""The per-tenant cap on open realtime sessions (REALTIME_SESSIONS_PER_TENANT), across every web
process and machine: one `LiveSession` row per open session.

A count in one process's memory would let a tenant open the cap's number of sessions in each
web process of each machine. The rows are what every process sees; a process that dies with
sessions open cannot delete their rows, so a row counts only while its process refreshes it
(`live_session_seen`, every LIVE_SESSION_HEARTBEAT seconds): it stops counting LIVE_SESSION_STALE
after the process's last refresh, or at once when that process was on this machine and is gone
(its rows are reaped as the tenant opens its next session, and the seconds its previews held
given back: `live_sessions_reap`).
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Tenant
from billing.services import quota_unhold
from ops.workers import process_gone, process_identity

from ..models import LiveSession

LIVE_SESSION_HEARTBEAT = 20.0
LIVE_SESSION_STALE = timedelta(seconds=60)


def live_sessions_open(*, tenant_id: int, now=None) -> int:
    """The tenant's sessions open now (their rows refreshed within LIVE_SESSION_STALE)."""
    now = now or timezone.now()
    return LiveSession.objects.filter(
        tenant_id=tenant_id, seen_at__gte=now - LIVE_SESSION_STALE
    ).count()


def live_session_open(*, tenant_id: int, session_id: str, limit: int) -> bool:
    """Count the session as open, unless the tenant has `limit` open already (False)."""
    with transaction.atomic():
        # One tenant's sessions open one at a time, so two processes cannot both take the last
        # place: PostgreSQL locks the tenant's row; SQLite's IMMEDIATE transactions (settings)
        # write one at a time anyway.
        list(Tenant.objects.select_for_update().filter(pk=tenant_id).values_list("pk"))
        live_sessions_reap(sessions=LiveSession.objects.filter(tenant_id=tenant_id))
        if live_sessions_open(tenant_id=tenant_id) >= limit:
            return False
        LiveSession.objects.create(
            public_id=session_id, tenant_id=tenant_id, process=process_identity()
        )
    return True


def live_sessions_reap(*, sessions=None, stale_before=None) -> int:
    """Delete the rows of sessions whose web process is gone (this machine's, known at once) or,
    with `stale_before`, not seen since; the seconds their previews held are given back (the
    text they covered, if any was sent, is not billed: nothing recorded what was). The rows
    deleted. `sessions`: the rows to look at (all by default)."""
    sessions = LiveSession.objects.all() if sessions is None else sessions
    reaped = 0
    for row in sessions.exclude(process="").only("pk", "process", "seen_at"):
        stale = stale_before is not None and row.seen_at < stale_before
        if not (stale or process_gone(row.process)):
            continue
        with transaction.atomic():
            dead = LiveSession.objects.select_for_update().filter(pk=row.pk).first()
            if dead is None:  # reaped by another process meanwhile
                continue
            if dead.held_seconds and dead.held_period is not None:
                quota_unhold(
                    tenant_id=dead.tenant_id,
                    period=dead.held_period,
                    held_seconds=dead.held_seconds,
                    used_seconds=0,
                )
            dead.delete()
            reaped += 1
    return reaped


def live_session_seen(session_id: str) -> None:
    """The session is still open (its web process's heartbeat)."""
    LiveSession.objects.filter(public_id=session_id).update(seen_at=timezone.now())


def live_session_close(session_id: str) -> None:
    LiveSession.objects.filter(public_id=session_id).delete()
