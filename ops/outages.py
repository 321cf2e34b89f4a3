"""A backend outage: the database or Redis (cache and broker) unreachable, or a connection cut
under a process (a PostgreSQL restart cuts every one). Not a bug of the request and not the
client's fault: the API answers 503 with Retry-After (api.errors), which clients built for
OpenAI retry, and a worker puts its chunk back rather than failing the job
(transcriptions.services.running). Issue 29 and docs/faults.md show what each fault gives."""

import contextlib
import logging
import time
from collections.abc import Callable
from typing import TypeVar

import redis.exceptions
from django.db import DatabaseError, InterfaceError, OperationalError, connections

logger = logging.getLogger(__name__)

# What a client is told to wait before retrying: a restarted database or Redis is back in
# seconds, and a shorter wait only adds load to one that is starting.
RETRY_AFTER_SECONDS = 5
# Django's wrappers of the driver's "cannot reach / lost the server" errors, and Redis's
# (ConnectionError covers refused, reset and a Redis still loading its data; TimeoutError a
# Redis that does not answer). A read-only database (PostgreSQL's 25006) is one too: writes
# come back when it does.
_OUTAGES = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
)
_READ_ONLY_SQLSTATE = "25006"

T = TypeVar("T")


def is_outage(exc: BaseException | None) -> bool:
    """The error, or one it was raised from or while handling, is an outage of a backend."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, _OUTAGES):
            return True
        if getattr(exc, "sqlstate", None) == _READ_ONLY_SQLSTATE:
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def connections_reset() -> None:
    """Close every database connection of this thread: one cut by the server stays broken
    (Django only drops an unusable connection between requests and tasks), so the next query
    of this request or task opens a fresh one."""
    for connection in connections.all(initialized_only=True):
        with contextlib.suppress(DatabaseError, InterfaceError, OSError):
            connection.close()


def through_outage(fn: Callable[[], T], *, within: float, what: str) -> T:
    """fn(), tried again on a fresh connection while the backend is out, for up to `within`
    seconds: bookkeeping that must not be lost to a restart (a chunk put back, a job failed).
    The last outage error is raised after that; any other error at once."""
    deadline = time.monotonic() + within
    wait = 0.2
    while True:
        try:
            return fn()
        except Exception as exc:
            if not is_outage(exc) or time.monotonic() + wait > deadline:
                raise
            logger.warning("%s: backend unavailable (%s), trying again", what, exc)
        connections_reset()
        time.sleep(wait)
        wait = min(wait * 2, 2.0)
