"""Requests the platform makes on a tenant's behalf (job callbacks), to public addresses only.

A tenant chooses the URL, so without care it is a way into the operator's network (loopback,
private ranges, the cloud metadata address) and a way to hold a process (a receiver that drips
one byte at a time, or answers without end). Here:
- the host is resolved and every address must be public, at submit time (`target_resolve_async`
  then `target_check`: the lookup awaited in the event loop, in a small pool of threads, within
  a deadline, so a slow name server holds no request's thread) and again for the address
  actually connected (so a DNS answer that changes in between, DNS rebinding, is refused too);
- one total deadline covers resolving, connecting, sending and reading, enforced on every socket
  operation and on the name lookup (httpx's timeouts are per operation: a drip-feeding receiver never trips them);
- at most `max_bytes` of the answer are read; redirects are not followed; no proxy from the
  environment is used;
- failures are reported as a short generic reason, never the raw network error (which would make
  the attempts list a port scanner).

Why not httpx: its transport has no hook for the connected address or a total deadline, so this
uses httpcore (httpx's own engine) with a network backend that adds both.
"""

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore

from ops import threads

REASON_REFUSED = "refused: the address is not public"
REASON_UNRESOLVED = "the host could not be resolved"
REASON_CONNECT = "could not connect"
REASON_TIMEOUT = "timed out"
REASON_TOO_LARGE = "the answer was too large"
REASON_PROTOCOL = "invalid HTTP answer"

# A submit's lookups of callback hosts: in the resolvers' share of the process's pool, shared by
# all its requests (callback_targets gives each tenant a part of it). A share, not the whole
# pool: a lookup outlives its deadline in its thread, so slow name servers could otherwise take
# every thread and hold up the waiting requests' re-reads of their jobs.
_resolvers = threads.resolver_share


class TargetRefused(Exception):
    """The URL's host is, or resolved to, an address the platform must not reach."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _DeadlinePassed(Exception):
    pass


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    reason: str  # "" on a 2xx answer

    @property
    def delivered(self) -> bool:
        return not self.reason and self.status_code is not None and 200 <= self.status_code < 300


def address_allowed(address: str, *, allow_private: bool = False) -> bool:
    """A globally routable unicast address; IPv4 inside IPv6 (mapped, 6to4, Teredo) is judged
    by the IPv4 address it carries."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            return address_allowed(str(embedded), allow_private=allow_private)
    if ip.is_multicast or ip.is_unspecified:
        return False
    if allow_private:
        return True
    return ip.is_global and not ip.is_reserved and not ip.is_link_local


def resolve(host: str, port: int) -> list[str]:
    """The host's addresses (a literal address is its own); a seam for tests."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused(REASON_UNRESOLVED) from exc
    return list(dict.fromkeys(info[4][0] for info in infos))


def _parts(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("not an http(s) URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise TargetRefused("not an http(s) URL") from exc
    return parts.hostname, port


async def target_resolve_async(
    url: str, *, timeout: float, done: Callable[[], None] = lambda: None
) -> list[str]:
    """The addresses of the URL's host, for `target_check`: looked up in the resolver pool
    while the coroutine waits in the event loop; TargetRefused(REASON_TIMEOUT) past the
    deadline (a lookup under way is left to its thread, and the resolver's own timeout ends
    it; one still queued never runs). `done()` once the lookup's thread is free again."""
    try:
        host, port = _parts(url)
        lookup = _resolvers.submit(resolve, host, port)
    except BaseException:
        done()
        raise
    lookup.add_done_callback(lambda _: done())
    try:
        # Not wait_for, which on Python 3.11 can swallow the request's cancellation (ops.pubsub).
        async with asyncio.timeout(timeout):
            return await asyncio.wrap_future(lookup)
    except TimeoutError:
        raise TargetRefused(REASON_TIMEOUT) from None


def target_check(
    url: str, *, allow_private: bool = False, addresses: list[str] | None = None
) -> None:
    """At submit time: refuse a URL unless every address of its host (looked up here, unless
    given by target_resolve_async) is public."""
    host, port = _parts(url)
    if addresses is None:
        addresses = resolve(host, port)
    if not addresses or not all(address_allowed(a, allow_private=allow_private) for a in addresses):
        raise TargetRefused(REASON_REFUSED)


def _resolve_by(host: str, port: int, deadline: float) -> list[str]:
    """`resolve` within the deadline: the tenant's name server decides how long a lookup
    takes. A lookup past it is left to finish in its thread (the resolver's own timeout ends
    it); nothing waits for it."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise _DeadlinePassed
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbound-resolve")
    try:
        return pool.submit(resolve, host, port).result(timeout=left)
    except FutureTimeout:
        raise _DeadlinePassed from None
    finally:
        pool.shutdown(wait=False)


class _DeadlineStream(httpcore.NetworkStream):
    """Every read and write gets what is left of the total deadline as its timeout."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    def _timeout(self, timeout: float | None) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise _DeadlinePassed
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._timeout(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._timeout(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, self._timeout(timeout))
        return _DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves the host itself and connects only to allowed addresses, checking the peer of
    the connected socket too. TLS still verifies the certificate against the host name."""

    def __init__(self, *, deadline: float, allow_private: bool) -> None:
        self._inner = httpcore.SyncBackend()
        self._deadline = deadline
        self._allow_private = allow_private

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        addresses = [
            a
            for a in _resolve_by(host, port, self._deadline)
            if address_allowed(a, allow_private=self._allow_private)
        ]
        if not addresses:
            raise TargetRefused(REASON_REFUSED)
        last: Exception = TargetRefused(REASON_CONNECT)
        for address in addresses:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise _DeadlinePassed
            try:
                stream = self._inner.connect_tcp(address, port, timeout=left)
            except httpcore.ConnectError as exc:
                last = exc
                continue
            peer = stream.get_extra_info("socket").getpeername()[0]
            if not address_allowed(peer, allow_private=self._allow_private):
                stream.close()
                raise TargetRefused(REASON_REFUSED)
            return _DeadlineStream(stream, self._deadline)
        raise last

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def post(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    deadline_seconds: float,
    max_bytes: int,
    allow_private: bool = False,
) -> Outcome:
    """POST `body`; the answer's status, or a generic reason why there is none. Never raises
    for anything the remote end does."""
    deadline = time.monotonic() + deadline_seconds
    backend = _GuardedBackend(deadline=deadline, allow_private=allow_private)
    try:
        _parts(url)
        with (
            httpcore.ConnectionPool(network_backend=backend, retries=0) as pool,
            pool.stream(
                "POST",
                url,
                headers={**headers, "Content-Length": str(len(body))},
                content=body,
                extensions={"timeout": {"connect": deadline_seconds, "read": deadline_seconds}},
            ) as response,
        ):
            received = 0
            for chunk in response.iter_stream():
                received += len(chunk)
                if received > max_bytes:
                    return Outcome(response.status, REASON_TOO_LARGE)
            status = response.status
    except TargetRefused as exc:
        return Outcome(None, exc.reason)
    except (_DeadlinePassed, httpcore.TimeoutException):
        return Outcome(None, REASON_TIMEOUT)
    except (httpcore.ConnectError, OSError):
        return Outcome(None, REASON_CONNECT)
    except (httpcore.ProtocolError, httpcore.NetworkError, httpcore.UnsupportedProtocol):
        return Outcome(None, REASON_PROTOCOL)
    return Outcome(status, "" if 200 <= status < 300 else f"HTTP {status}")
