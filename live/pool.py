"""The realtime sessions' threads: their share of the process's pool (ops.threads).

The database is synchronous: sessions submit their turns and previews, and write their rows,
in these threads, never in the event loop. Their waits (live_turn_wait, live_preview_take) are
coroutines and hold none.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from ops import threads

threads_pool = threads.realtime_share


def in_thread(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """`fn` in one of the sessions' threads, with fresh database connections (ops.threads)."""
    return threads.in_thread(fn, threads_pool)
