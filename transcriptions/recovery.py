"""Finding jobs whose worker died, and the periodic housekeeping schedule."""

from django_q.models import Schedule

from .models import Job
from .services import jobs_recover
from .worker_registry import dead_workers


def recover_orphaned_jobs() -> dict[str, int]:
    job_workers = set(
        Job.objects.filter(status=Job.Status.RUNNING)
        .exclude(worker="")
        .values_list("worker", flat=True)
    )
    if not job_workers:
        return {"requeued": 0, "failed": 0}
    return jobs_recover(dead_workers=dead_workers(job_workers=job_workers))


# Periodic tasks, defined in one place and installed by `manage.py setup_schedules`
# (run by `make run` and the deploy units after migrate).
SCHEDULES = {
    "recover-orphaned-jobs": ("transcriptions.tasks.recover_orphaned_jobs", Schedule.MINUTES, 1),
    "purge-expired-transcripts": ("transcriptions.tasks.purge_expired", Schedule.HOURLY, None),
    # Old idempotency keys, usage rows still pending after their job ended.
    "accounts-housekeeping": ("accounts.tasks.housekeeping", Schedule.HOURLY, None),
}


def schedules_install() -> None:
    for name, (func, schedule_type, minutes) in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": schedule_type,
                "minutes": minutes,
                "repeats": -1,
            },
        )
