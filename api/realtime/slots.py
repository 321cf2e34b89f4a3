"""A per-tenant cap on open realtime sessions (REALTIME_SESSIONS_PER_TENANT).

Counted in the web process, as api/waits.py counts waiting requests and for the same reason:
what a session holds (a socket, a turn detector, its buffered audio) is this process's, and a
count in memory cannot outlive a process that died with sessions open.
"""

import threading
from collections import Counter

from django.conf import settings

MSG_TOO_MANY_SESSIONS = (
    "Too many realtime sessions of this organization are open on this server (at most "
    "{limit} at once). Close one, or retry shortly."
)

_lock = threading.Lock()
_open: Counter[int] = Counter()


def session_slot_take(tenant_id: int) -> str | None:
    """Count one more open session of the tenant; the refusal's message when it is full."""
    limit = settings.REALTIME_SESSIONS_PER_TENANT
    with _lock:
        if _open[tenant_id] >= limit:
            return MSG_TOO_MANY_SESSIONS.format(limit=limit)
        _open[tenant_id] += 1
    return None


def session_slot_free(tenant_id: int) -> None:
    with _lock:
        _open[tenant_id] -= 1
        if _open[tenant_id] <= 0:
            del _open[tenant_id]
