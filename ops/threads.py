"""Blocking (database, name lookup) work for coroutines, in one pool of threads that serve no
request, of THREAD_POOL_WORKERS threads.

Django's ASGI handler gives each request a thread of its own for its synchronous parts, kept
until the request ends. A request that waits long for something else (its transcription) lets
that thread go (ops.request_thread) and does its few reads meanwhile in this pool (`in_thread`).
The work that can wait long on others has a share of the pool it cannot exceed (`Share`), so that
it never takes the threads the waiting requests' reads need.
"""

import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import close_old_connections, connections

# The shares of the pool. The usage log's writes may wait for SQLite's write lock; the realtime
# sessions' work is as long as their turns; a lookup of a callback host lasts as long as the
# tenant's name server wants. Capped, none of them can take the threads of the waits' reads,
# which have the rest of the pool: at least READ_THREADS (short reads of a row when woken,
# never a wait in them, so a few suffice).
REQUEST_THREADS = 8
REALTIME_THREADS = 16
RESOLVER_THREADS = 8
CAPPED_THREADS = REQUEST_THREADS + REALTIME_THREADS + RESOLVER_THREADS
READ_THREADS = 4
LEAST_WORKERS = CAPPED_THREADS + READ_THREADS


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def pool() -> ThreadPoolExecutor:
    """The process's pool, made on first use (settings are read by then)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            workers = settings.THREAD_POOL_WORKERS
            if workers < LEAST_WORKERS:
                raise ImproperlyConfigured(f"THREAD_POOL_WORKERS must be at least {LEAST_WORKERS}.")
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="platform-pool")
        return _pool


class Share(Executor):
    """At most `size` of the pool's threads at once; further calls queue here, not in the pool
    (where they would hold its queue ahead of others' work)."""

    def __init__(self, size: Callable[[], int]) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._running = 0
        self._queued: deque[tuple[Future, Callable[..., Any], tuple, dict]] = deque()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        with self._lock:
            self._queued.append((future, fn, args, kwargs))
        self._start()
        return future

    def _start(self) -> None:
        while True:
            with self._lock:
                if self._running >= self.size() or not self._queued:
                    return
                future, fn, args, kwargs = self._queued.popleft()
                if not future.set_running_or_notify_cancel():
                    continue  # cancelled while queued: never runs
                self._running += 1
            pool().submit(self._run, future, fn, args, kwargs)

    def _run(self, future: Future, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        finally:
            with self._lock:
                self._running -= 1
            self._start()


requests_share = Share(lambda: REQUEST_THREADS)
realtime_share = Share(lambda: REALTIME_THREADS)
resolver_share = Share(lambda: RESOLVER_THREADS)
reads_share = Share(lambda: settings.THREAD_POOL_WORKERS - CAPPED_THREADS)


def _with_fresh_connections(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` for a pool thread. These threads serve no request, so nothing else would drop a
    connection that broke or outlived CONN_MAX_AGE (as request_started and request_finished do
    for requests): that is done around each call, as Channels' database_sync_to_async does."""

    def call(*args: Any, **kwargs: Any) -> Any:
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            _connections_kept()
            close_old_connections()

    return call


def in_thread(
    fn: Callable[..., Any], executor: Executor | None = None
) -> Callable[..., Awaitable[Any]]:
    """`fn` in `executor`'s share of the pool (by default the waits' reads')."""
    return sync_to_async(
        _with_fresh_connections(fn), thread_sensitive=False, executor=executor or reads_share
    )


# How long a connection opened in one of these threads is kept for the next call.
KEPT_CONNECTION_SECONDS = 60.0


def _connections_kept() -> None:
    """Keep the connections this thread opened for KEPT_CONNECTION_SECONDS, whatever
    CONN_MAX_AGE says. The web process sets it to 0 because its requests' threads come and go
    (platform/gunicorn.conf.py), but these threads live as long as the process: reopening a
    connection for every read would delay a waiting request after its job ended. Broken
    connections are still closed (close_old_connections, with CONN_HEALTH_CHECKS)."""
    for conn in connections.all(initialized_only=True):
        raw = conn.connection
        if raw is not None and getattr(conn, "_kept_since", None) is not raw:
            conn._kept_since = raw
            conn.close_at = time.monotonic() + KEPT_CONNECTION_SECONDS


def pools_connections_close() -> None:
    """Close the connections every thread of the pool keeps (a test database is about to be
    dropped). Each thread takes one call: the calls wait for each other before closing."""
    size = settings.THREAD_POOL_WORKERS
    barrier = threading.Barrier(size)

    def close() -> None:
        barrier.wait(timeout=30)
        connections.close_all()

    for closing in [pool().submit(close) for _ in range(size)]:
        closing.result()


def in_request_pool(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """`in_thread` in the request middleware's share of the pool (its writes)."""
    return in_thread(fn, requests_share)


def start_in_request_pool(fn: Callable[..., Any], *args: Any) -> Future:
    """`fn(*args)` started in the request middleware's share of the pool, on its kept
    connections; the caller goes on, and may wait for it later (`.result()`)."""
    return requests_share.submit(_with_fresh_connections(fn), *args)
