"""A request's own thread, which a request that waits long gives back: public asgiref API only.

Django's ASGI handler opens a `ThreadSensitiveContext` around each request and sends
`request_started` through `sync_to_async`: every request gets a thread for its synchronous parts,
kept until it ends, idle or not. This handler opens that context itself, with an executor of its
own (asgiref's documented `ThreadSensitiveContext(executor=...)`, for which Django's own context
is then a no-op), so that a waiting request can let its thread go (`request_thread_release`) and
get a new one for what it does after.
"""

import asyncio
import contextvars
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from asgiref.sync import ThreadSensitiveContext
from django.core.handlers import asgi
from django.db import connections


class RequestThread(Executor):
    """One thread at a time (as asgiref requires of a context's executor), started on the first
    call and again on the first call after `release`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: ThreadPoolExecutor | None = None

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        with self._lock:
            if self._thread is None:
                self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")
            return self._thread.submit(fn, *args, **kwargs)

    async def release(self) -> None:
        """The thread goes, its database connections closed in it first."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.get_running_loop().run_in_executor(thread, connections.close_all)
            thread.shutdown(wait=False)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.shutdown(wait=wait, cancel_futures=cancel_futures)


_current: contextvars.ContextVar[RequestThread] = contextvars.ContextVar("request_thread")


@asynccontextmanager
async def request_thread_context() -> AsyncIterator[RequestThread]:
    """The block of one request: its thread-sensitive calls in a RequestThread."""
    thread = RequestThread()
    token = _current.set(thread)
    try:
        async with ThreadSensitiveContext(executor=thread):
            yield thread
    finally:
        _current.reset(token)
        thread.shutdown(wait=False)


class ASGIHandler(asgi.ASGIHandler):
    """Django's ASGI handler, each request in a `request_thread_context`."""

    async def __call__(self, scope, receive, send):
        async with request_thread_context():
            await super().__call__(scope, receive, send)


async def request_thread_release() -> None:
    """Let the current request's own thread go (its database connections closed first); the
    request's next synchronous part gets a new one. Outside a request of this handler (the test
    client, a management command) it does nothing."""
    thread = _current.get(None)
    if thread is not None:
        await thread.release()
