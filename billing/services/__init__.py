"""Billing's writes: plans and overrides, the quota, the usage log, Idempotency-Key records."""

from .counters import request_counter_add
from .idempotency import (
    idempotency_attach,
    idempotency_claim,
    idempotency_records_purge,
    idempotency_release,
    idempotency_wait_async,
    request_fingerprint,
)
from .plans import (
    MSG_AUDIO_TOO_LONG,
    MSG_AUDIO_TOO_LONG_MEASURED,
    plan_check_duration,
    plan_override_set,
    tenant_plan_set,
)
from .quota import (
    Reservation,
    quota_check,
    quota_hold,
    quota_release,
    quota_reserve,
    quota_settle,
    quota_unhold,
)
from .usage import (
    JobUsage,
    UsageOrigin,
    usage_record_create,
    usage_record_log,
    usage_record_settle,
    usage_record_update,
    usage_records_purge,
)

__all__ = [
    "MSG_AUDIO_TOO_LONG",
    "MSG_AUDIO_TOO_LONG_MEASURED",
    "JobUsage",
    "Reservation",
    "UsageOrigin",
    "idempotency_attach",
    "idempotency_claim",
    "idempotency_records_purge",
    "idempotency_release",
    "idempotency_wait_async",
    "plan_check_duration",
    "plan_override_set",
    "quota_check",
    "quota_hold",
    "quota_release",
    "quota_reserve",
    "quota_settle",
    "quota_unhold",
    "request_counter_add",
    "request_fingerprint",
    "tenant_plan_set",
    "usage_record_create",
    "usage_record_log",
    "usage_record_settle",
    "usage_record_update",
    "usage_records_purge",
]
