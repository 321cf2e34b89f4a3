"""Worker start-up: each django-q2 worker process loads its models before taking a job, so
the first request after a start is as fast as any other."""

import logging

from django.dispatch import receiver
from django_q.signals import post_spawn

from . import engine

logger = logging.getLogger(__name__)


@receiver(post_spawn)
def preload_models(sender, proc_name: str, **kwargs) -> None:
    try:
        engine.preload()
    except Exception:
        # A broken model must not stop the worker: jobs for it fail with a clear error instead.
        logger.exception("model preload failed in %s", proc_name)
    else:
        from .worker_registry import worker_heartbeat

        worker_heartbeat(models=engine.loaded_models())
