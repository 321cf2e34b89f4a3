"""Which worker processes are alive and which models they hold (readiness, overview)."""

import os
import socket

from django.utils import timezone

from .models import WorkerHeartbeat


def worker_heartbeat(*, models: list[str]) -> None:
    WorkerHeartbeat.objects.update_or_create(
        hostname=socket.gethostname(),
        pid=os.getpid(),
        defaults={"loaded_models": models, "last_seen": timezone.now()},
    )
