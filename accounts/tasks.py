"""django-q2 entry points for accounts: thin, a service call."""

from .services import idempotency_records_purge, usage_records_settle_pending


def housekeeping() -> dict[str, int]:
    """Hourly: forget Idempotency-Keys past 24 hours, settle usage rows left pending by a
    process that died between ending a job and recording its cost."""
    return {
        "idempotency_records_purged": idempotency_records_purge(),
        "usage_records_settled": usage_records_settle_pending(),
    }
