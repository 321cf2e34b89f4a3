"""Worker start-up: each django-q2 inference worker process loads its models before taking a
job (so the first request after a start is as fast as any other), starts its heartbeat, and
recovers jobs left running by a worker of this host that died (the guard has just replaced it)
and the usage rows it left without their cost.
The callbacks cluster's processes do none of this."""

import logging

from django.conf import settings
from django.dispatch import receiver
from django_q.signals import post_spawn

import speech as engine

logger = logging.getLogger(__name__)


@receiver(post_spawn)
def on_worker_spawn(sender, proc_name: str, **kwargs) -> None:
    from django_q.conf import Conf

    if Conf.SYNC:
        # Sync mode (tests) runs each task inline in the caller's process: no worker starts.
        return
    if Conf.CLUSTER_NAME == settings.CALLBACK_CLUSTER:
        # Callbacks only wait on the network: no model, and no heartbeat, so that they never
        # count as inference workers (readiness, the overview, dead-job recovery).
        return
    from ops.workers import heartbeat_start

    from .services import recover_orphaned_jobs, usage_records_settle_pending

    try:
        engine.preload()
    except Exception:
        # A broken model must not stop the worker: jobs for it fail with a clear error instead.
        logger.exception("model preload failed in %s", proc_name)
    heartbeat_start(models=engine.loaded_models())
    try:
        recover_orphaned_jobs()
        # The worker this one replaces may have died between committing a job's end and
        # settling its usage row: settled now rather than at the minute's recovery.
        usage_records_settle_pending()
    except Exception:
        logger.exception("recovering orphaned jobs failed in %s", proc_name)
