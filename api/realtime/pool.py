"""The realtime sessions' threads.

The database is synchronous: sessions submit their turns and previews, and write their rows,
in these threads, never in the event loop. Their waits (live_turn_wait, live_preview_take) are
coroutines and hold none.
"""

from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ops import threads

threads_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="realtime")


def in_thread(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """`fn` in one of the sessions' threads, with fresh database connections (ops.threads)."""
    return threads.in_thread(fn, threads_pool)
