"""Which worker processes are alive and which models they hold.

Each worker process records itself when it has loaded its models and then refreshes that row
from a background thread, busy or not; a row that stops being refreshed is a dead worker,
whose running job is retried or failed (transcriptions' recovery).

Heartbeats are stamped and judged by the database's clock, the one clock every machine shares:
a machine whose own clock steps an hour ahead (issue 29) would otherwise find every other
machine's workers an hour silent, dead, and hand their chunks out again while they run, and
its own workers would look alive for an hour after they died.
"""

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections
from django.db.models import BooleanField, Case, Q, When
from django.db.models.functions import Now

from .models import WorkerHeartbeat

logger = logging.getLogger(__name__)


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# Any process's, in the same form (a web process holding a realtime session).
process_identity = worker_identity


def process_gone(identity: str) -> bool:
    """Whether `identity` (hostname:pid) is a process of this host that no longer exists; a
    process of another host is never known gone here."""
    hostname, _, pid = identity.rpartition(":")
    return hostname == socket.gethostname() and pid.isdigit() and not _process_exists(int(pid))


def worker_heartbeat(*, models: list[str]) -> None:
    row = {"hostname": socket.gethostname(), "pid": os.getpid()}
    now = Now()
    # Every beat but the first is one UPDATE. update_or_create locks and reads the row, then
    # saves it: on SQLite a transaction that held the one write lock, from a thread of a worker
    # that may be decoding, inside other requests' answers.
    if WorkerHeartbeat.objects.filter(**row).update(loaded_models=models, last_seen=now):
        return
    WorkerHeartbeat.objects.update_or_create(
        **row, defaults={"loaded_models": models, "last_seen": now}
    )


def heartbeat_start(*, models: list[str]) -> None:
    """Refresh this process's row every WORKER_HEARTBEAT_SECONDS, in a daemon thread."""
    worker_heartbeat(models=models)

    def beat() -> None:
        stop = threading.Event()
        while not stop.wait(settings.WORKER_HEARTBEAT_SECONDS):
            try:
                worker_heartbeat(models=models)
            except Exception:  # a database blip must not kill the thread
                logger.exception("worker heartbeat failed")
            finally:
                close_old_connections()

    threading.Thread(target=beat, name="worker-heartbeat", daemon=True).start()


# --- Liveness -----------------------------------------------------------------------------------


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def _fresh_since(now: datetime | None) -> datetime | Now:
    """Heartbeats written after this are fresh: the rule for "alive" everywhere (the
    database's now() unless a time is given)."""
    return (Now() if now is None else now) - timedelta(seconds=settings.WORKER_STALE_SECONDS)


def workers_alive(*, now: datetime | None = None) -> list[WorkerHeartbeat]:
    return list(WorkerHeartbeat.objects.filter(last_seen__gte=_fresh_since(now)))


def dead_workers(*, job_workers: set[str], now: datetime | None = None) -> set[str]:
    """Of the workers named on running jobs, those known to be gone: a process of this host
    that no longer exists, or any worker whose heartbeat went stale."""
    host = socket.gethostname()
    alive = {f"{w.hostname}:{w.pid}" for w in workers_alive(now=now)}
    dead = set()
    for identity in job_workers:
        hostname, _, pid = identity.rpartition(":")
        if hostname == host and pid.isdigit():
            if not _process_exists(int(pid)):
                dead.add(identity)
        elif identity not in alive:
            dead.add(identity)
    return dead


@dataclass(frozen=True)
class WorkerState:
    heartbeat: WorkerHeartbeat
    alive: bool


def worker_list(*, now: datetime | None = None) -> list[WorkerState]:
    """Every worker that has registered, alive ones first.

    Alive: its heartbeat is fresh (the rule dead-job recovery uses) and, for a worker of this
    machine, its process still exists (a killed worker's last heartbeat stays fresh a while).
    """
    fresh = Case(
        When(Q(last_seen__gte=_fresh_since(now)), then=True),
        default=False,
        output_field=BooleanField(),
    )
    here = socket.gethostname()
    states = []
    for beat in WorkerHeartbeat.objects.annotate(fresh=fresh).order_by("-last_seen"):
        alive = beat.fresh
        if alive and beat.hostname == here:
            alive = _process_exists(beat.pid)
        states.append(WorkerState(beat, alive))
    return sorted(states, key=lambda s: not s.alive)
