"""Which worker processes are alive and which models they hold.

Each worker process records itself when it has loaded its models and then refreshes that row
from a background thread, busy or not; a row that stops being refreshed is a dead worker,
whose running job is retried or failed (services.jobs_recover).
"""

import logging
import os
import socket
import threading
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from .models import WorkerHeartbeat

logger = logging.getLogger(__name__)


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_heartbeat(*, models: list[str]) -> None:
    WorkerHeartbeat.objects.update_or_create(
        hostname=socket.gethostname(),
        pid=os.getpid(),
        defaults={"loaded_models": models, "last_seen": timezone.now()},
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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def workers_alive(*, now=None) -> list[WorkerHeartbeat]:
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.WORKER_STALE_SECONDS)
    return list(WorkerHeartbeat.objects.filter(last_seen__gte=cutoff))


def dead_workers(*, job_workers: set[str], now=None) -> set[str]:
    """Of the workers named on running jobs, those known to be gone: a process of this host
    that no longer exists, or any worker whose heartbeat went stale."""
    host = socket.gethostname()
    alive = {f"{w.hostname}:{w.pid}" for w in workers_alive(now=now)}
    dead = set()
    for identity in job_workers:
        hostname, _, pid = identity.rpartition(":")
        if hostname == host and pid.isdigit():
            if not _pid_alive(int(pid)):
                dead.add(identity)
        elif identity not in alive:
            dead.add(identity)
    return dead


def workers_forget_stale(*, older_than: timedelta = timedelta(days=1)) -> int:
    return WorkerHeartbeat.objects.filter(last_seen__lt=timezone.now() - older_than).delete()[0]
