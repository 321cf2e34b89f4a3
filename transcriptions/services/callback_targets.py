"""A job's callback_url checked at submit time: every address of its host must be public
(services.outbound). The lookup is awaited in the event loop by the API's views
(callback_url_resolve), so a tenant's slow name server holds no request's thread."""

import asyncio
import threading
import time
from collections import Counter

from django.conf import settings

from ..errors import CallbackUrlRefused
from . import outbound

MSG_CALLBACK_REFUSED = (
    "Invalid 'callback_url': its host must resolve to public internet addresses only; "
    "loopback, private, link-local and reserved addresses are refused."
)
MSG_CALLBACK_UNRESOLVED = "Invalid 'callback_url': its host could not be resolved."
MSG_CALLBACK_SLOW = "Invalid 'callback_url': its host could not be resolved in time."

# A submit waits this long at most for its callback host's addresses.
RESOLVE_SECONDS = 5.0
RESOLVES_PER_TENANT = 2
LOOKUP_POLL = 0.01
_lock = threading.Lock()
_lookups: Counter[int] = Counter()


def callback_url_check(url: str, *, addresses: list[str] | None = None) -> None:
    """Refuse a callback_url that leads into the operator's network, before anything is stored
    or reserved. Delivery checks again, against the address it actually connects to."""
    try:
        outbound.target_check(
            url, allow_private=settings.CALLBACK_ALLOW_PRIVATE, addresses=addresses
        )
    except outbound.TargetRefused as refused:
        raise _callback_refused(refused) from None


async def callback_url_resolve(url: str, *, tenant_id: int) -> list[str]:
    """The callback_url host's addresses, for audio_request_build: awaited in the event loop
    (no request's thread waits on a tenant's name server), within RESOLVE_SECONDS;
    CallbackUrlRefused past that or when the host does not resolve.

    A tenant has at most RESOLVES_PER_TENANT lookups in the resolver pool (counted until
    each one's thread is free, past the deadline too): its slow name server cannot take the
    pool from the other tenants. Its further lookups wait their turn, within the deadline."""
    deadline = time.monotonic() + RESOLVE_SECONDS
    while not _lookup_take(tenant_id):
        if time.monotonic() >= deadline:
            raise CallbackUrlRefused(MSG_CALLBACK_SLOW)
        await asyncio.sleep(LOOKUP_POLL)
    try:
        return await outbound.target_resolve_async(
            url,
            timeout=max(0.0, deadline - time.monotonic()),
            done=lambda: _lookup_free(tenant_id),
        )
    except outbound.TargetRefused as refused:
        raise _callback_refused(refused) from None


def _lookup_take(tenant_id: int) -> bool:
    with _lock:
        if _lookups[tenant_id] >= RESOLVES_PER_TENANT:
            return False
        _lookups[tenant_id] += 1
        return True


def _lookup_free(tenant_id: int) -> None:
    with _lock:
        _lookups[tenant_id] -= 1
        if _lookups[tenant_id] <= 0:
            del _lookups[tenant_id]


def _callback_refused(refused: outbound.TargetRefused) -> CallbackUrlRefused:
    messages = {
        outbound.REASON_UNRESOLVED: MSG_CALLBACK_UNRESOLVED,
        outbound.REASON_TIMEOUT: MSG_CALLBACK_SLOW,
    }
    return CallbackUrlRefused(messages.get(refused.reason, MSG_CALLBACK_REFUSED))
