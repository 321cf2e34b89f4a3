"""django-q2 entry points: thin, ids in, a service call."""

from billing.services import idempotency_records_purge, usage_records_purge
from ops.task_history import task_history_prune

from . import services


def run_chunk() -> str | None:
    """A turn: chunks by the fair policy (transcriptions.dispatch), whichever they are."""
    return services.turn_run()


def run_job(*args, **kwargs) -> str | None:
    """Tasks queued before jobs were cut into chunks name a job: each is now a turn like any."""
    return services.turn_run()


def deliver_callback(job_pk: int, attempt: int = 1) -> None:
    services.callback_deliver(job_pk=job_pk, attempt=attempt)


def recover_orphaned_jobs() -> dict[str, int]:
    """Every minute: chunks of dead workers, jobs stored but never queued, usage rows of ended
    jobs left without their cost, then queued chunks that no turn reaches."""
    counts = services.recover_orphaned_jobs()
    counts["unqueued_enqueued"] = services.jobs_unqueued_enqueue()
    counts["usage_records_settled"] = services.usage_records_settle_pending()
    counts["turns_resupplied"] = services.turns_resupply()
    return counts


def purge_expired() -> dict[str, int]:
    return services.purge_expired()


def housekeeping() -> dict[str, int]:
    """Hourly: forget Idempotency-Keys past 24 hours, delete usage rows past
    USAGE_RETENTION_DAYS (usage rows left pending are settled every minute, above)."""
    return {
        "idempotency_records_purged": idempotency_records_purge(),
        "usage_records_purged": usage_records_purge(),
    }


def task_history_keep() -> dict[str, int]:
    """Every minute: the task monitor's newest TASK_HISTORY_KEEP successes kept, the rest
    deleted (every task adds one: an hour's worth under load is thousands)."""
    return {"task_history_pruned": task_history_prune()}
