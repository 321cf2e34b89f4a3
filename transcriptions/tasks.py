"""django-q2 entry points: thin, ids in, a service call."""

from . import services


def run_job(job_pk: int, attempt: int = 1) -> None:
    services.job_run(job_pk=job_pk, attempt=attempt)


def deliver_callback(job_pk: int, attempt: int = 1) -> None:
    from .callbacks import callback_deliver

    callback_deliver(job_pk=job_pk, attempt=attempt)


def recover_orphaned_jobs() -> dict[str, int]:
    from .recovery import recover_orphaned_jobs

    return recover_orphaned_jobs()


def purge_expired() -> dict[str, int]:
    from .retention import purge_expired

    return purge_expired()
