"""django-q2 entry points: thin, a job id in, a service call."""

from . import services
from .worker_registry import worker_heartbeat


def run_job(job_pk: int) -> None:
    services.job_run(job_pk=job_pk)
    from . import engine

    worker_heartbeat(models=engine.loaded_models())
