"""Blocking (database) work for coroutines, in threads that serve no request.

Django's ASGI handler gives each request a thread of its own for its synchronous parts
(`sync_to_async(thread_sensitive=True)`: signals, middleware, synchronous views), kept until the
request ends, idle or not. A request that waits long for something else (its transcription)
lets that thread go (`request_thread_release`) and does its few reads meanwhile in a small
shared pool (`in_thread`); Django gives it a new thread if it needs one afterwards.
"""

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from asgiref.sync import SyncToAsync, sync_to_async
from django.db import close_old_connections, connections

# Short reads of waiting requests (a row when woken): never a wait in them, so a few suffice.
READ_THREADS = 4
_reads = ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="wait-reads")
# What the request middleware writes once a response exists (the usage log's row), on
# connections kept open: its own pool, so that a write waiting for SQLite's lock never delays a
# waiting request's read.
REQUEST_THREADS = 8
_requests = ThreadPoolExecutor(max_workers=REQUEST_THREADS, thread_name_prefix="request-work")


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
    fn: Callable[..., Any], executor: ThreadPoolExecutor | None = None
) -> Callable[..., Awaitable[Any]]:
    """`fn` in one of `executor`'s threads (by default the waits' read pool)."""
    return sync_to_async(
        _with_fresh_connections(fn), thread_sensitive=False, executor=executor or _reads
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
    """Close the connections every thread of the pools keeps (a test database is about to be
    dropped). Each thread takes one call: the calls wait for each other before closing."""
    for pool, size in ((_reads, READ_THREADS), (_requests, REQUEST_THREADS)):
        barrier = threading.Barrier(size)

        def close(barrier: threading.Barrier = barrier) -> None:
            barrier.wait(timeout=30)
            connections.close_all()

        for closing in [pool.submit(close) for _ in range(size)]:
            closing.result()


def in_request_pool(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """`in_thread` in the pool of the request middleware's writes."""
    return in_thread(fn, _requests)


def start_in_request_pool(fn: Callable[..., Any], *args: Any) -> Future:
    """`fn(*args)` started in the pool of the request middleware's writes, on its kept
    connections; the caller goes on, and may wait for it later (`.result()`)."""
    return _requests.submit(_with_fresh_connections(fn), *args)


async def request_thread_release() -> None:
    """Let the current request's own thread go (its database connections closed first).

    asgiref keeps one single-thread executor per request context (`ThreadSensitiveContext`,
    which Django's ASGI handler opens around each request) in
    `SyncToAsync.context_to_thread_executor`, and makes a new one when the context has none:
    there is no public call to give the thread back early, hence this one. Outside such a
    context (the test client, a management command) it does nothing."""
    context = SyncToAsync.thread_sensitive_context.get(None)
    if context is None:
        return
    executor = SyncToAsync.context_to_thread_executor.pop(context, None)
    if executor is None:
        return
    await asyncio.get_running_loop().run_in_executor(executor, connections.close_all)
    executor.shutdown(wait=False)
