"""The one private API of a dependency the platform uses: asgiref's per-request thread.

Django's ASGI handler opens a `ThreadSensitiveContext` around each request and sends
`request_started` through `sync_to_async`, so every request gets a thread of its own, kept until
the request ends. asgiref has no public call to give it back early, so a request that waits
long (its transcription) lets it go here; tests/ops/test_asgiref_private.py fails if an asgiref
upgrade changes what this relies on.
"""

import asyncio

from asgiref.sync import SyncToAsync
from django.db import connections


async def request_thread_release() -> None:
    """Let the current request's own thread go (its database connections closed first).

    asgiref keeps the context's single-thread executor in
    `SyncToAsync.context_to_thread_executor` and makes a new one when the context has none: a
    later synchronous part of the request gets a new thread. Outside such a context (the test
    client, a management command) it does nothing."""
    context = SyncToAsync.thread_sensitive_context.get(None)
    if context is None:
        return
    executor = SyncToAsync.context_to_thread_executor.pop(context, None)
    if executor is None:
        return
    await asyncio.get_running_loop().run_in_executor(executor, connections.close_all)
    executor.shutdown(wait=False)
